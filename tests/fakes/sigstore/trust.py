"""The client trust config (`ClientTrustConfig` JSON) that points the `sigstore` client at the stand-ins.

Its shape is protobuf-specs' `dev.sigstore.trustroot.v1.ClientTrustConfig` as `sigstore_models`
reads it: a trusted root (`trustedroot+json;version=0.1`: Rekor keys in `tlogs`, Fulcio's chain in
`certificateAuthorities`, the CT log key in `ctlogs`, no timestamp authority) and a signing config
(`signingconfig.v0.2+json`: one Fulcio and one Rekor v1 service, no TSA), the same layout as the
production files sigstore embeds in `sigstore/_store/https%3A%2F%2Ftuf-repo-cdn.sigstore.dev/`.
"""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.sigstore.ca import Authority, der_b64, key_id, spki
from tests.fakes.sigstore.fulcio import Fulcio
from tests.fakes.sigstore.rekor import Rekor

CONFIG_TYPE = "application/vnd.dev.sigstore.clienttrustconfig.v0.1+json"
ROOT_TYPE = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
SIGNING_TYPE = "application/vnd.dev.sigstore.signingconfig.v0.2+json"
OPERATOR = "sigstore.test"


def _when(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _log(url: str, key: ec.EllipticCurvePublicKey, start: str) -> dict[str, Any]:
    return {
        "baseUrl": url,
        "hashAlgorithm": "SHA2_256",
        "publicKey": {"rawBytes": base64.b64encode(spki(key)).decode(),
                      "keyDetails": "PKIX_ECDSA_P256_SHA_256", "validFor": {"start": start}},
        "logId": {"keyId": base64.b64encode(key_id(key)).decode()},
    }


def trusted_root(authority: Authority, rekor: Rekor) -> dict[str, Any]:
    start = _when(authority.started)
    return {
        "mediaType": ROOT_TYPE,
        "tlogs": [_log(rekor.url, rekor.key.public_key(), start)],
        "certificateAuthorities": [{
            "subject": {"organization": OPERATOR, "commonName": "sigstore"},
            "uri": "https://fulcio.sigstore.test",
            "certChain": {"certificates": [{"rawBytes": der_b64(c)} for c in authority.chain]},
            "validFor": {"start": start},
        }],
        "ctlogs": [_log("https://ctfe.sigstore.test", authority.ct.key.public_key(), start)],
        "timestampAuthorities": [],
    }


def client_trust_config(fulcio: Fulcio, rekor: Rekor) -> dict[str, Any]:
    start = _when(fulcio.authority.started)

    def service(url: str) -> dict[str, Any]:
        return {"url": url, "majorApiVersion": 1, "validFor": {"start": start},
                "operator": OPERATOR}

    return {
        "mediaType": CONFIG_TYPE,
        "trustedRoot": trusted_root(fulcio.authority, rekor),
        "signingConfig": {
            "mediaType": SIGNING_TYPE,
            "caUrls": [service(fulcio.url)],
            "oidcUrls": [],
            "rekorTlogUrls": [service(rekor.url)],
            "tsaUrls": [],
            "rekorTlogConfig": {"selector": "ANY"},
            "tsaConfig": {"selector": "ANY"},
        },
    }


def write_trust_config(path: Path, fulcio: Fulcio, rekor: Rekor) -> Path:
    path.write_text(json.dumps(client_trust_config(fulcio, rekor), indent=2), encoding="utf-8")
    return path

"""A Rekor-like transparency log on loopback: Rekor's v1 API for `dsse` and `hashedrekord` entries.

`POST /api/v1/log/entries` takes the proposed entry `sigstore/_internal/rekor/client.py` builds
(`_build_dsse_request`, `_build_hashed_rekord_request`), checks its signature as Rekor does
(sigstore/rekor `pkg/types/dsse/v0.0.1/entry.go`, `Unmarshal` / `verifyEnvelope`), appends the
canonical body (`Canonicalize`, then JCS) to an RFC 6962 tree, and answers 201 with
`{<treeID><leaf hash>: {body, integratedTime, logID, logIndex, verification: {inclusionProof:
{logIndex, rootHash, treeSize, hashes, checkpoint}, signedEntryTimestamp}}}`, as
`pkg/api/entries.go` (`createLogEntry`) does. The signed entry timestamp signs the JCS form of
{body, integratedTime, logID, logIndex} (`signEntry`); the checkpoint is a signed note
(`pkg/util/checkpoint.go` `CreateAndSignCheckpoint`, `pkg/util/signed_note.go`). The client
verifies these in `sigstore/models.py` (`TransparencyLogEntry._verify`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

import rfc8785
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

from tests.fakes.sigstore import merkle
from tests.fakes.sigstore.ca import key_id
from tests.fakes.sigstore.faults import Faults
from tests.support.loopback_http import LoopbackHttp, read_body, send, send_json

ENTRIES = "/api/v1/log/entries"
LOG = "/api/v1/log"
HOSTNAME = "rekor.sigstore.test"


class Refused(Exception):
    """A proposed entry Rekor would answer 400 for."""


def _pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding, which the envelope's signature covers."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def _certificate(b64_pem: str) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(base64.b64decode(b64_pem))
    except ValueError as error:
        raise Refused("could not parse verifier") from error


def _ec_key(certificate: x509.Certificate) -> ec.EllipticCurvePublicKey:
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise Refused("unsupported verifier key type")
    return key


def _canonical_pem(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.PEM)).decode()


def dsse_body(spec: dict[str, Any]) -> dict[str, Any]:
    content = spec["proposedContent"]
    raw_envelope = str(content["envelope"])
    envelope = json.loads(raw_envelope)
    payload = base64.b64decode(envelope["payload"])
    pae = _pae(str(envelope["payloadType"]), payload)
    keys = [_certificate(v) for v in content.get("verifiers") or []]
    if not keys or not envelope.get("signatures"):
        raise Refused("DSSE envelope must contain 1 or more signatures")
    signatures = []
    for signature in envelope["signatures"]:
        for certificate in keys:
            try:
                _ec_key(certificate).verify(base64.b64decode(signature["sig"]), pae,
                                            ec.ECDSA(hashes.SHA256()))
            except InvalidSignature:
                continue
            signatures.append({"signature": signature["sig"],
                               "verifier": _canonical_pem(certificate)})
            break
        else:
            raise Refused("could not verify envelope signature")
    return {"apiVersion": "0.0.1", "kind": "dsse", "spec": {
        "envelopeHash": {"algorithm": "sha256",
                         "value": hashlib.sha256(raw_envelope.encode()).hexdigest()},
        "payloadHash": {"algorithm": "sha256", "value": hashlib.sha256(payload).hexdigest()},
        "signatures": sorted(signatures, key=lambda s: s["signature"]),
    }}


def hashedrekord_body(spec: dict[str, Any]) -> dict[str, Any]:
    certificate = _certificate(spec["signature"]["publicKey"]["content"])
    digest = bytes.fromhex(spec["data"]["hash"]["value"])
    signature = base64.b64decode(spec["signature"]["content"])
    try:
        _ec_key(certificate).verify(signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature as error:
        raise Refused("signature could not be verified") from error
    return {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
        "data": {"hash": {"algorithm": "sha256", "value": digest.hex()}},
        "signature": {"content": spec["signature"]["content"],
                      "publicKey": {"content": _canonical_pem(certificate)}},
    }}


@dataclass
class Rekor:
    """One shard; `entries` holds each appended canonical body."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(
        ec.SECP256R1()))
    faults: Faults = field(default_factory=Faults)
    tree_id: int = field(default_factory=lambda: secrets.randbelow(1 << 62))
    entries: list[bytes] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = LoopbackHttp(get=self._get, post=self._post)
        self._lock = threading.Lock()
        self._leaves: list[bytes] = []
        self._times: list[int] = []

    @property
    def url(self) -> str:
        return self.http.root

    @property
    def log_id(self) -> bytes:
        return key_id(self.key.public_key())

    def _sign(self, data: bytes) -> bytes:
        return self.key.sign(data, ec.ECDSA(hashes.SHA256()))

    def checkpoint(self, size: int, root: bytes) -> str:
        note = f"{HOSTNAME} - {self.tree_id}\n{size}\n{base64.b64encode(root).decode()}\n"
        signature = base64.b64encode(self.log_id[:4] + self._sign(note.encode())).decode()
        return f"{note}\n\u2014 {HOSTNAME} {signature}\n"

    def _entry(self, index: int) -> dict[str, Any]:
        """Entry `index` with a proof against the tree as it is now (call under the lock)."""
        body = base64.b64encode(self.entries[index]).decode()
        anonymous: dict[str, Any] = {"body": body, "integratedTime": self._times[index],
                                     "logID": self.log_id.hex(), "logIndex": index}
        size, root = len(self._leaves), merkle.root(self._leaves)
        anonymous["verification"] = {
            "inclusionProof": {
                "logIndex": index, "rootHash": root.hex(), "treeSize": size,
                "hashes": [h.hex() for h in merkle.audit_path(index, self._leaves)],
                "checkpoint": self.checkpoint(size, root),
            },
            "signedEntryTimestamp": base64.b64encode(
                self._sign(rfc8785.dumps({k: anonymous[k] for k in (
                    "body", "integratedTime", "logID", "logIndex")}))).decode(),
        }
        return {f"{self.tree_id:016x}{self._leaves[index].hex()}": anonymous}

    def append(self, proposed: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        kind, version = proposed.get("kind"), proposed.get("apiVersion")
        if (kind, version) == ("dsse", "0.0.1"):
            body = dsse_body(proposed["spec"])
        elif (kind, version) == ("hashedrekord", "0.0.1"):
            body = hashedrekord_body(proposed["spec"])
        else:
            raise Refused(f"unsupported entry kind {kind} {version}")
        canonical = rfc8785.dumps(body)
        with self._lock:
            leaf = merkle.leaf_hash(canonical)
            if leaf in self._leaves:
                return 409, self._entry(self._leaves.index(leaf))
            self.entries.append(canonical)
            self._leaves.append(leaf)
            self._times.append(int(time.time()))
            return 201, self._entry(len(self.entries) - 1)

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        raw = read_body(handler)  # before any answer, so a kept-alive connection stays in step
        if self.faults.intercept(handler):
            return
        if urlsplit(handler.path).path != ENTRIES:
            send_json(handler, 404, {"code": 404, "message": "path not found"})
            return
        try:
            status, entry = self.append(json.loads(raw))
        except (Refused, ValueError, KeyError, TypeError) as error:
            send_json(handler, 400, {"code": 400, "message": f"error processing entry: {error}"})
            return
        if status == 409:
            send_json(handler, 409, {"code": 409, "message": "an equivalent entry already exists "
                                                             "in the transparency log"})
            return
        send(handler, 201, json.dumps(entry).encode(), "application/json",
             headers={"Location": f"{ENTRIES}/{next(iter(entry))}", "ETag": next(iter(entry))})

    def _get(self, handler: BaseHTTPRequestHandler) -> None:
        if self.faults.intercept(handler):
            return
        url = urlsplit(handler.path)
        with self._lock:
            size, root = len(self._leaves), merkle.root(self._leaves)
            if url.path == LOG:
                send_json(handler, 200, {"rootHash": root.hex(), "treeSize": size,
                                         "signedTreeHead": self.checkpoint(size, root),
                                         "treeID": str(self.tree_id)})
                return
            wanted = parse_qs(url.query).get("logIndex", [""])[0]
            if url.path == ENTRIES and wanted.isdigit() and int(wanted) < size:
                send_json(handler, 200, self._entry(int(wanted)))
                return
        send_json(handler, 404, {"code": 404, "message": "entry not found"})

    def __enter__(self) -> Rekor:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()

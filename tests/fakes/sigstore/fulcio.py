"""A Fulcio-like CA on loopback: `POST /api/v2/signingCert` for a GitHub Actions ID token.

The request is the one `sigstore/_internal/fulcio/client.py` (`FulcioSigningCert.post`) sends:
`Authorization: Bearer <JWT>` and `{"certificateSigningRequest": base64(PEM CSR)}`. As Fulcio
does (`pkg/server/grpc_server.go`, `CreateSigningCertificate`), the token must be signed by a
known issuer's key with audience `sigstore` and be unexpired (else 401 with
`pkg/server/error.go`'s `invalidIdentityToken` text), and the CSR must carry a valid proof of
possession (else 400 `invalidSignature`). The answer is
`{"signedCertificateEmbeddedSct": {"chain": {"certificates": [leaf, intermediate, root]}}}`.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.fakes.sigstore.ca import Authority, pem
from tests.fakes.sigstore.faults import Faults
from tests.support.loopback_http import LoopbackHttp, read_body, send_json

SIGNING_CERT = "/api/v2/signingCert"
AUDIENCE = "sigstore"
INVALID_IDENTITY_TOKEN = "There was an error processing the identity token"
INVALID_SIGNATURE = "The signature supplied in the request could not be verified"
INVALID_CSR = "The certificate signing request could not be parsed"
LIFETIME = 600.0  # Fulcio's `MakeX509`: ten minutes


@dataclass
class Fulcio:
    """Issues leaves from `authority` for tokens of the issuers in `issuer_keys`."""

    issuer_keys: Mapping[str, rsa.RSAPublicKey]
    authority: Authority = field(default_factory=Authority)
    lifetime: float = LIFETIME
    faults: Faults = field(default_factory=Faults)
    subjects: list[str] = field(default_factory=list)  # the `sub` of every certificate issued
    certificates: list[x509.Certificate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.http = LoopbackHttp(post=self._answer)
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return self.http.root

    @property
    def issued(self) -> int:
        return len(self.certificates)

    def _error(self, handler: BaseHTTPRequestHandler, status: int, grpc_code: int,
               message: str) -> None:
        # grpc-gateway's error shape, which `FulcioSigningCert.post` reads `message` from.
        send_json(handler, status, {"code": grpc_code, "message": message, "details": []})

    def _claims(self, handler: BaseHTTPRequestHandler) -> dict[str, Any] | None:
        scheme, _, token = handler.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
            key = self.issuer_keys.get(str(issuer))
            if key is None:
                return None
            claims: dict[str, Any] = jwt.decode(token, key, algorithms=["RS256"],
                                                audience=AUDIENCE, issuer=str(issuer))
        except jwt.PyJWTError:
            return None
        return claims

    def _answer(self, handler: BaseHTTPRequestHandler) -> None:
        body = read_body(handler)  # before any answer, so a kept-alive connection stays in step
        if self.faults.intercept(handler):
            return
        if handler.path != SIGNING_CERT:
            send_json(handler, 404, {"code": 5, "message": "Not Found"})
            return
        claims = self._claims(handler)
        if claims is None:
            self._error(handler, 401, 16, INVALID_IDENTITY_TOKEN)
            return
        try:
            request = json.loads(body)
            csr = x509.load_pem_x509_csr(base64.b64decode(request["certificateSigningRequest"]))
        except (ValueError, KeyError, TypeError):
            self._error(handler, 400, 3, INVALID_CSR)
            return
        public_key = csr.public_key()
        if not csr.is_signature_valid or not isinstance(public_key, ec.EllipticCurvePublicKey):
            self._error(handler, 400, 3, INVALID_SIGNATURE)
            return
        with self._lock:
            leaf = self.authority.issue(claims, public_key, self.lifetime)
            self.certificates.append(leaf)
            self.subjects.append(str(claims.get("sub")))
        chain = [pem(leaf), *(pem(cert) for cert in self.authority.chain)]
        send_json(handler, 201, {"signedCertificateEmbeddedSct": {"chain": {
            "certificates": chain}}})

    def __enter__(self) -> Fulcio:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()

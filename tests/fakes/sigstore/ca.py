"""Fulcio's certificate authority: a root, an intermediate, a CT log key, short-lived leaves.

A leaf carries what Fulcio puts in a certificate for a GitHub Actions ID token
(sigstore/fulcio `pkg/identity/github/principal.go`, `Embed`; the OIDs and their encodings in
`pkg/certificate/extensions.go`, `Render`: 1.1-1.6 raw bytes, 1.8 onwards DER UTF8String) and
the template of `pkg/ca/common.go` (`MakeX509`: code signing, digital signature, 10 minutes).
The SCT is embedded the way Fulcio's CT log answers a precertificate (RFC 6962 3.2), so the
client's `sigstore/_internal/sct.py` `verify_sct` accepts it. Keys are made at run time.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID

GITHUB = "https://github.com/"
_FULCIO = "1.3.6.1.4.1.57264.1."


def key_id(key: ec.EllipticCurvePublicKey) -> bytes:
    """RFC 6962's log / key ID: SHA-256 of the DER SubjectPublicKeyInfo."""
    return hashlib.sha256(spki(key)).digest()


def spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def _utf8(value: str) -> bytes:
    """DER UTF8String, as Fulcio's `asn1.MarshalWithParams(value, "utf8")`."""
    raw = value.encode()
    if len(raw) < 0x80:
        return bytes([0x0C, len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x0C, 0x80 | len(length)]) + length + raw


def _octet_string(raw: bytes) -> bytes:
    if len(raw) < 0x80:
        return bytes([0x04, len(raw)]) + raw
    length = len(raw).to_bytes((len(raw).bit_length() + 7) // 8, "big")
    return bytes([0x04, 0x80 | len(length)]) + length + raw


def github_extensions(claims: Mapping[str, object]) -> list[tuple[str, bytes]]:
    """(OID suffix, extension value) for a GitHub Actions token, in Fulcio's order."""
    def claim(name: str) -> str:
        return str(claims.get(name, ""))

    legacy = [("1", claim("iss")), ("2", claim("event_name")), ("3", claim("sha")),
              ("4", claim("workflow")), ("5", claim("repository")), ("6", claim("ref"))]
    current = [
        ("8", claim("iss")),
        ("9", GITHUB + claim("job_workflow_ref")),
        ("10", claim("job_workflow_sha")),
        ("11", claim("runner_environment")),
        ("12", GITHUB + claim("repository")),
        ("13", claim("sha")),
        ("14", claim("ref")),
        ("15", claim("repository_id")),
        ("16", GITHUB + claim("repository_owner")),
        ("17", claim("repository_owner_id")),
        ("18", GITHUB + claim("workflow_ref")),
        ("19", claim("workflow_sha")),
        ("20", claim("event_name")),
        ("21", f"{GITHUB}{claim('repository')}/actions/runs/{claim('run_id')}/attempts/"
               f"{claim('run_attempt')}"),
        ("22", claim("repository_visibility")),
        ("24", claim("sub")),
    ]
    return ([(oid, value.encode()) for oid, value in legacy if value]
            + [(oid, _utf8(value)) for oid, value in current])


@dataclass
class CtLog:
    """The CT log Fulcio submits precertificates to; only its key and its SCTs are needed."""

    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(
        ec.SECP256R1()))

    @property
    def log_id(self) -> bytes:
        return key_id(self.key.public_key())

    def sct_extension(self, tbs: bytes, issuer: ec.EllipticCurvePublicKey) -> x509.Extension[
            x509.UnrecognizedExtension]:
        """The SCT list extension for a precertificate whose TBSCertificate is `tbs`."""
        timestamp = int(time.time() * 1000)
        signed = struct.pack("!BBQH", 0, 0, timestamp, 1) + key_id(issuer) \
            + len(tbs).to_bytes(3, "big") + tbs + struct.pack("!H", 0)
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        sct = (struct.pack("!B", 0) + self.log_id + struct.pack("!QH", timestamp, 0)
               + struct.pack("!BBH", 4, 3, len(signature)) + signature)
        listed = struct.pack("!H", len(sct)) + sct
        value = _octet_string(struct.pack("!H", len(listed)) + listed)
        oid = ExtensionOID.PRECERT_SIGNED_CERTIFICATE_TIMESTAMPS
        return x509.Extension(oid, False, x509.UnrecognizedExtension(oid, value))


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sigstore.test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass
class Authority:
    """A root and an intermediate, as Fulcio's production chain has."""

    ct: CtLog = field(default_factory=CtLog)
    issued: int = 0

    def __post_init__(self) -> None:
        now = datetime.datetime.now(datetime.timezone.utc)
        self.started = now - datetime.timedelta(minutes=1)
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = self._ca(_name("sigstore"), self.root_key, self.root_key, 1, None)
        self.intermediate_key = ec.generate_private_key(ec.SECP256R1())
        self.intermediate = self._ca(_name("sigstore-intermediate"), self.intermediate_key,
                                     self.root_key, 0, self.root)

    def _ca(self, name: x509.Name, key: ec.EllipticCurvePrivateKey,
            signer: ec.EllipticCurvePrivateKey, path_length: int,
            parent: x509.Certificate | None) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder().subject_name(name)
            .issuer_name(parent.subject if parent else name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(self.started)
            .not_valid_after(self.started + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
        )
        if parent is not None:
            builder = (
                builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                                      critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    signer.public_key()), critical=False)
            )
        return builder.sign(signer, hashes.SHA256())

    @property
    def chain(self) -> list[x509.Certificate]:
        """Leaf-side first, as the trusted root and Fulcio's answer list them."""
        return [self.intermediate, self.root]

    def issue(self, claims: Mapping[str, object], public_key: ec.EllipticCurvePublicKey,
              lifetime: float) -> x509.Certificate:
        """A code-signing certificate for the token's identity, valid `lifetime` seconds."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        issuer = self.intermediate_key.public_key()
        builder = (
            x509.CertificateBuilder().subject_name(x509.Name([]))
            .issuer_name(self.intermediate.subject).public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(seconds=lifetime))
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False,
                                         False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer),
                           critical=False)
            # An empty subject makes the SAN critical (RFC 5280 4.2.1.6), as in Fulcio's leaves.
            .add_extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(
                GITHUB + str(claims.get("job_workflow_ref", "")))]), critical=True)
        )
        for suffix, value in github_extensions(claims):
            oid = x509.ObjectIdentifier(_FULCIO + suffix)
            builder = builder.add_extension(x509.UnrecognizedExtension(oid, value), critical=False)
        # The precertificate is the leaf without the SCT list; the CT log signs its TBS, and the
        # final certificate differs only by that one extension, added last.
        precertificate = builder.sign(self.intermediate_key, hashes.SHA256())
        sct = self.ct.sct_extension(precertificate.tbs_certificate_bytes, issuer)
        leaf = builder.add_extension(sct.value, critical=False).sign(self.intermediate_key,
                                                                     hashes.SHA256())
        self.issued += 1
        return leaf


def pem(certificate: x509.Certificate) -> str:
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def der_b64(certificate: x509.Certificate) -> str:
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()

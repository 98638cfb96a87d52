"""PEP 740 publish attestations: each file signed with Sigstore and verified as PyPI will verify it.

Signing uses `sigstore` and `pypi-attestations`, imported only when a release is attested. Every
file is signed and verified before the caller uploads anything. Nothing is written next to the
distributions: attestations stay in memory, ready for the upload form's `attestations` field.
A `<file>.publish.attestation` made elsewhere is used for its file after the same verification.
The signing identity (ID token and certificate) is renewed before the certificate runs out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .distribution import ATTESTATION_SUFFIX
from .errors import AttestationError
from .gha import Console
from .retry import RetryPolicy
from .sigstore_instance import FULCIO, REKOR, TRUST_CONFIG_ENV, Instance, call

if TYPE_CHECKING:
    from pypi_attestations import Attestation
    from sigstore.sign import Signer, SigningContext

__all__ = ["TRUST_CONFIG_ENV", "AttestationError", "Identity", "Signed", "attest_all",
           "given_attestation", "sign_all", "verify_given"]

AUDIENCE = "sigstore"  # the ID token Fulcio accepts
KNOWN_PREDICATES = ("https://docs.pypi.org/attestations/publish/v1", "https://slsa.dev/provenance/v1")
IN_TOTO = "application/vnd.in-toto+json"
RENEW_MARGIN = 120.0  # seconds of validity a certificate must have left to sign with
_WORKFLOW_FILE = re.compile(r"[^/]+\.(?:yml|yaml)(?=@)")


@dataclass(frozen=True)
class Identity:
    """The Trusted Publisher PyPI verifies an attestation against: Warehouse's
    `attestation_identity` of a GitHub publisher (repository, workflow file, environment)."""

    repository: str
    workflow: str
    environment: str | None = None

    @classmethod
    def from_claims(cls, claims: Mapping[str, object]) -> Identity:
        # Warehouse finds the publisher by the workflow file in `job_workflow_ref`.
        environment = claims.get("environment")
        return cls(str(claims.get("repository", "")),
                   _workflow_file(claims.get("job_workflow_ref")) or "",
                   str(environment) if environment else None)


@dataclass(frozen=True)
class Signed:
    """One file's attestation, as the upload form and the report want it."""

    filename: str
    attestation: dict[str, Any]  # the PEP 740 attestation object
    predicate_type: str
    log_index: int
    log_url: str
    source: Literal["signed", "given"] = "signed"

    @property
    def form_value(self) -> str:
        """The `attestations` form field: a JSON array (Warehouse allows one per predicate type)."""
        return json.dumps([self.attestation], separators=(",", ":"))


def _workflow_file(ref: object) -> str | None:
    found = _WORKFLOW_FILE.search(str(ref or ""))
    return found.group(0) if found else None


def claims_of(token: str) -> dict[str, object]:
    """A JWT's payload, unverified: Fulcio verifies the token; this only names the identity."""
    try:
        payload = token.split(".")[1]
        decoded = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        return {}
    return decoded if isinstance(decoded, dict) else {}


def given_attestation(path: Path) -> Path | None:
    """`<file>.publish.attestation` beside `path`, when there is one."""
    candidate = path.with_name(path.name + ATTESTATION_SUFFIX)
    return candidate if candidate.is_file() else None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- verification: the checks Warehouse makes on upload -------------------------------------------------


def _parsed_name(filename: str) -> object:
    """A distribution file name as pypi-attestations compares names (parsed, not normalized)."""
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)
        return parse_sdist_filename(filename)
    except ValueError:
        return None


def _refused(path: Path, source: str, why: str, hint: str) -> AttestationError:
    return AttestationError(f"The attestation {source} for `{path.name}` was refused: {why}; "
                            "no file was uploaded.", hint)


def verified(attestation: Attestation, path: Path, identity: Identity | None,
             instance: Instance, source: Literal["signed", "given"]) -> Signed:
    """`attestation` checked as Warehouse checks one (signature, certificate chain, log entry,
    publisher identity, then the statement's one subject against the file's name and SHA-256)."""
    from pypi_attestations import ConversionError, GitHubPublisher
    from sigstore.errors import Error
    from sigstore.verify import Verifier
    from sigstore.verify.policy import UnsafeNoOp, VerificationPolicy

    where = "made here" if source == "signed" else f"in `{path.name}{ATTESTATION_SUFFIX}`"
    hint = (f"Delete `{path.name}{ATTESTATION_SUFFIX}` to have the file signed here, or make it "
            "again for this file." if source == "given" else
            "Re-run the job; if it persists, set `attestations: false` and report it.")
    policy: VerificationPolicy = UnsafeNoOp()
    if identity is not None:
        # Warehouse verifies with this very policy (`attestation_identity`, then `_as_policy`).
        policy = GitHubPublisher(repository=identity.repository, workflow=identity.workflow,
                                 environment=identity.environment)._as_policy()
    try:
        kind, payload = Verifier(trusted_root=instance.config.trusted_root).verify_dsse(
            attestation.to_bundle(), policy)
        statement = json.loads(payload)
    except (Error, ConversionError, ValueError) as error:
        raise _refused(path, where, f"it does not verify ({error})", hint) from None
    subjects = statement.get("subject") if isinstance(statement, dict) else None
    if kind != IN_TOTO or not isinstance(subjects, list) or len(subjects) != 1:
        raise _refused(path, where, "it is not an in-toto statement about one file", hint)
    name = str(subjects[0].get("name", ""))
    digest = str((subjects[0].get("digest") or {}).get("sha256", ""))
    predicate = str(statement.get("predicateType", ""))
    actual = _sha256(path)
    if _parsed_name(name) is None or _parsed_name(name) != _parsed_name(path.name):
        raise _refused(path, where, f"it is about `{name}`", hint)
    if digest != actual:
        raise _refused(path, where, f"it is for a file with SHA-256 `{digest}`, and "
                                    f"`{path.name}` has `{actual}`", hint)
    if predicate not in KNOWN_PREDICATES:
        raise _refused(path, where, f"PyPI does not accept its predicate type `{predicate}`", hint)
    index = int(attestation.verification_material.transparency_entries[0]["logIndex"])
    return Signed(path.name, attestation.model_dump(mode="json"), predicate, index,
                  instance.log_url(index), source)


def _given(path: Path, attestation_file: Path, identity: Identity | None,
           instance: Instance) -> Signed:
    from pydantic import ValidationError
    from pypi_attestations import Attestation

    try:
        attestation = Attestation.model_validate_json(attestation_file.read_bytes())
    except (OSError, ValidationError) as error:
        first = str(error).splitlines()[0]
        raise AttestationError(f"`{attestation_file.name}` is not a PEP 740 attestation: {first}; "
                               "no file was uploaded.",
                               f"Delete `{attestation_file.name}` to have `{path.name}` signed "
                               "here, or replace it with the attestation made for it.") from None
    return verified(attestation, path, identity, instance, "given")


def verify_given(path: Path, attestation_file: Path, expected_identity: Identity | None,
                 trust_config: Path | None, policy: RetryPolicy | None = None,
                 console: Console | None = None) -> Signed:
    """A bring-your-own attestation for `path`, verified against the file's digest (and the
    publisher's identity, when known) as PyPI will; `AttestationError` when it does not hold."""
    policy, console = policy or RetryPolicy(), console or Console()
    return _given(path, attestation_file, expected_identity,
                  Instance.load(trust_config, policy, console))


# -- signing --------------------------------------------------------------------------------------------


class _Expired(Exception):
    """The signing certificate ran out between our check and its use: renew and sign again."""


class _SigningIdentity:
    """A Fulcio certificate for a fresh ID token, renewed before it runs out."""

    def __init__(self, token: Callable[[], str], context: SigningContext, instance: Instance,
                 policy: RetryPolicy, console: Console) -> None:
        self._token, self._context, self._instance = token, context, instance
        self._policy, self._console = policy, console
        self._signer: Signer | None = None
        self._valid: tuple[float, float] | None = None  # (not before, not after), epoch seconds
        self.expected: Identity | None = None
        self.certificates = 0

    def _renew(self) -> Signer:
        from sigstore.oidc import IdentityError, IdentityToken
        from sigstore.sign import Signer

        raw = self._token()
        self._console.add_secret(raw)
        claims = claims_of(raw)
        self.expected = Identity.from_claims(claims)
        caller = _workflow_file(claims.get("workflow_ref"))
        if caller != self.expected.workflow:
            raise AttestationError(
                f"PyPI would refuse these attestations: it checks them against the Trusted "
                f"Publisher's workflow `{self.expected.workflow}` (the reusable workflow this job "
                f"runs), while the signing certificate names the calling workflow `{caller}`.",
                "Publish from the top-level workflow, or set `attestations: false`.")
        try:
            identity = IdentityToken(raw, client_id=AUDIENCE)
        except IdentityError as error:
            raise AttestationError(f"The ID token for audience `{AUDIENCE}` cannot be used to sign: "
                                   f"{error}.", "Re-run the job.") from None
        self._signer = call(lambda: Signer(identity, self._context, cache=True), FULCIO,
                            self._instance.fulcio_url, self._policy, self._console)
        self._valid = None
        self.certificates += 1
        return self._signer

    def signer(self) -> Signer:
        if self._signer is None:
            return self._renew()
        if self._valid is not None:
            not_before, not_after = self._valid
            margin = min(RENEW_MARGIN, (not_after - not_before) / 4)
            if time.time() >= not_after - margin:
                self._console.info("The signing certificate is about to expire; renewing it.")
                return self._renew()
        return self._signer

    @staticmethod
    def _sign_once(signer: Signer, path: Path) -> Attestation:
        from pypi_attestations import Attestation, Distribution
        from pypi_attestations import AttestationError as LibraryError
        from sigstore._internal.fulcio import ExpiredCertificate
        from sigstore.oidc import ExpiredIdentity

        try:
            return Attestation.sign(signer, Distribution.from_file(path))
        except LibraryError as error:
            # pypi-attestations turns these into its own error, raised inside `except`.
            if isinstance(error.__context__, (ExpiredCertificate, ExpiredIdentity)):
                raise _Expired from None
            raise

    def sign(self, path: Path) -> Attestation:
        from cryptography import x509

        for fresh in (False, True):
            signer = self._renew() if fresh else self.signer()
            try:
                attestation = call(partial(self._sign_once, signer, path), REKOR,
                                   self._instance.rekor_url, self._policy, self._console)
            except _Expired:
                continue
            leaf = x509.load_der_x509_certificate(attestation.verification_material.certificate)
            self._valid = (leaf.not_valid_before_utc.timestamp(), leaf.not_valid_after_utc.timestamp())
            integrated = int(attestation.verification_material.transparency_entries[0].get(
                "integratedTime", 0))
            if integrated <= self._valid[1]:
                return attestation
            # Logged after the certificate ran out (a slow log): PyPI would refuse it.
        raise AttestationError(f"Signing `{path.name}` outlasted two fresh signing certificates.",
                               "Re-run the job; if it persists, set `attestations: false`.")


def sign_all(paths: Iterable[Path], identity: Callable[[], str], trust_config: Path | None,
             policy: RetryPolicy, console: Console) -> dict[str, Signed]:
    """Sign and verify every file; `identity` gives a fresh GitHub ID token for audience
    `sigstore` each time it is called. Raises `AttestationError` before anything is uploaded."""
    return attest_all([(path, None) for path in paths], identity, trust_config, policy, console)


def attest_all(files: Iterable[tuple[Path, Path | None]], identity: Callable[[], str],
               trust_config: Path | None, policy: RetryPolicy,
               console: Console) -> dict[str, Signed]:
    """Every file's attestation: its `given` attestation file verified when it has one,
    otherwise a new signature; keyed by file name, in order."""
    files = list(files)
    if not files:
        return {}
    started = time.monotonic()
    instance = Instance.load(trust_config, policy, console)
    signing = _SigningIdentity(identity, instance.signing_context(policy), instance, policy,
                               console)
    expected: Identity | None = None
    results: dict[str, Signed] = {}
    for path, given in files:
        if given is not None:
            expected = expected or signing.expected or Identity.from_claims(claims_of(_masked(
                identity, console)))
            results[path.name] = _given(path, given, expected, instance)
            continue
        attestation = signing.sign(path)
        results[path.name] = verified(attestation, path, signing.expected, instance, "signed")
        expected = signing.expected
    made = sum(1 for signed in results.values() if signed.source == "signed")
    console.info(f"Attestations: {made} signed ({signing.certificates} signing certificate(s)), "
                 f"{len(results) - made} given, all verified in {time.monotonic() - started:.1f} s.")
    return results


def _masked(identity: Callable[[], str], console: Console) -> str:
    token = identity()
    console.add_secret(token)
    return token

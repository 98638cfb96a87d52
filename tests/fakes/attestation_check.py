"""Warehouse's check of an upload's `attestations` field, against a stand-in Sigstore trusted root.

The order and the words are Warehouse's (pypi/warehouse):
- `warehouse/forklift/legacy.py` (`file_upload`): when the form has `attestations`, the
  integrity service parses them for `Distribution(name=filename, digest=sha256)`; an
  `AttestationUploadError` becomes `400 Invalid attestations supplied during upload: {e}`
  (`_exc_with_message`, which puts the text in the status line too).
- `warehouse/attestations/services.py`: `_extract_attestations_from_request` (Trusted
  Publishing only; `TypeAdapter(list[Attestation]).validate_json`; not empty; at most
  `len(SUPPORTED_ATTESTATION_TYPES)` = 2) and `IntegrityService.parse_attestations` (each
  `attestation.verify(request.oidc_publisher.attestation_identity, distribution)`, then a known
  predicate type, at most one per type).

The one difference: Warehouse's `Attestation.verify` refreshes Sigstore's production trusted root
over TUF. Here the very same call runs with `offline=True`, which makes sigstore read the trusted
root from its TUF cache (`sigstore/_internal/tuf.py` `TrustUpdater`, under
`platformdirs.user_cache_dir`), and that cache is a directory holding the stand-ins' root.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from pydantic import TypeAdapter, ValidationError
from pypi_attestations import (
    Attestation,
    AttestationType,
    Distribution,
    GitHubPublisher,
    VerificationError,
)
from sigstore._internal.tuf import DEFAULT_TUF_URL

PREFIX = "Invalid attestations supplied during upload: "
SUPPORTED_ATTESTATION_TYPES = {AttestationType.PYPI_PUBLISH_V1, AttestationType.SLSA_PROVENANCE_V1}
_ENVIRONMENT = threading.Lock()  # the cache is found through the process's environment


class _OfflineNotice(logging.Filter):
    """Drops sigstore's warning that the TUF cache is used offline: here that is the point."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "offline mode" not in record.getMessage()


logging.getLogger("sigstore._internal.tuf").addFilter(_OfflineNotice())


class Refused(Exception):
    """Warehouse's `AttestationUploadError`."""


@contextmanager
def _trusting(trusted_root: dict[str, Any], cache: Path) -> Iterator[None]:
    target = cache / "sigstore-python" / "tuf" / quote(DEFAULT_TUF_URL, safe="")
    with _ENVIRONMENT:  # concurrent uploads: one check at a time reads the root it wrote
        target.mkdir(parents=True, exist_ok=True)
        (target / "trusted_root.json").write_text(json.dumps(trusted_root), encoding="utf-8")
        saved = os.environ.get("XDG_CACHE_HOME")
        os.environ["XDG_CACHE_HOME"] = str(cache)
        try:
            yield
        finally:
            if saved is None:
                os.environ.pop("XDG_CACHE_HOME", None)
            else:
                os.environ["XDG_CACHE_HOME"] = saved


def _extract(field: str) -> list[Attestation]:
    try:
        attestations = TypeAdapter(list[Attestation]).validate_json(field)
    except ValidationError as error:
        raise Refused(f"Malformed attestations: {error}") from None
    if not attestations:
        raise Refused("Malformed attestations: an empty attestation set is not permitted")
    if len(attestations) > len(SUPPORTED_ATTESTATION_TYPES):
        raise Refused(f"A maximum of {len(SUPPORTED_ATTESTATION_TYPES)} attestations per file "
                      "are supported")
    return attestations


def _parse(field: str, distribution: Distribution, publisher: GitHubPublisher | None) -> None:
    if publisher is None:
        raise Refused("Attestations are only supported when using Trusted Publishing")
    seen: set[AttestationType] = set()
    for attestation in _extract(field):
        try:
            predicate_type, _ = attestation.verify(publisher, distribution, offline=True)
        except VerificationError as error:
            raise Refused("Could not verify the uploaded artifact using the included "
                          f"attestation: {error}") from None
        except Exception as error:  # Warehouse's catch-all, in its words
            raise Refused(f"Unknown error while trying to verify included attestations: {error}"
                          ) from None
        if predicate_type not in SUPPORTED_ATTESTATION_TYPES:
            raise Refused(f"Attestation with unsupported predicate type: {predicate_type}")
        kind = AttestationType(predicate_type)
        if kind in seen:
            raise Refused("Multiple attestations for the same file with the same predicate type "
                          f"({kind.value}) are not supported")
        seen.add(kind)


def check_attestations(field: str, filename: str, sha256: str,
                       publisher: GitHubPublisher | None, trusted_root: dict[str, Any],
                       cache: Path) -> str | None:
    """None when Warehouse would accept the `attestations` field of this upload; otherwise the
    text of its 400 answer. `publisher` is the Trusted Publisher the upload token was minted for
    (None: the upload used an API token); `cache` is a directory this check may write to."""
    try:
        with _trusting(trusted_root, cache):
            _parse(field, Distribution(name=filename, digest=sha256), publisher)
    except Refused as error:
        return f"{PREFIX}{error}"
    return None


# -- the fake Warehouse's side: an upload's form, and what was verified ---------------------------------


class GitHubPublisherRecord(Protocol):
    """A registered GitHub publisher of the fake Warehouse (tests/fakes/warehouse.py `Publisher`)."""

    repository: str
    workflow_file: str
    environment: str


def upload_form(body: bytes, content_type: str) -> tuple[dict[str, str], str, bytes]:
    """The text fields of a multipart/form-data upload, the file's name and its bytes."""
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, str] = {}
    filename, content = "", b""
    for part in message.iter_parts():
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        if part.get_filename():
            filename, content = str(part.get_filename()), data
        else:
            fields[str(part.get_param("name", header="content-disposition"))] = data.decode()
    return fields, filename, content


@dataclass
class AttestationCheck:
    """What the fake Warehouse verifies attestations against, and what it accepted and refused."""

    trusted_root: dict[str, Any]
    cache: Path
    accepted: list[tuple[str, int]] = field(default_factory=list)  # (file name, attestations)
    refused: list[str] = field(default_factory=list)

    def upload(self, body: bytes, content_type: str,
               publisher: GitHubPublisherRecord | None) -> str | None:
        """None when the upload may go on (no `attestations` field, or valid ones); otherwise
        the text of Warehouse's 400 answer. Warehouse hashes the file it received: so does this."""
        fields, filename, content = upload_form(body, content_type)
        if "attestations" not in fields:
            return None
        identity = None if publisher is None else GitHubPublisher(
            repository=publisher.repository, workflow=publisher.workflow_file,
            environment=publisher.environment or None)  # Warehouse's `attestation_identity`
        refusal = check_attestations(fields["attestations"], filename,
                                     hashlib.sha256(content).hexdigest(), identity,
                                     self.trusted_root, self.cache)
        if refusal is None:
            self.accepted.append((filename, len(json.loads(fields["attestations"]))))
        else:
            self.refused.append(refusal)
        return refusal

"""A distribution file: its name parsed, its size and digests; the release they make together."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal, Protocol

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .errors import DistributionError

# pypa's name for a file's attestation beside it: `<file>.publish.attestation`.
ATTESTATION_SUFFIX = ".publish.attestation"
# Formats PyPI no longer accepts: refused, not silently left out.
LEGACY_FORMATS = (".egg", ".exe", ".msi", ".tar.bz2", ".tar.xz", ".tgz", ".rpm", ".deb")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Distribution:
    path: Path
    kind: Literal["sdist", "wheel"]
    project: NormalizedName
    version: Version
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name

    @cached_property
    def blake2_256(self) -> str:
        """For the upload form only: a rerun that finds the file listed never reads it twice.

        Empty where FIPS mode disables BLAKE2, as twine leaves the field out there.
        """
        try:
            blake2 = hashlib.blake2b(digest_size=32)
        except ValueError:
            return ""
        return _hash_file(self.path, blake2)

    @cached_property
    def md5(self) -> str:
        """Only for indexes that list nothing better; hashing costs time on large files."""
        return _hash_file(self.path, hashlib.md5(usedforsecurity=False))


@dataclass(frozen=True)
class Release:
    """The files to publish, in upload order (wheels, most generic first, then the sdist)."""

    project: NormalizedName
    version: Version
    files: tuple[Distribution, ...]
    # True when this run built the files: a file that differs from the index's is then most
    # likely a rebuild, and the fix is to publish the files already built.
    built: bool = False


def digests(path: Path) -> tuple[int, str]:
    """Size and SHA-256: what every listing is compared by (BLAKE2 waits for an upload)."""
    sha256 = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            sha256.update(chunk)
    return size, sha256.hexdigest()


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...
    def hexdigest(self) -> str: ...


def _hash_file(path: Path, digest: _Digest) -> str:
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def classify(name: str) -> Literal["sdist", "wheel", "legacy", "other"]:
    if name.endswith(".whl"):
        return "wheel"
    if name.endswith((".tar.gz", ".zip")):
        return "sdist"
    if name.endswith(LEGACY_FORMATS):
        return "legacy"
    return "other"


def parse_filename(name: str) -> tuple[Literal["sdist", "wheel"], NormalizedName, Version]:
    kind = classify(name)
    try:
        if kind == "wheel":
            project, version, _, _ = parse_wheel_filename(name)
            return "wheel", project, version
        if kind == "sdist":
            project, version = parse_sdist_filename(name)
            return "sdist", project, version
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise DistributionError(
            f"`{name}` is named like a distribution but its name does not parse: {error}",
            "Remove it from the packages directory, or rebuild it with `python -m build`; "
            "renamed files are rejected by PyPI.",
        ) from None
    raise DistributionError(
        f"`{name}` is not a distribution.", "Only `.whl` and `.tar.gz` files are uploaded."
    )

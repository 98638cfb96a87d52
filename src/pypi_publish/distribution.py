"""A distribution file: its name parsed, its size and digests; the release they make together."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .errors import DistributionError

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
    blake2_256: str

    @property
    def filename(self) -> str:
        return self.path.name

    @cached_property
    def md5(self) -> str:
        """Only for indexes that list nothing better; hashing costs time on large files."""
        md5 = hashlib.md5(usedforsecurity=False)
        with self.path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                md5.update(chunk)
        return md5.hexdigest()


@dataclass(frozen=True)
class Release:
    """The files to publish, in upload order (wheels, most generic first, then the sdist)."""

    project: NormalizedName
    version: Version
    files: tuple[Distribution, ...]
    # True when this run built the files: a file that differs from the index's is then most
    # likely a rebuild, and the fix is to publish the files already built.
    built: bool = False


def digests(path: Path) -> tuple[int, str, str]:
    """Size, SHA-256 and BLAKE2b-256 (the two digests the upload form carries), in one pass."""
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            sha256.update(chunk)
            blake2.update(chunk)
    return size, sha256.hexdigest(), blake2.hexdigest()


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

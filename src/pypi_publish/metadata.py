"""Read core metadata out of a wheel or sdist with hard size limits, and validate it."""

from __future__ import annotations

import tarfile
import zipfile
from dataclasses import dataclass
from typing import IO

from packaging.metadata import Metadata, RawMetadata, parse_email
from packaging.utils import canonicalize_name

from .dists import Distribution
from .errors import PreflightError

# Real METADATA files are kilobytes; a long README makes them hundreds. Anything past this is
# a broken or hostile archive, and reading it would only spend memory.
MAX_METADATA_BYTES = 8 * 1024 * 1024
# An sdist's PKG-INFO sits near the start; stop looking after this many members.
MAX_SDIST_MEMBERS = 20_000


@dataclass(frozen=True)
class FileMetadata:
    raw: RawMetadata
    name: str
    version: str
    metadata_version: str


def _bounded_read(handle: IO[bytes], what: str, dist: Distribution) -> bytes:
    data = handle.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise PreflightError(
            f"`{dist.filename}`: {what} is larger than {MAX_METADATA_BYTES // (1024 * 1024)} MB, "
            "which no real distribution has.",
            "Rebuild the file with `python -m build`; this one is corrupt or was tampered with.",
        )
    return data


def _corrupt(dist: Distribution, why: str) -> PreflightError:
    return PreflightError(
        f"`{dist.filename}` is not a valid {'wheel' if dist.kind == 'wheel' else 'sdist'}: {why}.",
        "Rebuild it with `python -m build` and make sure the file was not truncated when it was "
        "copied or downloaded.",
    )


def _wheel_metadata(dist: Distribution) -> bytes:
    try:
        with zipfile.ZipFile(dist.path) as archive:
            candidates = [
                info for info in archive.infolist()
                if info.filename.count("/") == 1 and info.filename.endswith(".dist-info/METADATA")
            ]
            if len(candidates) != 1:
                raise _corrupt(dist, f"expected one `*.dist-info/METADATA`, found {len(candidates)}")
            info = candidates[0]
            if info.file_size > MAX_METADATA_BYTES:
                raise _corrupt(dist, f"METADATA claims {info.file_size} bytes")
            with archive.open(info) as handle:
                return _bounded_read(handle, "METADATA", dist)
    except zipfile.BadZipFile as error:
        raise _corrupt(dist, f"not a zip archive ({error})") from None
    except (OSError, EOFError, ValueError, NotImplementedError) as error:
        raise _corrupt(dist, f"unreadable archive ({error})") from None


def _sdist_metadata(dist: Distribution) -> bytes:
    if dist.filename.endswith(".zip"):
        return _zip_sdist_metadata(dist)
    try:
        with tarfile.open(dist.path, mode="r:gz") as archive:
            for count, member in enumerate(archive):
                if count >= MAX_SDIST_MEMBERS:
                    break
                parts = member.name.split("/")
                if len(parts) == 2 and parts[1] == "PKG-INFO" and member.isfile():
                    if member.size > MAX_METADATA_BYTES:
                        raise _corrupt(dist, f"PKG-INFO claims {member.size} bytes")
                    handle = archive.extractfile(member)
                    if handle is None:
                        break
                    return _bounded_read(handle, "PKG-INFO", dist)
    except (tarfile.TarError, OSError, EOFError) as error:
        raise _corrupt(dist, f"unreadable archive ({error})") from None
    raise _corrupt(dist, "no `PKG-INFO` at the top of the archive")


def _zip_sdist_metadata(dist: Distribution) -> bytes:
    try:
        with zipfile.ZipFile(dist.path) as archive:
            for info in archive.infolist():
                if info.filename.count("/") == 1 and info.filename.endswith("/PKG-INFO"):
                    if info.file_size > MAX_METADATA_BYTES:
                        raise _corrupt(dist, f"PKG-INFO claims {info.file_size} bytes")
                    with archive.open(info) as handle:
                        return _bounded_read(handle, "PKG-INFO", dist)
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as error:
        raise _corrupt(dist, f"unreadable archive ({error})") from None
    raise _corrupt(dist, "no `PKG-INFO` at the top of the archive")


def read_metadata(dist: Distribution) -> FileMetadata:
    data = _wheel_metadata(dist) if dist.kind == "wheel" else _sdist_metadata(dist)
    raw, _unparsed = parse_email(data)
    name = raw.get("name", "")
    version = raw.get("version", "")
    if not name or not version or "metadata_version" not in raw:
        missing = [f for f, v in (("Metadata-Version", raw.get("metadata_version")),
                                  ("Name", name), ("Version", version)) if not v]
        raise PreflightError(
            f"`{dist.filename}`: the metadata lacks required field(s) {', '.join(missing)}.",
            "Set them in `pyproject.toml`'s `[project]` table and build again.",
        )
    if canonicalize_name(name) != dist.project:
        raise PreflightError(
            f"`{dist.filename}`: the metadata says the project is `{name}`, the file name says "
            f"`{dist.project}`.",
            "Do not rename distribution files; rebuild them with `python -m build`.",
        )
    return FileMetadata(raw, name, version, raw["metadata_version"])


def validation_problems(meta: FileMetadata) -> list[str]:
    """What `packaging` (the reference implementation of the metadata spec) rejects."""
    try:
        Metadata.from_raw(meta.raw, validate=True)
    except Exception as group:  # packaging raises an ExceptionGroup (its own backport on 3.10)
        inner = getattr(group, "exceptions", None)
        if inner is None:
            return [str(group)]
        return [str(e) for e in inner]
    return []

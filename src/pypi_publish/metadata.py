"""Read core metadata out of a wheel or sdist with hard size limits, and validate it as twine 7 does."""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

from packaging.metadata import (
    _EMAIL_TO_RAW_MAPPING,
    _STRING_FIELDS,
    InvalidMetadata,
    Metadata,
    RawMetadata,
    parse_email,
)
from packaging.utils import canonicalize_name

from .distribution import Distribution
from .errors import PreflightError
from .form import drops_license_files
from .pypi_rules import warehouse_problems

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
    # Fields `parse_email` could not place (unknown, repeated, not UTF-8), by lower-cased name.
    unparsed: Mapping[str, list[str]] = field(default_factory=dict)


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
    raw, unparsed = parse_email(data)
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
    return FileMetadata(raw, name, version, raw["metadata_version"], unparsed)


def validation_problems(meta: FileMetadata, *, warehouse: bool = True) -> list[str]:
    """Why the upload would be refused: by twine 7, and with `warehouse` by PyPI, in their words.

    License-File below Metadata-Version 2.4 (setuptools < 77) is no problem: twine leaves it
    out of the upload, so PyPI never sees it. Warehouse's own rules (classifiers, URLs, emails,
    local versions, ...) apply to PyPI and TestPyPI only; other indexes do not have them.
    """
    raw = twine_view(meta.raw)
    problems = [unparsed_problem(key, values) for key, values in meta.unparsed.items()]
    problems += spec_problems(raw)
    if warehouse:
        problems += warehouse_problems(raw)
    return problems


def twine_view(raw: RawMetadata) -> RawMetadata:
    """The metadata twine validates and uploads: without License-File below 2.4."""
    if "license_files" not in raw or not drops_license_files(raw):
        return raw
    view = dict(raw)
    del view["license_files"]
    return view  # type: ignore[return-value]


def spec_problems(raw: RawMetadata) -> list[str]:
    """What `packaging`, the reference implementation of the core-metadata spec, refuses."""
    try:
        Metadata.from_raw(raw, validate=True)
    except Exception as group:  # packaging raises an ExceptionGroup (its own backport on 3.10)
        inner = getattr(group, "exceptions", None)
        if inner is None:
            raise
        return [_sentence(_stable(error)) for error in inner]
    return []


def _stable(error: BaseException) -> str:
    """packaging lists the allowed content types from a set; keep one order across runs."""
    text = str(error)
    if isinstance(error, InvalidMetadata) and error.field == "description-content-type":
        text = re.sub(r"\[('[^']*'(, )?)+\]",
                      lambda m: repr(sorted(re.findall(r"'([^']*)'", m.group()))), text)
    return text


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


def unparsed_problem(key: str, values: list[str]) -> str:
    """Why `parse_email` left a field aside; twine refuses such a file ("unrecognized or malformed")."""
    raw_name = _EMAIL_TO_RAW_MAPPING.get(key)
    if raw_name is None:
        return f"{key!r} is not a core metadata field; twine refuses files with unknown fields."
    if key == "description" and len(values) > 1:
        return ("'description' is given more than once (as a header and as the body, or twice); "
                "keep one.")
    if (raw_name in _STRING_FIELDS or raw_name == "keywords") and len(values) > 1:
        return f"{key!r} appears {len(values)} times; it may appear only once."
    if key == "project-url":
        labels = [value.partition(",")[0].strip() for value in values]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            return f"'project-url' has the label {repeated[0]!r} more than once; labels must differ."
    return f"{key!r} is not valid UTF-8."

"""The legacy upload form of one file: the (name, value) pairs twine 7 sends, in twine's order."""

from __future__ import annotations

import re
from typing import Literal, cast

from packaging.metadata import RawMetadata
from packaging.version import InvalidVersion, Version

# Core-metadata fields that go into the form, under their form names: an allowlist, because
# Warehouse parses the form back into metadata (warehouse/forklift/metadata.py,
# parse_form_metadata) and twine sends nothing else (twine/package.py, _RAW_TO_PACKAGE_METADATA).
# Import-Name and Import-Namespace (2.5) are absent on purpose: twine 7 does not send them, and
# Warehouse, which would accept them as `import_name`/`import_namespace`, stores nothing of them.
FORM_NAMES: dict[str, str] = {
    # 1.0
    "metadata_version": "metadata_version", "name": "name", "version": "version",
    "platforms": "platform", "summary": "summary", "description": "description",
    "keywords": "keywords", "home_page": "home_page", "author": "author",
    "author_email": "author_email", "license": "license",
    # 1.1
    "supported_platforms": "supported_platform", "download_url": "download_url",
    "classifiers": "classifiers", "requires": "requires", "provides": "provides",
    "obsoletes": "obsoletes",
    # 1.2
    "maintainer": "maintainer", "maintainer_email": "maintainer_email",
    "requires_dist": "requires_dist", "provides_dist": "provides_dist",
    "obsoletes_dist": "obsoletes_dist", "requires_python": "requires_python",
    "requires_external": "requires_external", "project_urls": "project_urls",
    # 2.1
    "description_content_type": "description_content_type", "provides_extra": "provides_extra",
    # 2.2
    "dynamic": "dynamic",
    # 2.4
    "license_expression": "license_expression", "license_files": "license_file",
}

# setuptools < 77 writes License-File under Metadata-Version 2.1-2.3, where the field does not
# exist; twine drops it below 2.4 (twine/package.py, PackageFile.from_filename) and Warehouse
# would refuse it there ("license-file introduced in metadata version 2.4, not 2.2").
LICENSE_FILES_SINCE = Version("2.4")

# The part of a wheel's name twine sends as `pyversion` (twine/wheel.py, wheel_file_re): the third
# part from the end, except that a version not starting with a digit is taken for the Python tag
# (`pkg-v1.0-py3-none-any.whl` gives `v1.0`). Warehouse stores what it is sent.
_WHEEL_NAME = re.compile(
    r"^.+?(-\d.+?)?(-\d.*?)?-(?P<pyver>.+?)-.+?-.+?\.whl$"
)

FormValue = str | list[str] | dict[str, str]


def safe_name(name: str) -> str:
    """The spelling of the project name twine sends and Warehouse stores (pkg_resources.safe_name)."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name)


def drops_license_files(raw: RawMetadata) -> bool:
    """Whether twine leaves License-File out for this Metadata-Version (below 2.4)."""
    try:
        return Version(raw.get("metadata_version", "0")) < LICENSE_FILES_SINCE
    except InvalidVersion:
        # twine fails on such a file; the check refuses it. Sending the field changes nothing:
        # Warehouse answers with the metadata version first.
        return False


def wheel_pyversion(filename: str) -> str:
    match = _WHEEL_NAME.match(filename)
    return match.group("pyver") if match else "any"


def form_fields(
    kind: Literal["sdist", "wheel"],
    filename: str,
    raw: RawMetadata,
    sha256: str,
    blake2_256: str,
    md5: str | None = None,
    attestations: str | None = None,
) -> list[tuple[str, str]]:
    """Every form field but the file, as twine 7 sends them for this file.

    The order is twine's: the metadata fields in the order of `raw` (as `parse_email` made it),
    then the file's fields and digests, then `:action` and `protocol_version`. `md5` is for an
    index that insists on it: twine 7 sends none, and Warehouse computes its own.
    `attestations` is the JSON array of the file's PEP 740 attestations.
    """
    data: dict[str, FormValue] = {}
    drop_license_files = drops_license_files(raw)
    for key, value in raw.items():
        form_name = FORM_NAMES.get(key)
        if form_name is None or (key == "license_files" and drop_license_files):
            continue
        data[form_name] = cast(FormValue, value)
    data["name"] = safe_name(raw.get("name", ""))
    data["pyversion"] = wheel_pyversion(filename) if kind == "wheel" else "source"
    data["filetype"] = "bdist_wheel" if kind == "wheel" else "sdist"
    data["sha256_digest"] = sha256
    if attestations is not None:
        data["attestations"] = attestations
    if md5:
        data["md5_digest"] = md5  # where twine <= 6.1 put it
    if blake2_256:  # empty where FIPS mode disables BLAKE2, as twine does
        data["blake2_256_digest"] = blake2_256
    return [*_as_pairs(data), (":action", "file_upload"), ("protocol_version", "1")]


def _as_pairs(data: dict[str, FormValue]) -> list[tuple[str, str]]:
    """Flatten as Warehouse's parse_form_metadata reads it back: one pair per list item."""
    pairs: list[tuple[str, str]] = []
    for name, value in data.items():
        if name == "project_urls" and isinstance(value, dict):
            pairs.extend((name, f"{label}, {url}") for label, url in value.items())
        elif name == "keywords" and isinstance(value, list):
            pairs.append((name, ", ".join(value)))
        elif isinstance(value, list):
            pairs.extend((name, item) for item in value)
        elif isinstance(value, str):
            pairs.append((name, value))
    return pairs

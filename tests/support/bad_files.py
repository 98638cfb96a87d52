"""Distribution files no build would make, and the row type of the bad-input table."""

from __future__ import annotations

import gzip
import io
import shutil
import struct
import tarfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import BuiltDists
from tests.support.archives import metadata_text, write_wheel
from tests.support.canned_index import CannedAnswer

SDIST = "sample_project-1.2.3.tar.gz"
WHEEL = "sample_project-1.2.3-py3-none-any.whl"
MB = 1024 * 1024

Setup = Callable[[Path, BuiltDists], None]


def real_dists(dist: Path, built: BuiltDists) -> None:
    for item in built().iterdir():
        shutil.copy(item, dist / item.name)


def nothing(dist: Path, built: BuiltDists) -> None:
    return None


def two_projects(dist: Path, built: BuiltDists) -> None:
    real_dists(dist, built)
    write_wheel(dist, "other-project", "1.2.3")


def two_versions(dist: Path, built: BuiltDists) -> None:
    real_dists(dist, built)
    write_wheel(dist, "sample-project", "1.2.4")


def text_named_like_sdist(dist: Path, built: BuiltDists) -> None:
    (dist / SDIST).write_text("release notes, not a tarball\n")


def text_named_like_wheel(dist: Path, built: BuiltDists) -> None:
    (dist / WHEEL).write_text("not a zip\n")


def unparsable_wheel_name(dist: Path, built: BuiltDists) -> None:
    (dist / "sample_project-1.2.3-extra-bits.whl").write_bytes(b"PK\x05\x06" + b"\0" * 18)


def truncated_wheel(dist: Path, built: BuiltDists) -> None:
    real_dists(dist, built)
    wheel = dist / WHEEL
    wheel.write_bytes(wheel.read_bytes()[:300])


def legacy_egg(dist: Path, built: BuiltDists) -> None:
    (dist / "sample_project-1.2.3-py3.11.egg").write_bytes(b"egg")


def _wheel_with(dist: Path, metadata: bytes, compression: int = zipfile.ZIP_DEFLATED,
                extra: dict[str, bytes] | None = None) -> Path:
    path = dist / WHEEL
    info = "sample_project-1.2.3.dist-info"
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("sample_project/__init__.py", "")
        archive.writestr(f"{info}/METADATA", metadata)
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\n")
        for name, data in (extra or {}).items():
            archive.writestr(name, data)
        archive.writestr(f"{info}/RECORD", "")
    return path


def zip_bomb_metadata(dist: Path, built: BuiltDists) -> None:
    # 64 MB of METADATA deflates to about 64 kB: reading it whole is what must not happen.
    header = metadata_text("sample-project", "1.2.3").encode()
    _wheel_with(dist, header + b" " * (64 * MB))


def declared_2gb_metadata(dist: Path, built: BuiltDists) -> None:
    """A METADATA whose central directory entry claims 2 GB (the bytes themselves are small)."""
    path = _wheel_with(dist, metadata_text("sample-project", "1.2.3").encode(), zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        name = bytes(data[at + 46: at + 46 + name_length])
        if name.endswith(b"/METADATA"):
            struct.pack_into("<I", data, at + 24, 2 * 1024 * MB - 1)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def understated_metadata(dist: Path, built: BuiltDists) -> None:
    """METADATA that claims 200 bytes and inflates to 16 MB: the claim must bound the read."""
    path = _wheel_with(dist, metadata_text("sample-project", "1.2.3").encode() + b" " * (16 * MB))
    data = bytearray(path.read_bytes())
    at = data.find(b"PK\x01\x02")
    while at >= 0:
        name_length = struct.unpack_from("<H", data, at + 28)[0]
        if bytes(data[at + 46: at + 46 + name_length]).endswith(b"/METADATA"):
            struct.pack_into("<I", data, at + 24, 200)
        at = data.find(b"PK\x01\x02", at + 4)
    path.write_bytes(bytes(data))


def two_metadata_files(dist: Path, built: BuiltDists) -> None:
    text = metadata_text("sample-project", "1.2.3").encode()
    _wheel_with(dist, text, extra={"other-1.0.dist-info/METADATA": text})


def _sdist_with(dist: Path, pkg_info: bytes, declared: int | None = None) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        member = tarfile.TarInfo("sample_project-1.2.3/PKG-INFO")
        member.size = len(pkg_info)
        archive.addfile(member, io.BytesIO(pkg_info))
    raw = buffer.getvalue()
    if declared is not None:
        # Rewrite the size field (octal, offset 124) and the header checksum (offset 148).
        header = bytearray(raw[:512])
        header[124:136] = f"{declared:011o}\0".encode()
        header[148:156] = b" " * 8
        header[148:156] = f"{sum(header):06o}\0 ".encode()
        raw = bytes(header) + raw[512:]
    (dist / SDIST).write_bytes(gzip.compress(raw, compresslevel=9))


def tar_bomb_pkg_info(dist: Path, built: BuiltDists) -> None:
    _sdist_with(dist, metadata_text("sample-project", "1.2.3").encode() + b" " * (32 * MB))


def declared_2gb_pkg_info(dist: Path, built: BuiltDists) -> None:
    _sdist_with(dist, metadata_text("sample-project", "1.2.3").encode(), declared=2 * 1024 * MB)


def sdist_without_pkg_info(dist: Path, built: BuiltDists) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        member = tarfile.TarInfo("sample_project-1.2.3/setup.py")
        archive.addfile(member, io.BytesIO(b""))
    (dist / SDIST).write_bytes(buffer.getvalue())


def metadata(extra: str = "", name: str = "sample-project", version: str = "1.2.3",
             text: str | None = None) -> Setup:
    def setup(dist: Path, built: BuiltDists) -> None:
        write_wheel(dist, "sample-project", "1.2.3",
                    text if text is not None else metadata_text(name, version, extra))

    return setup


def packages_dir_links_outside(dist: Path, built: BuiltDists) -> None:
    outside = dist.parent.parent / "outside-the-workspace"
    outside.mkdir()
    real_dists(outside, built)
    (dist.parent / "linked").symlink_to(outside)


def symlinked_dist(dist: Path, built: BuiltDists) -> None:
    for item in built().iterdir():
        (dist / item.name).symlink_to(item)


@dataclass(frozen=True)
class Bad:
    """One bad input and what the user must be told about it."""

    id: str
    says: tuple[str, ...]
    inputs: dict[str, str] = field(default_factory=dict)
    args: list[str] | None = None  # run the local command with these arguments instead
    env: dict[str, str] = field(default_factory=dict)
    files: Setup = real_dists
    answer: CannedAnswer | None = None  # the index answers every upload so
    target: str = "index"  # "index", "canned", "tls" (https to a plain port), "closed" (no server)
    exit_code: int = 1
    never_says: tuple[str, ...] = ()


def invalid(name: str, value: str, fix: str) -> tuple[str, ...]:
    return (f"Input `{name}` is {value!r}", fix)

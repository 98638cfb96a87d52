"""The releases the benchmark publishes: made fresh on disk, valid enough for every tool to accept.

Wheels carry real METADATA, WHEEL and RECORD files and a random payload, so nothing along the way
(compression, deduplication) can make them cheaper than their size. The small release is an
sdist and a wheel as a tiny project's build makes them, with 20 KB of payload each; building is
measured on its own (`build`), from the same tiny setuptools project.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import textwrap
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MB = 1_000_000
PROJECT = "bench-release"
VERSION = "1.0.0"
# Twelve tags of a typical binary wheel matrix: four CPython versions on three platforms.
MATRIX_TAGS = [
    f"cp{minor}-cp{minor}-{platform}"
    for minor in ("310", "311", "312", "313")
    for platform in ("manylinux_2_17_x86_64.manylinux2014_x86_64", "macosx_11_0_arm64",
                     "win_amd64")
]
_PAYLOAD_BLOCK = MB
_DESCRIPTION = "# bench-release\n\nA release made up by the publishing benchmark.\n"


@dataclass(frozen=True)
class Sizes:
    """File sizes per scenario; `quick` ones keep a smoke run to seconds."""

    matrix_file: int
    big_file: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(matrix_file=5 * MB, big_file=200 * MB)

    @classmethod
    def quick(cls) -> Sizes:
        return cls(matrix_file=100_000, big_file=2 * MB)


@dataclass(frozen=True)
class Scenario:
    """One release to publish: the files to upload."""

    name: str
    title: str
    files: list[Path] = field(default_factory=list)
    # The index already holds every file: the tools are asked to skip what exists.
    preloaded: bool = False

    @property
    def upload_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.files)

    @property
    def largest_file(self) -> int:
        return max((p.stat().st_size for p in self.files), default=0)


def _record_hash(digest: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _metadata(name: str, version: str) -> str:
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {name}\n"
        f"Version: {version}\n"
        "Summary: A release made up by the publishing benchmark\n"
        "Requires-Python: >=3.10\n"
        "Description-Content-Type: text/markdown\n"
        "\n" + _DESCRIPTION
    )


def write_wheel(dest: Path, tag: str, payload: int, name: str = PROJECT,
                version: str = VERSION) -> Path:
    """Write `{name}-{version}-{tag}.whl` holding about `payload` random bytes; return its path."""
    module = name.replace("-", "_")
    dist_info = f"{module}-{version}.dist-info"
    path = dest / f"{module}-{version}-{tag}.whl"
    records: list[str] = []

    def add(zf: zipfile.ZipFile, arcname: str, data: bytes) -> None:
        zf.writestr(arcname, data, compress_type=zipfile.ZIP_DEFLATED)
        records.append(f"{arcname},{_record_hash(hashlib.sha256(data).digest())},{len(data)}")

    dest.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as zf:
        add(zf, f"{module}/__init__.py", f'__version__ = "{version}"\n'.encode())
        records.append(_write_payload(zf, f"{module}/_payload.bin", payload))
        add(zf, f"{dist_info}/METADATA", _metadata(name, version).encode())
        wheel = f"Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: false\nTag: {tag}\n"
        add(zf, f"{dist_info}/WHEEL", wheel.encode())
        records.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return path


def _write_payload(zf: zipfile.ZipFile, arcname: str, size: int) -> str:
    """Stream random bytes into the archive without holding them; return the RECORD line."""
    digest = hashlib.sha256()
    info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    with zf.open(info, "w", force_zip64=size > 2**31) as out:
        left = size
        while left:
            block = os.urandom(min(_PAYLOAD_BLOCK, left))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return f"{arcname},{_record_hash(digest.digest())},{size}"


def write_sdist(dest: Path, payload: int, name: str = PROJECT, version: str = VERSION) -> Path:
    """Write `{module}-{version}.tar.gz` as a PEP 625 sdist with about `payload` random bytes."""
    module = name.replace("-", "_")
    top = f"{module}-{version}"
    path = dest / f"{top}.tar.gz"
    pyproject = (f'[build-system]\nrequires = ["setuptools>=61"]\n'
                 f'build-backend = "setuptools.build_meta"\n\n[project]\nname = "{name}"\n'
                 f'version = "{version}"\n')
    members = {f"{top}/PKG-INFO": _metadata(name, version).encode(),
               f"{top}/pyproject.toml": pyproject.encode(),
               f"{top}/src/{module}/__init__.py": f'__version__ = "{version}"\n'.encode(),
               f"{top}/src/{module}/_payload.bin": os.urandom(payload)}
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for arcname, data in members.items():
            info = tarfile.TarInfo(arcname)
            info.size, info.mtime, info.mode = len(data), 1_704_067_200, 0o644
            tar.addfile(info, io.BytesIO(data))
    return path


def write_project(parent: Path, name: str = PROJECT, version: str = VERSION) -> Path:
    """A tiny setuptools project: the common case the build comparison is about."""
    module = name.replace("-", "_")
    root = parent / name
    (root / "src" / module).mkdir(parents=True, exist_ok=True)
    (root / "src" / module / "__init__.py").write_text(f'__version__ = "{version}"\n')
    (root / "README.md").write_text(_DESCRIPTION)
    (root / "pyproject.toml").write_text(textwrap.dedent(f"""\
        [build-system]
        requires = ["setuptools>=61"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "{name}"
        version = "{version}"
        description = "A release made up by the publishing benchmark"
        readme = "README.md"
        requires-python = ">=3.10"
        """))
    return root


SCENARIO_NAMES = ("small", "matrix", "big", "rerun")


def make_scenarios(work: Path, names: list[str], sizes: Sizes) -> list[Scenario]:
    """Write the files of the named scenarios under `work`; the rerun reuses the matrix files."""
    made: list[Scenario] = []
    matrix_files: list[Path] = []
    if "matrix" in names or "rerun" in names:
        matrix_files = [write_wheel(work / "matrix", tag, sizes.matrix_file - 2_000)
                        for tag in MATRIX_TAGS]
    for name in names:
        if name == "small":
            made.append(Scenario("small", "an sdist and a wheel of 20 KB each", files=[
                write_wheel(work / "small", "py3-none-any", 20_000),
                write_sdist(work / "small", 20_000)]))
        elif name == "matrix":
            made.append(Scenario(
                "matrix", f"{len(matrix_files)} wheels of {sizes.matrix_file / MB:g} MB",
                files=matrix_files))
        elif name == "big":
            made.append(Scenario(
                "big", f"one wheel of {sizes.big_file / MB:g} MB",
                files=[write_wheel(work / "big", "py3-none-any", sizes.big_file - 2_000)]))
        elif name == "rerun":
            made.append(Scenario(
                "rerun", f"rerun: all {len(matrix_files)} matrix wheels already on the index",
                files=matrix_files, preloaded=True))
        else:
            raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIO_NAMES)}")
    return made

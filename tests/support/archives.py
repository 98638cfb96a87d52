"""Hand-made distribution files, for metadata and archive cases a real build never produces."""

from __future__ import annotations

import zipfile
from pathlib import Path


def metadata_text(name: str, version: str, extra: str = "") -> str:
    return (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: hand made\n"
            f"{extra}\nA long description.\n")


def write_wheel(directory: Path, name: str, version: str, metadata: str | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    module = name.replace("-", "_")
    path = directory / f"{module}-{version}-py3-none-any.whl"
    info = f"{module}-{version}.dist-info"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{module}/__init__.py", "")
        archive.writestr(f"{info}/METADATA", metadata or metadata_text(name, version))
        archive.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\nGenerator: hand\nRoot-Is-Purelib: true\n"
                                          "Tag: py3-none-any\n")
        archive.writestr(f"{info}/RECORD", "")
    return path

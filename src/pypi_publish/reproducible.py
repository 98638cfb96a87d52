"""Reproducible sdists: the archive's metadata rewritten to a normal form, its content untouched.

With `SOURCE_DATE_EPOCH` every backend tried writes the same wheel on every build of a commit;
sdists still carry each file's mtime (a fresh checkout's are the checkout's time, and setuptools
regenerates egg-info on every build), the builder's user and umask, and gzip's clock. Rewriting
the archive's metadata, never its content, makes a rebuild of the same commit byte-identical.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import os
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path

# The header fields that describe the build, not the source; pax copies of them go too.
_PAX_BUILD_FIELDS = frozenset({"mtime", "atime", "ctime", "uid", "gid", "uname", "gname"})


def _normal_member(member: tarfile.TarInfo, epoch: int) -> tarfile.TarInfo:
    normal = copy.copy(member)  # TarInfo.replace is missing from early 3.10 and 3.11 releases
    normal.mtime, normal.uid, normal.gid = min(int(member.mtime), epoch), 0, 0
    normal.uname = normal.gname = ""
    if member.isdir():
        normal.mode = 0o755
    elif member.isreg():
        normal.mode = 0o755 if member.mode & 0o100 else 0o644
    normal.pax_headers = {k: v for k, v in member.pax_headers.items() if k not in _PAX_BUILD_FIELDS}
    return normal


def _gzip_mtime(path: Path) -> int:
    with path.open("rb") as handle:
        header = handle.read(8)
    return int.from_bytes(header[4:8], "little")


def _is_normal(path: Path, epoch: int) -> bool:
    if _gzip_mtime(path) > epoch:
        return False
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            normal = _normal_member(member, epoch)
            if (member.mtime, member.uid, member.gid, member.uname, member.gname, member.mode,
                    member.pax_headers) != (normal.mtime, 0, 0, "", "", normal.mode,
                                            normal.pax_headers):
                return False
    return True


def _content(path: Path) -> Iterator[tuple[str, int, str, str]]:
    """Each member's name, type, link target and data digest: what normalising must not change."""
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            digest = ""
            if member.isreg():
                data = archive.extractfile(member)
                digest = hashlib.sha256(data.read() if data else b"").hexdigest()
            yield member.name, int.from_bytes(member.type, "big"), member.linkname, digest


def _rewrite(source: Path, target: Path, epoch: int) -> None:
    with tarfile.open(source, "r:gz") as archive, target.open("wb") as raw, \
            gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=epoch, compresslevel=9) as zipped, \
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as out:
        for member in archive.getmembers():
            data = archive.extractfile(member) if member.isreg() else None
            out.addfile(_normal_member(member, epoch), data)


def normalise_sdist(path: Path, epoch: int) -> bool:
    """Rewrite the `.tar.gz` at `path` in the normal form for `epoch`; False if it already was.

    Normal: mtimes clamped to `epoch`, owner root with no names, permissions 0644/0755, a gzip
    header with `epoch` as its time and no file name. The members keep the backend's order:
    every backend tried writes them sorted, so it is already the same on every build.
    """
    if _is_normal(path, epoch):
        return False
    with tempfile.TemporaryDirectory(dir=path.parent, prefix=".normalise-") as tmp:
        candidate = Path(tmp) / path.name
        _rewrite(path, candidate, epoch)
        if list(_content(candidate)) != list(_content(path)):
            raise RuntimeError(f"normalising {path.name} changed its content")  # a bug, not a user error
        before = path.stat()
        if hasattr(os, "chown"):
            with contextlib.suppress(PermissionError):  # keep the file the builder's, not ours
                os.chown(candidate, before.st_uid, before.st_gid)
        candidate.chmod(before.st_mode & 0o7777)
        candidate.replace(path)
    return True

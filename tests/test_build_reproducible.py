"""Rebuilds of a commit are byte-identical, so a rerun after a publish finds its files already there."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.gha import Console
from pypi_publish.reproducible import normalise_sdist
from tests.conftest import MakeProject, RunCli
from tests.support.index_server import IndexServer
from tests.support.real_sdists import BY_NAME, clone, commit_tree

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

HOUR = 3600


def later_checkout(repository: Path, into: Path) -> Path:
    """A checkout made an hour after another: every file's mtime is an hour later."""
    checkout = clone(repository, into)
    for path in checkout.rglob("*"):
        if ".git" not in path.parts:
            stat = path.lstat()
            os.utime(path, (stat.st_atime + HOUR, stat.st_mtime + HOUR), follow_symlinks=False)
    return checkout


def digests(files: list[Path]) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def build(project: Path) -> list[Path]:
    return build_distributions(BuildRequest(project, project / "dist"), Console(out=io.StringIO()))


@pytest.mark.parametrize("name", [
    "six",  # setuptools: the sdist is normalised
    "fastapi",  # pdm-backend: gzip's clock is normalised
    pytest.param("iniconfig", marks=pytest.mark.slow),  # hatchling: reproducible by itself
    pytest.param("tomli", marks=pytest.mark.slow),  # flit-core: reproducible by itself
    pytest.param("tomlkit", marks=pytest.mark.slow),  # poetry-core: reproducible by itself
])
def test_two_checkouts_of_a_commit_build_byte_identical_files(name: str, tmp_path: Path) -> None:
    sdist = BY_NAME[name]
    repository = commit_tree(sdist.unpack(tmp_path / "origin"), tag=f"v{sdist.version}")
    first = build(clone(repository, tmp_path / "first"))
    second = build(later_checkout(repository, tmp_path / "second"))
    assert digests(first) == digests(second)


def _members(path: Path) -> list[tuple[str, bytes]]:
    with tarfile.open(path) as archive:
        return [(m.name, (archive.extractfile(m) or io.BytesIO()).read() if m.isreg() else b"")
                for m in archive.getmembers()]


def test_normalising_an_sdist_changes_its_metadata_and_not_a_byte_of_content(
    project: MakeProject, tmp_path: Path
) -> None:
    workspace = project("normal", "1.0.0")
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--outdir", str(tmp_path / "dist"),
                    str(workspace)], check=True, capture_output=True, stdin=subprocess.DEVNULL,
                   timeout=300)
    sdist = tmp_path / "dist" / "normal-1.0.0.tar.gz"
    before = _members(sdist)
    epoch = 1_700_000_000  # before the files were written: every mtime is clamped to it
    assert normalise_sdist(sdist, epoch)
    assert _members(sdist) == before
    with tarfile.open(sdist) as archive:
        assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in archive.getmembers()} == {
            (epoch, 0, 0, "", "")}
    assert int.from_bytes(sdist.read_bytes()[4:8], "little") == epoch
    assert not normalise_sdist(sdist, epoch)


def test_a_local_publish_rerun_on_the_same_commit_succeeds_and_sends_nothing(
    project: MakeProject, run_cli: RunCli, index: IndexServer, tmp_path: Path
) -> None:
    repository = commit_tree(project("rerun", "1.0.0"))
    env = {"TWINE_PASSWORD": index.password}
    first = run_cli(["--repository-url", index.url], clone(repository, tmp_path / "first"), env)
    assert first.returncode == 0, first.text
    published = {name: index.file_bytes(name) for name in index.files()}
    assert sorted(published) == ["rerun-1.0.0-py3-none-any.whl", "rerun-1.0.0.tar.gz"]
    again = run_cli(["--repository-url", index.url], later_checkout(repository, tmp_path / "again"), env)
    assert again.returncode == 0, again.text
    assert again.stdout.count("identical file already on the index") == 2
    assert {name: index.file_bytes(name) for name in index.files()} == published

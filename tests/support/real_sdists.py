"""Real projects' sdists that the build tests build, and the build backends they need, pinned by hash.

`scripts/fetch-build-fixtures` downloads both into the wheelhouse at set-up; the tests only read
them, so every build stays offline. The sdists sit in a subfolder of the wheelhouse: a find-links
folder is not searched recursively, so no build ever installs one of them as a requirement.
"""

from __future__ import annotations

import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WHEELHOUSE = REPO / ".cache" / "wheelhouse"
SDIST_DIR = WHEELHOUSE / "sdists"


@dataclass(frozen=True)
class RealSdist:
    """One published sdist and what it stands for in the tests."""

    name: str
    version: str
    sha256: str
    backend: str
    shape: str

    @property
    def filename(self) -> str:
        return f"{self.name.replace('-', '_').replace('.', '_')}-{self.version}.tar.gz"

    @property
    def path(self) -> Path:
        return SDIST_DIR / self.filename

    def unpack(self, into: Path) -> Path:
        """The sdist's source tree, unpacked under `into`."""
        if not self.path.is_file():
            raise FileNotFoundError(f"{self.path} is missing: run `scripts/fetch-build-fixtures`")
        with tarfile.open(self.path) as archive:
            archive.extractall(into, filter="data")
        return into / self.filename.removesuffix(".tar.gz")


SDISTS = (
    RealSdist("six", "1.17.0", "ff70335d468e7eb6ec65b95b99d3a2836546063f63acc5171de367e834932a81",
              "setuptools", "setup.py only, no pyproject.toml"),
    RealSdist("pluggy", "1.6.0", "7dcc130b76258d33b90f61b658791dede3486c3e6bfb003ee5c9bfb396dd22f3",
              "setuptools", "setuptools-scm version, src layout"),
    RealSdist("iniconfig", "2.1.0", "3abbd2e30b36733fee78f9c7f7308f2d0050e88f0087fd25c2645f63c773e1c7",
              "hatchling", "hatch-vcs version"),
    RealSdist("tomlkit", "0.13.3", "430cf247ee57df2b94ee3fbe588e71d362a941ebb545dec29b53961d61add2a1",
              "poetry-core", "[tool.poetry] metadata"),
    RealSdist("fastapi", "0.116.1", "ed52cbf946abfd70c5a0dccb24673f0670deeb517a88b3544d03c2a6bf283143",
              "pdm-backend", "version read from the package"),
    RealSdist("tomli", "2.3.0", "64be704a875d2a59753d80ee8a533c3fe183e3f06807ff7dc2232938ccb01549",
              "flit-core", "PEP 639 licence expression and license-files"),
    RealSdist("jaraco.functools", "4.1.0",
              "70f7e0e2ae076498e212562325e805204fc092d7b4c17e0e86c959e249701a9d",
              "setuptools", "PEP 420 namespace package (`jaraco` has no __init__.py)"),
)

BY_NAME = {sdist.name: sdist for sdist in SDISTS}

# The backends and plugins those sdists (and the tests' own projects) build with, beyond the
# wheels `scripts/dev-env` already fetches (setuptools, wheel, hatchling, flit-core, and their
# dependencies packaging, pathspec, pluggy, trove-classifiers).
BACKEND_WHEELS = (
    ("setuptools-scm", "10.3.4", "82f34c3e3084fc2b57d397200637cc13f2338004052d2fee47baa5f0e902464e"),
    ("vcs-versioning", "2.6.0", "f8bebd1302ebc12e67ceb30fc7dd698ec969414b6fa43b30c3f14ac9b1e72c41"),
    ("hatch-vcs", "0.5.0", "b49677dbdc597460cc22d01b27ab3696f5e16a21ecf2700fb01bc28e1f2a04a7"),
    ("poetry-core", "2.5.0", "98ee465b66f7e14bb9fbe68fb5e00d0cff184f036993ec94610ae4b5612f3add"),
    ("pdm-backend", "2.5.0", "5b8746b567a16a1fd506ce66ee28e89d46374526f52238aa1b96cc2c08245c63"),
)


def missing() -> list[str]:
    """Fixture files not in the wheelhouse yet (empty once `scripts/fetch-build-fixtures` ran)."""
    wanted = [s.path for s in SDISTS]
    wanted += [WHEELHOUSE / f"{n.replace('-', '_')}-{v}-py3-none-any.whl" for n, v, _ in BACKEND_WHEELS]
    return [p.name for p in wanted if not p.is_file()]


# -- trees as git checkouts -----------------------------------------------------------------------
_GIT_IDENTITY = ("-c", "user.name=Release Tester", "-c", "user.email=tester@example.org")


def git(tree: Path, *args: str) -> str:
    done = subprocess.run(["git", *_GIT_IDENTITY, *args], cwd=tree, check=True, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=60)
    return done.stdout.strip()


def commit_tree(tree: Path, tag: str | None = None, when: str = "2024-05-01T12:00:00+00:00") -> Path:
    """Make `tree` a git repository with one commit of everything in it (and `tag` on it)."""
    git(tree, "init", "-q", "-b", "main")
    git(tree, "add", "-A")
    subprocess.run(["git", *_GIT_IDENTITY, "commit", "-q", "-m", "release"], cwd=tree, check=True,
                   capture_output=True, stdin=subprocess.DEVNULL, timeout=60,
                   env={**os.environ, "GIT_COMMITTER_DATE": when, "GIT_AUTHOR_DATE": when})
    if tag:
        git(tree, "tag", tag)
    return tree


def clone(repository: Path, into: Path, *options: str) -> Path:
    """A fresh checkout (new files, new mtimes) of `repository`, as a CI job makes one."""
    git(repository.parent, "clone", "-q", *options, repository.resolve().as_uri(), str(into))
    return into

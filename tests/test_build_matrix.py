"""Real projects' sdists, built by the product and by `python -m build`: the same files, members and METADATA.

Slow (about 40 s on two cores with uv installed: `python -m build` makes two environments per
project with pip); run with `-m slow`.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.gha import Console
from tests.support.real_sdists import SDISTS, RealSdist

pytestmark = pytest.mark.slow


def wheel_members(wheel: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(wheel) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def sdist_names(sdist: Path) -> list[str]:
    with tarfile.open(sdist) as archive:
        return sorted(archive.getnames())


def metadata(members: dict[str, bytes]) -> str:
    (name,) = [n for n in members if n.endswith(".dist-info/METADATA")]
    return members[name].decode()


@pytest.mark.parametrize("sdist", SDISTS, ids=[f"{s.name}-{s.backend}" for s in SDISTS])
def test_the_product_builds_what_python_m_build_builds(sdist: RealSdist, tmp_path: Path) -> None:
    ours_dir = tmp_path / "ours"
    # pip: what the action's image builds with.
    ours = build_distributions(
        BuildRequest(sdist.unpack(tmp_path / "src-ours"), ours_dir, installer="pip"),
        Console(out=io.StringIO()))
    reference = tmp_path / "reference"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(reference),
                    str(sdist.unpack(tmp_path / "src-reference"))],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=600)
    assert sorted(p.name for p in ours) == sorted(p.name for p in reference.iterdir())
    our_sdist, our_wheel = ours
    assert sdist_names(our_sdist) == sdist_names(reference / our_sdist.name)
    our_members, their_members = wheel_members(our_wheel), wheel_members(reference / our_wheel.name)
    assert sorted(our_members) == sorted(their_members)
    assert metadata(our_members) == metadata(their_members)
    assert our_members == their_members

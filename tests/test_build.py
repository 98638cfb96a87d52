"""Building: sdist then wheel from it, in one environment; the unusual backends still build right."""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
import tarfile
import zipfile
from pathlib import Path
from typing import Literal

import pytest

from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.gha import Console
from tests.conftest import MakeProject, RunCli


def built_names(workspace: Path) -> list[str]:
    return sorted(p.name for p in (workspace / "dist").iterdir())


def test_backend_asking_for_more_requirements_gets_them(project: MakeProject, run_cli: RunCli) -> None:
    workspace = project("needs-more", "1.0.0")
    (workspace / "setup.cfg").write_text("[options]\nsetup_requires =\n    wheel\n")
    run = run_cli(["--no-upload", "--verbose"], workspace)
    assert run.returncode == 0, run.text
    assert built_names(workspace) == ["needs_more-1.0.0-py3-none-any.whl", "needs_more-1.0.0.tar.gz"]


def test_in_tree_backend_with_backend_path(project: MakeProject, run_cli: RunCli) -> None:
    workspace = project("in-tree", "1.0.0")
    (workspace / "_backend").mkdir()
    (workspace / "_backend" / "local_backend.py").write_text(
        "from setuptools import build_meta as _orig\n"
        "from setuptools.build_meta import *  # noqa\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    print('local backend building a wheel')\n"
        "    return _orig.build_wheel(wheel_directory, config_settings, metadata_directory)\n"
    )
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'build-backend = "setuptools.build_meta"',
        'build-backend = "local_backend"\nbackend-path = ["_backend"]'))
    (workspace / "MANIFEST.in").write_text("recursive-include _backend *.py\n")
    run = run_cli(["--no-upload", "--verbose"], workspace)
    assert run.returncode == 0, run.text
    assert "local backend building a wheel" in run.text
    assert built_names(workspace) == ["in_tree-1.0.0-py3-none-any.whl", "in_tree-1.0.0.tar.gz"]


def test_wheel_is_built_from_the_sdist(project: MakeProject, run_cli: RunCli) -> None:
    # A file the sdist leaves out cannot reach the wheel: the wheel is built from the sdist.
    workspace = project("from-sdist", "1.0.0")
    (workspace / "src" / "from_sdist" / "data.txt").write_text("left out of the sdist\n")
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text() + "\n[tool.setuptools.package-data]\nfrom_sdist = ['*.txt']\n")
    (workspace / "MANIFEST.in").write_text("exclude src/from_sdist/data.txt\n")
    run = run_cli(["--no-upload"], workspace)
    assert run.returncode == 0, run.text
    with tarfile.open(workspace / "dist" / "from_sdist-1.0.0.tar.gz") as sdist:
        assert not any(n.endswith("data.txt") for n in sdist.getnames())
    with zipfile.ZipFile(workspace / "dist" / "from_sdist-1.0.0-py3-none-any.whl") as wheel:
        assert not any(n.endswith("data.txt") for n in wheel.namelist())


def test_build_reports_time_per_artifact(project: MakeProject, run_cli: RunCli) -> None:
    workspace = project("timed", "1.0.0")
    run = run_cli(["--no-upload"], workspace)
    assert run.returncode == 0, run.text
    assert "Built timed-1.0.0.tar.gz (" in run.stdout
    assert " s), timed-1.0.0-py3-none-any.whl (" in run.stdout


def test_build_never_sees_the_token(project: MakeProject, run_cli: RunCli, tmp_path: Path) -> None:
    from tests.support.secret_sweep import new_secret

    workspace = project("nosy", "1.0.0")
    spy = tmp_path / "environ.json"
    (workspace / "setup.py").write_text(
        "import json, os\nfrom setuptools import setup\n"
        f"open({str(spy)!r}, 'w').write(json.dumps(dict(os.environ)))\nsetup()\n")
    token = new_secret("pypi-")
    run = run_cli(["--no-upload"], workspace, {"PYPI_API_TOKEN": token, "TWINE_PASSWORD": token})
    assert run.returncode == 0, run.text
    seen = json.loads(spy.read_text())
    assert token not in json.dumps(seen)
    assert "PYPI_API_TOKEN" not in seen and "TWINE_PASSWORD" not in seen
    spy.unlink()


@pytest.mark.parametrize("installer", ["pip", "uv"])
def test_the_log_names_the_installer_that_made_the_environment(
    installer: Literal["pip", "uv"], project: MakeProject
) -> None:
    if installer == "uv" and shutil.which("uv") is None and importlib.util.find_spec("uv") is None:
        pytest.skip("uv is not installed")
    workspace = project("installed", "1.0.0")
    out = io.StringIO()
    build_distributions(BuildRequest(workspace, workspace / "dist", installer=installer),
                        Console(out=out))
    assert f"; build environment made with {installer} (" in out.getvalue()

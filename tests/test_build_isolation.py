"""No module in the project, and no PYTHONPATH, changes what the builder imports; build scripts still run."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.gha import Console
from tests.conftest import MakeProject

SHADOWS = ("build", "tarfile", "tasks")


def with_shadowing_modules(workspace: Path, marks: Path) -> Path:
    """Root modules named like the builder's imports; each leaves a mark if anything imports it."""
    marks.mkdir()
    for name in SHADOWS:
        (workspace / f"{name}.py").write_text(
            f"from pathlib import Path\nPath({str(marks / name)!r}).write_text('imported')\n"
            f"raise ImportError('the project\\'s {name}.py was imported')\n")
    return workspace


@pytest.mark.parametrize("pythonpath", [None, ".", "project"])
def test_root_modules_named_like_the_builders_imports_do_not_shadow_them(
    pythonpath: str | None, project: MakeProject, tmp_path: Path
) -> None:
    workspace = with_shadowing_modules(project("shadowed", "1.0.0"), tmp_path / "marks")
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = str(workspace) if pythonpath == "project" else pythonpath
    files = build_distributions(BuildRequest(workspace, workspace / "dist", environ=env),
                                Console(out=io.StringIO()))
    assert [p.name for p in files] == ["shadowed-1.0.0.tar.gz", "shadowed-1.0.0-py3-none-any.whl"]
    assert sorted(p.name for p in (tmp_path / "marks").iterdir()) == []


POETRY_WITH_BUILD_SCRIPT = """\
[build-system]
requires = ["poetry-core>=2"]
build-backend = "poetry.core.masonry.api"

[project]
name = "cythonish"
version = "1.0.0"
description = "A Poetry project with a build script"
requires-python = ">=3.9"

[tool.poetry]
packages = [{ include = "cythonish", from = "src" }]
include = [{ path = "src/cythonish/generated.py", format = "wheel" }]

[tool.poetry.build]
script = "build.py"
generate-setup-file = false
"""


def test_poetry_build_script_named_build_py_runs_and_its_file_reaches_the_wheel(tmp_path: Path) -> None:
    workspace = tmp_path / "cythonish"
    (workspace / "src" / "cythonish").mkdir(parents=True)
    (workspace / "src" / "cythonish" / "__init__.py").write_text('"""cythonish."""\n')
    (workspace / "pyproject.toml").write_text(POETRY_WITH_BUILD_SCRIPT)
    (workspace / "build.py").write_text(
        '"""Generates a module, as a Cython build would."""\nfrom pathlib import Path\n'
        'Path("src/cythonish/generated.py").write_text("GENERATED = True\\n")\n')
    sdist, wheel = build_distributions(BuildRequest(workspace, workspace / "dist"),
                                       Console(out=io.StringIO()))
    assert sdist.name == "cythonish-1.0.0.tar.gz"
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read("cythonish/generated.py") == b"GENERATED = True\n"

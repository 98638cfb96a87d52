"""Small real Python projects, one per build backend, written fresh into a temporary directory."""

from __future__ import annotations

import textwrap
from pathlib import Path

BACKENDS = ("setuptools", "hatchling", "flit")

_BUILD_SYSTEM = {
    "setuptools": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n',
    "hatchling": '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n',
    "flit": '[build-system]\nrequires = ["flit_core>=3.4,<4"]\nbuild-backend = "flit_core.buildapi"\n',
}


def write_project(
    parent: Path,
    name: str = "sample-project",
    version: str = "1.2.3",
    backend: str = "setuptools",
    readme: str = "# Sample\n\nA project used to test publishing.\n",
    extra_project_table: str = "",
) -> Path:
    """Write a buildable project named `name` at `parent/name`; return its directory."""
    module = name.replace("-", "_")
    root = parent / name
    package = root / "src" / module
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text(f'"""{name}, a sample."""\n\n__version__ = "{version}"\n')
    (root / "README.md").write_text(readme)
    (root / "LICENSE").write_text("Permission is granted to test with this file.\n")
    pyproject = _BUILD_SYSTEM[backend] + textwrap.dedent(
        f"""
        [project]
        name = "{name}"
        version = "{version}"
        description = "A sample project for publishing tests"
        readme = "README.md"
        requires-python = ">=3.8"
        license = {{ text = "MIT" }}
        authors = [{{ name = "Sample Author", email = "author@example.org" }}]
        classifiers = ["Programming Language :: Python :: 3"]
        {extra_project_table}
        """
    )
    if backend == "flit":
        # flit wants the module name and a docstring/version it can find.
        pyproject += f'\n[tool.flit.module]\nname = "{module}"\n'
    if backend == "hatchling":
        pyproject += f'\n[tool.hatch.build.targets.wheel]\npackages = ["src/{module}"]\n'
    (root / "pyproject.toml").write_text(pyproject)
    return root

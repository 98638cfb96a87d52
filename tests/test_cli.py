"""The local command's own surface: `--version`, and usage errors of its newer flags."""

from __future__ import annotations

import platform
from pathlib import Path

from pypi_publish import __version__
from tests.conftest import RunCli


def test_version_gives_the_package_and_python_versions(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli(["--version"], tmp_path, process=True)
    assert run.returncode == 0, run.text
    assert run.stdout == f"publish_to_pypi.py {__version__} (Python {platform.python_version()})\n"


def test_version_works_with_a_broken_pypirc(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / ".pypirc").write_text("[distutils\n", encoding="utf-8")
    run = run_cli(["--version"], tmp_path, process=True)
    assert run.returncode == 0, run.text
    assert run.stdout.startswith(f"publish_to_pypi.py {__version__} ")


def test_an_unknown_trusted_publishing_mode_is_a_usage_error(run_cli: RunCli, tmp_path: Path) -> None:
    run = run_cli(["--trusted-publishing", "sometimes"], tmp_path)
    assert run.returncode == 2
    assert "argument --trusted-publishing: invalid choice: 'sometimes'" in run.stdout
    assert "Run `publish_to_pypi.py --help` for the usage." in run.stdout

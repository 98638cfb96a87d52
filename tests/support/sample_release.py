"""The sample release published through a fault proxy: its files, the fixtures, one `publish` call.

A pytest plugin (listed in `tests/conftest.py`): `sample_workspace` holds the sample sdist and
wheel in `dist/`, `fault_proxy` stands in front of the session's pypiserver.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BuiltDists, Run, RunAction
from tests.support.fault_proxy import FaultProxy
from tests.support.index_server import IndexServer

SDIST = "sample_project-1.2.3.tar.gz"
WHEEL = "sample_project-1.2.3-py3-none-any.whl"
SAMPLE = sorted([SDIST, WHEEL])
# Short waits so a fault costs the suite fractions of a second; the policy is the product's own.
READ_TIMEOUT = 2.0
FAST = {
    "PYPI_PUBLISH_RETRY_BASE_DELAY": "0.05",
    "PYPI_PUBLISH_READ_TIMEOUT": str(READ_TIMEOUT),
    "PYPI_PUBLISH_RETRY_ATTEMPTS": "4",
}
UPLOAD = ("POST", "/")
SIMPLE = ("GET", "/simple/")


@pytest.fixture
def sample_workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    shutil.copytree(built_dists(), path / "dist")
    return path


@pytest.fixture
def fault_proxy(index: IndexServer) -> Iterator[FaultProxy]:
    with FaultProxy(index.port) as proxy:
        yield proxy


def publish(run_action: RunAction, workspace: Path, url: str, token: str,
            inputs: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Run:
    """The action, verbose, with `PYPI_API_TOKEN` and the short waits."""
    return run_action(workspace, {"repository-url": url, "verbose": "true", **(inputs or {})},
                      {"PYPI_API_TOKEN": token, **FAST, **(env or {})})

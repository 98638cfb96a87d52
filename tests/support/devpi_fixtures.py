"""A pytest plugin with one devpi-server for the whole test session (the `devpi` fixture)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .devpi_server import DevpiServer


@pytest.fixture(scope="session")
def devpi(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevpiServer]:
    """Shared by every test: tests that upload use a project name no other test uses."""
    with DevpiServer(tmp_path_factory.mktemp("devpi")) as server:
        yield server

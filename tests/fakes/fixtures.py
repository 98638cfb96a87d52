"""Fixtures for Trusted Publishing: a GitHub token endpoint and a Warehouse front, both on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.warehouse import Warehouse
from tests.support.index_server import IndexServer


@pytest.fixture
def github_oidc() -> Iterator[GitHubOidc]:
    with GitHubOidc() as server:
        yield server


@pytest.fixture
def warehouse(index: IndexServer, github_oidc: GitHubOidc) -> Iterator[Warehouse]:
    with Warehouse(index, github_oidc.key.public_key()) as server:
        yield server

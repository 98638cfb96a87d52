"""Fixtures for Trusted Publishing: a GitHub token endpoint and a Warehouse front, both on loopback;
a GitLab-style issuer and a front that also takes its tokens."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.gitlab_oidc import GitLabOidc
from tests.fakes.warehouse import Warehouse
from tests.fakes.warehouse_gitlab import GitLabWarehouse
from tests.support.index_server import IndexServer


@pytest.fixture
def github_oidc() -> Iterator[GitHubOidc]:
    with GitHubOidc() as server:
        yield server


@pytest.fixture
def warehouse(index: IndexServer, github_oidc: GitHubOidc) -> Iterator[Warehouse]:
    with Warehouse(index, github_oidc.key.public_key()) as server:
        yield server


@pytest.fixture
def gitlab_oidc() -> GitLabOidc:
    return GitLabOidc()


@pytest.fixture
def gitlab_warehouse(index: IndexServer, github_oidc: GitHubOidc,
                     gitlab_oidc: GitLabOidc) -> Iterator[GitLabWarehouse]:
    """The Warehouse front with one GitLab publisher (`octo-group/sample-project`, `.gitlab-ci.yml`)."""
    server = GitLabWarehouse(index, github_oidc.key.public_key(),
                             gitlab_key=gitlab_oidc.key.public_key())
    with server:
        yield server

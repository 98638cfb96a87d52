"""The fake front's GitLab side answers as Warehouse's GitLab publisher does (oidc/models/gitlab.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.gitlab_oidc import GitLabOidc
from tests.fakes.warehouse_gitlab import GitLabWarehouse
from tests.support.index_server import IndexServer
from tests.support.secret_sweep import remember_secret


@pytest.fixture
def front(index: IndexServer, github_oidc: GitHubOidc, gitlab_oidc: GitLabOidc) -> Iterator[GitLabWarehouse]:
    # Called directly (`mint`): no server needed.
    yield GitLabWarehouse(index, github_oidc.key.public_key(), gitlab_key=gitlab_oidc.key.public_key())


def mint(front: GitLabWarehouse, token: str) -> tuple[int, dict[str, Any]]:
    return front.mint(json.dumps({"token": token}).encode())


def refusal(answer: tuple[int, dict[str, Any]]) -> tuple[int, str, str]:
    status, body = answer
    return status, body["errors"][0]["code"], body["errors"][0]["description"]


def test_a_matching_gitlab_token_is_exchanged(front: GitLabWarehouse, gitlab_oidc: GitLabOidc) -> None:
    status, body = mint(front, gitlab_oidc.token())
    assert status == 200 and body["success"] is True


def test_a_github_token_still_reaches_the_github_publishers(front: GitLabWarehouse,
                                                            github_oidc: GitHubOidc) -> None:
    status, _ = mint(front, github_oidc.token("pypi"))
    assert status == 200


def test_a_token_signed_with_another_key_is_invalid(front: GitLabWarehouse, gitlab_oidc: GitLabOidc) -> None:
    gitlab_oidc.key = rsa.generate_private_key(65537, 2048)
    assert refusal(mint(front, gitlab_oidc.token())) == (422, "invalid-token", "malformed or invalid token")


def test_an_expired_token_is_invalid(front: GitLabWarehouse, gitlab_oidc: GitLabOidc) -> None:
    gitlab_oidc.lifetime = -60  # past the 30 s leeway
    assert refusal(mint(front, gitlab_oidc.token()))[1] == "invalid-token"


def test_a_token_is_exchanged_once(front: GitLabWarehouse, gitlab_oidc: GitLabOidc) -> None:
    token = gitlab_oidc.token()
    assert mint(front, token)[0] == 200
    assert refusal(mint(front, token)) == (422, "invalid-reuse-token", "invalid token: already used")


def test_a_config_file_of_another_project_fails_the_ci_config_ref_uri_check(
    front: GitLabWarehouse, gitlab_oidc: GitLabOidc
) -> None:
    gitlab_oidc.pipeline.config_project = "octo-group/templates"
    status, code, description = refusal(mint(front, gitlab_oidc.token()))
    assert (status, code) == (422, "invalid-publisher")
    assert description == (
        "valid token, but no corresponding publisher (The ci_config_ref_uri claim does not match, "
        "expecting one of ['gitlab.com/octo-group/sample-project//.gitlab-ci.yml@"
        "0c4d2e8f1a3b5c7d9e0f2a4b6c8d0e1f3a5b7c9d', 'gitlab.com/octo-group/sample-project//"
        ".gitlab-ci.yml@refs/tags/v1.2.3'], got 'gitlab.com/octo-group/templates//.gitlab-ci.yml"
        "@refs/tags/v1.2.3')")


def test_a_missing_required_claim_is_named(front: GitLabWarehouse, gitlab_oidc: GitLabOidc) -> None:
    claims = gitlab_oidc.pipeline.claims("pypi", gitlab_oidc.issuer, time.time(), 300)
    del claims["ref_path"]
    token = remember_secret(jwt.encode(claims, gitlab_oidc.key, algorithm="RS256",
                                       headers={"kid": gitlab_oidc.key_id}))
    assert refusal(mint(front, token))[2] == ("valid token, but no corresponding publisher "
                                              "(Missing claim 'ref_path')")


def test_an_environment_publisher_wins_over_an_any_environment_one(
    front: GitLabWarehouse, gitlab_oidc: GitLabOidc
) -> None:
    any_environment = front.gitlab_publisher
    specific = type(any_environment)(environment="pypi", projects={"other-project"})
    front.gitlab_publishers = [any_environment, specific]
    assert mint(front, gitlab_oidc.token())[0] == 200
    assert front._tokens[front.minted[-1]].projects == {"other-project"}


def test_gitlab_switched_off_answers_not_enabled(front: GitLabWarehouse, gitlab_oidc: GitLabOidc) -> None:
    front.gitlab_enabled = False
    assert refusal(mint(front, gitlab_oidc.token())) == (
        422, "not-enabled", "gitlab trusted publishing functionality not enabled")

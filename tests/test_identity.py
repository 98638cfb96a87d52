"""Which CI identity is detected, in `id`'s order and by its rules, and how tool-made tokens are asked for."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
import requests

from pypi_publish import identity
from pypi_publish.errors import TrustedPublishingError
from pypi_publish.retry import RetryPolicy
from tests.support.secret_sweep import new_secret

POLICY = RetryPolicy(attempts=1, connect_timeout=5, read_timeout=5)


def provider_name(env: dict[str, str]) -> str | None:
    found = identity.detect(env).provider
    return found.name if found else None


@pytest.mark.parametrize(("env", "expected"), [
    ({"GITLAB_CI": "true", "BUILDKITE": "true"}, "Buildkite"),
    ({"GITLAB_CI": "true", "CIRCLECI": "true"}, "GitLab"),
    ({"GITLAB_CI": "true", "GOOGLE_SERVICE_ACCOUNT_NAME": "ci@proj.iam.gserviceaccount.com"},
     "Google Cloud"),
    ({"GITHUB_ACTIONS": "true", "GITLAB_CI": "true"}, "GitHub"),
    ({}, None),
])
def test_the_first_identity_in_ids_order_wins(env: dict[str, str], expected: str | None) -> None:
    assert provider_name(env) == expected


def test_the_action_looks_for_github_only() -> None:
    assert identity.detect({"GITLAB_CI": "true"}, github_only=True).provider is None


@pytest.mark.parametrize(("audience", "variable"), [
    ("pypi", "PYPI_ID_TOKEN"),
    ("testpypi", "TESTPYPI_ID_TOKEN"),
    ("http://test.audience", "HTTP___TEST_AUDIENCE_ID_TOKEN"),  # id's documented example
    ("1st", "_ST_ID_TOKEN"),  # a leading digit becomes `_`
])
def test_gitlab_token_variable_is_named_from_the_audience(audience: str, variable: str) -> None:
    assert identity.gitlab_variable(audience) == variable


def fake_tool(tmp_path: Path, name: str, token: str) -> Path:
    """A `name` on PATH that records its arguments and environment, and prints `token`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    record = tmp_path / f"{name}.json"
    script = bin_dir / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"open({str(record)!r}, 'w').write(json.dumps({{'argv': sys.argv[1:], 'env': dict(os.environ)}}))\n"
        f"print({token!r})\n", encoding="utf-8")
    script.chmod(0o755)
    return record


def tool_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    return {"PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", **extra}


def test_buildkite_agent_is_asked_for_a_token_for_the_audience(tmp_path: Path) -> None:
    record = fake_tool(tmp_path, "buildkite-agent", "header.payload.signature")
    secret = new_secret("pypi-")
    env = tool_env(tmp_path, BUILDKITE="true", TWINE_PASSWORD=secret)
    provider = identity.detect(env).provider
    assert provider is not None
    with requests.Session() as session:
        assert provider.fetch("pypi", session, POLICY) == "header.payload.signature"
    seen = json.loads(record.read_text(encoding="utf-8"))
    assert seen["argv"] == ["oidc", "request-token", "--audience", "pypi"]
    assert "TWINE_PASSWORD" not in seen["env"]


def test_circleci_is_asked_for_a_root_issuer_token_for_the_audience(tmp_path: Path) -> None:
    record = fake_tool(tmp_path, "circleci", "header.payload.signature")
    provider = identity.detect(tool_env(tmp_path, CIRCLECI="true")).provider
    assert provider is not None
    with requests.Session() as session:
        provider.fetch("testpypi", session, POLICY)
    assert json.loads(record.read_text(encoding="utf-8"))["argv"] == [
        "run", "oidc", "get", "--claims", '{"aud": "testpypi"}', "--root-issuer"]


def test_a_buildkite_job_without_the_agent_is_told_so(tmp_path: Path) -> None:
    provider = identity.detect({"BUILDKITE": "true", "PATH": str(tmp_path)}).provider
    assert provider is not None
    with requests.Session() as session, pytest.raises(TrustedPublishingError) as raised:
        provider.fetch("pypi", session, POLICY)
    assert raised.value.message == ("This is a Buildkite job, but `buildkite-agent` is not on PATH, so "
                                    "no ID token can be had.")


def test_a_gitlab_variable_that_is_no_jwt_is_refused() -> None:
    provider = identity.detect({"GITLAB_CI": "true", "PYPI_ID_TOKEN": "not-a-token"}).provider
    assert provider is not None
    with requests.Session() as session, pytest.raises(TrustedPublishingError) as raised:
        provider.fetch("pypi", session, POLICY)
    assert raised.value.message == ("`PYPI_ID_TOKEN` does not hold a JWT, so it is not an ID token "
                                    "from GitLab.")

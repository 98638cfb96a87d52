"""Trusted Publishing end to end: the action, a GitHub-style token endpoint, a Warehouse-style
front verifying tokens as PyPI does, and the real pypiserver behind it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jwt
import pytest
import requests

from pypi_publish.oidc import claims_of, pending_publisher_link
from tests.conftest import BuiltDists, Run, RunAction
from tests.fakes.github_oidc import GitHubOidc, Workflow
from tests.fakes.warehouse import Warehouse

SAMPLE = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]


@pytest.fixture
def workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    shutil.copytree(built_dists(), path / "dist")
    return path


def publish(run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc,
            inputs: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Run:
    return run_action(
        workspace, {"repository-url": warehouse.upload_url, **(inputs or {})},
        {**github_oidc.env(), "GITHUB_REF": "refs/tags/v1.2.3",
         "PYPI_PUBLISH_RETRY_BASE_DELAY": "0.05", **(env or {})},
    )


def test_publishes_with_no_secret(run_action: RunAction, workspace: Path, warehouse: Warehouse,
                                  github_oidc: GitHubOidc) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 0, run.text
    assert warehouse.files() == SAMPLE
    assert run.outputs["auth"] == "trusted-publishing"
    assert "Authentication: Trusted Publishing (OIDC)" in run.summary
    # One audience request, one ID token, one exchange: three round trips before the upload.
    assert (warehouse.audience_requests, github_oidc.issued, warehouse.mint_requests) == (1, 1, 1)


def test_minted_token_is_masked_before_it_could_be_printed(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc, {"verbose": "true"})
    assert run.returncode == 0, run.text
    [token] = warehouse.minted
    lines = run.stdout.splitlines()
    mask = lines.index(f"::add-mask::{token}")
    assert all(token not in line for line in lines[:mask] + lines[mask + 1:])
    assert token not in run.summary and token not in json.dumps(run.outputs)


def test_missing_id_token_permission_shows_the_yaml(
    run_action: RunAction, workspace: Path, warehouse: Warehouse
) -> None:
    run = run_action(workspace, {"repository-url": warehouse.upload_url}, {})
    assert run.returncode == 1
    assert "the job lacks the `id-token: write` permission." in run.stdout
    assert "permissions:%0A      id-token: write" in run.stdout
    assert "id-token: write" in run.summary
    assert warehouse.files() == []


def test_fork_pull_request_is_named(run_action: RunAction, workspace: Path, warehouse: Warehouse,
                                    tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"pull_request": {"head": {"repo": {
        "fork": True, "full_name": "someone/sample-project"}}}}))
    run = run_action(workspace, {"repository-url": warehouse.upload_url},
                     {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event)})
    assert run.returncode == 1
    assert "This run is for a pull request from a fork, and GitHub gives such runs no OIDC ID token" \
        in run.stdout
    assert "Publishing from forks is not possible" in run.stdout


def test_wrong_request_token_is_reported(run_action: RunAction, workspace: Path,
                                         warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    from tests.support.secret_sweep import new_secret

    run = publish(run_action, workspace, warehouse, github_oidc,
                  env={"ACTIONS_ID_TOKEN_REQUEST_TOKEN": new_secret("wrong-")})
    assert run.returncode == 1
    assert "GitHub did not hand out an ID token: GitHub: OIDC token request failed (code=401" \
        in run.stdout
    assert github_oidc.refused == 1 and warehouse.mint_requests == 0


@pytest.mark.parametrize(("mode", "expected", "fix"), [
    ("disabled", "Trusted Publishing is disabled on 127.0.0.1", "Use an API token for now"),
    ("absent", "has no Trusted Publishing (no `/_/oidc/audience` endpoint).",
     "Use an API token for this index"),
])
def test_audience_refusals(mode: str, expected: str, fix: str, run_action: RunAction,
                           workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    warehouse.mode = mode
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 1
    assert expected in run.stdout and fix in run.stdout
    assert github_oidc.issued == 0


def test_invalid_publisher_lists_claims_and_what_to_check(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    warehouse.publisher.workflow_file = "release.yml"
    github_oidc.workflow.environment = None
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 1
    text = run.stdout.replace("%0A", "\n")
    assert "- `invalid-publisher`: valid token, but no corresponding publisher (Check failed " \
           "for required claim 'job_workflow_ref')" in text
    assert "  repository: octo-org/sample-project\n  repository_owner: octo-org\n" \
           "  repository_owner_id: 9001\n" in text
    assert "  environment: MISSING\n  event_name: push" in text
    assert "owner `octo-org`, repository `sample-project`, workflow file `publish.yml` and " \
           "environment `(none)`" in text
    assert "The job has no `environment:` (claim `environment` is MISSING)" in text
    assert warehouse.files() == []


def test_reusable_workflow_is_pointed_out(run_action: RunAction, workspace: Path,
                                          warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    github_oidc.workflow.reusable_workflow = "octo-org/shared/.github/workflows/release.yml"
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 1
    assert "This job runs in a reusable workflow (`job_workflow_ref` is " \
           "`octo-org/shared/.github/workflows/release.yml`" in run.stdout
    assert "a reusable workflow from another repository cannot publish" in run.stdout


@pytest.mark.parametrize(("setup", "code", "hint"), [
    ("expired", "invalid-token", "The index did not accept the ID token"),
    ("pending", "invalid-pending-publisher", "Check the pending publisher's project name"),
    ("not-enabled", "not-enabled", "Trusted Publishing is switched off on the index"),
    ("issuer", "invalid-payload", "this is a bug in pypi-publish or the index"),
])
def test_each_refusal_code_has_its_fix(setup: str, code: str, hint: str, run_action: RunAction,
                                       workspace: Path, warehouse: Warehouse,
                                       github_oidc: GitHubOidc) -> None:
    if setup == "expired":
        github_oidc.lifetime = -120
    elif setup == "pending":
        warehouse.pending_project_exists = True
    elif setup == "not-enabled":
        warehouse.mode = "not-enabled"
    else:
        github_oidc.issuer = "https://issuer.invalid"
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 1
    assert f"- `{code}`: " in run.stdout.replace("%0A", "\n")
    assert hint in run.stdout
    assert warehouse.files() == []


def test_replayed_id_token_is_refused_and_never_reused_by_retries(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    token = requests.get(github_oidc.request_url + "&audience=pypi", timeout=5,
                         headers={"Authorization": f"bearer {github_oidc.request_token}"}).json()["value"]
    first = requests.post(warehouse.url + "/_/oidc/mint-token", json={"token": token}, timeout=5)
    again = requests.post(warehouse.url + "/_/oidc/mint-token", json={"token": token}, timeout=5)
    assert first.status_code == 200
    assert again.json()["errors"][0]["code"] == "invalid-reuse-token"
    # The product asks for a fresh ID token for every exchange attempt.
    warehouse.mint_failures = 1
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 0, run.text
    assert github_oidc.issued == 3 and warehouse.mint_requests == 4


def test_transient_failures_are_retried(run_action: RunAction, workspace: Path,
                                        warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    warehouse.audience_failures = 2
    warehouse.mint_failures = 1
    github_oidc.fail_next = 1
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 0, run.text
    assert warehouse.audience_requests == 3 and warehouse.mint_requests == 2
    assert "Trusted Publishing audience: HTTP 503; retrying" in run.stdout
    assert warehouse.files() == SAMPLE


def test_user_other_than_token_warns(run_action: RunAction, workspace: Path,
                                     warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc, {"user": "alice"})
    assert run.returncode == 0, run.text
    assert "`user` is `alice`, but Trusted Publishing always uploads as `__token__`" in run.stdout


def test_dry_run_requests_no_token(run_action: RunAction, workspace: Path, warehouse: Warehouse,
                                   github_oidc: GitHubOidc) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc, {"dry-run": "true"})
    assert run.returncode == 0, run.text
    assert github_oidc.issued == 0 and warehouse.audience_requests == 0
    assert "with Trusted Publishing; nothing was sent." in run.stdout


def test_pending_publisher_link_prefills_pypi_form() -> None:
    claims = claims_of(jwt.encode(Workflow().claims("pypi", 0, 60), "k" * 32, algorithm="HS256"))
    assert pending_publisher_link("https://upload.pypi.org/legacy/", claims, "sample-project") == (
        "https://pypi.org/manage/account/publishing/?provider=github&owner=octo-org"
        "&repository=sample-project&workflow_filename=publish.yml&environment=pypi"
        "&project_name=sample-project")
    test_link = pending_publisher_link("https://test.pypi.org/legacy/", claims, "p")
    assert test_link is not None
    assert test_link.startswith("https://test.pypi.org/manage/account/publishing/?")
    assert pending_publisher_link("https://pypi.example.org/legacy/", claims, "p") is None

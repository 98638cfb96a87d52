"""Trusted Publishing through the action as the runner runs it: no secret, masks first, the
fixes in the log and the summary."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import BuiltDists, Run, RunAction
from tests.fakes.github_oidc import GitHubOidc
from tests.fakes.warehouse import PendingPublisher, Publisher, Warehouse
from tests.support.tp_runner import CLAIMS

SAMPLE = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]


@pytest.fixture
def workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    shutil.copytree(built_dists(), path / "dist")
    return path


def publish(run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc,
            inputs: dict[str, str] | None = None, env: dict[str, str] | None = None) -> Run:
    # Attestations have their own tests (test_attestations_publish.py); these count ID tokens.
    return run_action(
        workspace, {"repository-url": warehouse.upload_url, "attestations": "false", **(inputs or {})},
        {**github_oidc.env(), "GITHUB_REF": "refs/tags/v1.2.3", "GITHUB_EVENT_NAME": "push",
         "PYPI_PUBLISH_RETRY_BASE_DELAY": "0.05", **(env or {})},
    )


def test_action_publishes_with_no_secret(run_action: RunAction, workspace: Path,
                                         warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 0, run.text
    assert warehouse.files() == SAMPLE
    assert run.outputs["auth"] == "trusted-publishing"
    assert "- Authentication: Trusted Publishing (OIDC)" in run.summary
    assert (warehouse.audience_requests, github_oidc.issued, warehouse.mint_requests) == (1, 1, 1)
    # The exchange's connection to the index carries the first upload: no handshake is added.
    assert len(warehouse.connections) == 1
    assert warehouse.upload_connections[0] in warehouse.connections


def test_action_masks_the_minted_token_before_any_other_output(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc, {"verbose": "true"})
    assert run.returncode == 0, run.text
    [token] = warehouse.minted
    [jwt] = github_oidc.tokens
    lines = run.stdout.splitlines()
    mask = lines.index(f"::add-mask::{token}")
    assert lines[mask - 1] == f"::add-mask::{jwt}"
    others = lines[:mask - 1] + lines[mask + 1:]
    assert all(token not in line and jwt not in line for line in others)
    assert all(secret not in run.summary + run.stderr + json.dumps(run.outputs)
               for secret in (token, jwt))


def test_action_publishes_a_new_project_through_a_pending_publisher(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    warehouse.publishers = []
    warehouse.existing_projects = set()
    warehouse.pending = [PendingPublisher(project_name="sample-project")]
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 0, run.text
    assert warehouse.files() == SAMPLE


def test_action_token_of_another_project_is_refused_by_the_index(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    warehouse.publishers = [Publisher(projects={"other-project"})]
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 1
    assert "The given token isn't allowed to upload to project 'sample-project'" in run.stdout
    assert warehouse.files() == []


def test_action_without_permission_puts_the_fix_in_the_summary(
    run_action: RunAction, workspace: Path, warehouse: Warehouse
) -> None:
    run = run_action(workspace, {"repository-url": warehouse.upload_url}, {})
    assert run.returncode == 1
    assert "::error title=Trusted Publishing failed::Trusted Publishing needs an OIDC ID token " \
           "from GitHub, but this job may not request one" in run.stdout
    assert "- Authentication: Trusted Publishing (OIDC)" in run.summary
    assert "the job lacks the `id-token: write` permission." in run.summary
    assert "```yaml\njobs:\n  publish:\n    permissions:\n      id-token: write" in run.summary
    assert warehouse.files() == []


def test_action_refusal_puts_claims_and_fix_in_log_and_summary(
    run_action: RunAction, workspace: Path, warehouse: Warehouse, github_oidc: GitHubOidc
) -> None:
    warehouse.publisher.environment = "release"
    run = publish(run_action, workspace, warehouse, github_oidc)
    assert run.returncode == 1
    assert CLAIMS.replace("\n", "%0A") in run.stdout
    assert CLAIMS in run.summary
    assert "environment name `pypi` (or empty, to allow any environment)" in run.summary
    assert warehouse.files() == []


def test_action_warns_when_user_is_not_token(run_action: RunAction, workspace: Path,
                                             warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc, {"user": "alice"})
    assert run.returncode == 0, run.text
    assert "::warning title=Trusted Publishing user::`user` is `alice`, but no `password` or " \
           "`PYPI_API_TOKEN` was given" in run.stdout


def test_action_dry_run_requests_no_token(run_action: RunAction, workspace: Path,
                                          warehouse: Warehouse, github_oidc: GitHubOidc) -> None:
    run = publish(run_action, workspace, warehouse, github_oidc, {"dry-run": "true"})
    assert run.returncode == 0, run.text
    assert github_oidc.issued == 0 and warehouse.audience_requests == 0

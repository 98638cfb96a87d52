"""Trusted Publishing against two loopback servers: a GitHub-style ID token endpoint and a
Warehouse-style front that verifies its tokens as PyPI does, with the real pypiserver behind it.

The first part calls `mint_upload_token` in this process (the runner's variables set in the
environment, as `id` reads them from there); the second runs the action as the runner does.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from pypi_publish.errors import TrustedPublishingError
from pypi_publish.gha import Console
from pypi_publish.http import Transport
from pypi_publish.identity import github_provider
from pypi_publish.index import make_index
from pypi_publish.retry import RetryPolicy
from pypi_publish.tp_diagnostics import explain_refusal, publisher_links, user_warning
from pypi_publish.trusted_publishing import mint_upload_token
from pypi_publish.wire import mint_answer
from pypi_publish.wording import ACTION
from tests.conftest import BuiltDists, Run, RunAction
from tests.fakes.github_oidc import GitHubOidc, Workflow
from tests.fakes.warehouse import PendingPublisher, Publisher, Warehouse
from tests.support.index_server import free_port
from tests.support.secret_sweep import new_secret

SAMPLE = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
CLAIMS = """\
The claims the index matched on:
- `repository`: `octo-org/sample-project`
- `repository_owner`: `octo-org`
- `repository_owner_id`: `9001`
- `job_workflow_ref`: `octo-org/sample-project/.github/workflows/publish.yml@refs/tags/v1.2.3`
- `workflow_ref`: `octo-org/sample-project/.github/workflows/publish.yml@refs/tags/v1.2.3`
- `ref`: `refs/tags/v1.2.3`
- `environment`: `pypi`
- `event_name`: `push`"""


# -- the exchange on its own --------------------------------------------------------------------------


@dataclass
class Exchange:
    """One call of `mint_upload_token`: what it returned or raised, and what it printed."""

    token: str | None
    error: TrustedPublishingError | None
    lines: list[str]
    waits: list[float] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def failure(self) -> TrustedPublishingError:
        assert self.error is not None, self.text
        return self.error


@dataclass
class Runner:
    """The runner's side of a job: its variables (also in `os.environ`, where `id` reads them)."""

    monkeypatch: pytest.MonkeyPatch
    github: GitHubOidc
    warehouse: Warehouse
    tmp_path: Path

    def set(self, **variables: str | None) -> None:
        for name, value in variables.items():
            if value is None:
                self.monkeypatch.delenv(name, raising=False)
            else:
                self.monkeypatch.setenv(name, value)

    def event(self, name: str, payload: dict[str, object]) -> None:
        path = self.tmp_path / "event.json"
        path.write_text(json.dumps(payload), encoding="utf-8")
        self.set(GITHUB_EVENT_NAME=name, GITHUB_EVENT_PATH=str(path))

    def exchange(self, upload_url: str | None = None, project: str = "sample-project",
                 attempts: int = 4) -> Exchange:
        out = io.StringIO()
        waits: list[float] = []
        policy = RetryPolicy(attempts=attempts, base_delay=0.01, max_delay=0.05,
                             sleep=waits.append)
        token: str | None = None
        error: TrustedPublishingError | None = None
        env = dict(os.environ)
        provider = github_provider(env)
        with Transport(env) as transport:
            try:
                token = mint_upload_token(
                    make_index(upload_url or self.warehouse.upload_url), provider,
                    transport.session, policy, Console(actions=True, out=out), ACTION,
                    project).token
            except TrustedPublishingError as raised:
                error = raised
        # Through pytest's capture, so the secrets sweep reads what the product printed.
        sys.stdout.write(out.getvalue())
        if error is not None:
            sys.stdout.write(f"{error}\n")
        return Exchange(token, error, out.getvalue().splitlines(), waits)


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, github_oidc: GitHubOidc, warehouse: Warehouse,
           tmp_path: Path) -> Iterator[Runner]:
    for name in list(os.environ):
        if name.startswith(("GITHUB_", "ACTIONS_", "RUNNER_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_REPOSITORY", "octo-org/sample-project")
    monkeypatch.setenv("GITHUB_EVENT_NAME", "push")
    for name, value in github_oidc.env().items():
        monkeypatch.setenv(name, value)
    yield Runner(monkeypatch, github_oidc, warehouse, tmp_path)


def test_exchange_returns_the_minted_token_masked_before_anything_else(runner: Runner) -> None:
    result = runner.exchange()
    [minted] = runner.warehouse.minted
    [jwt] = runner.github.tokens
    assert result.token == minted
    assert result.lines[:2] == [f"::add-mask::{jwt}", f"::add-mask::{minted}"]
    assert all(minted not in line and jwt not in line for line in result.lines[2:])
    assert result.lines[2].startswith(
        "Trusted Publishing: 127.0.0.1:") and result.lines[2].split(" ", 3)[3].startswith(
        "accepted the ID token of `octo-org/sample-project` `publish.yml` (environment `pypi`); "
        "upload token valid until ")
    assert runner.github.audiences == ["pypi"]


def test_exchange_costs_three_requests_and_one_connection_to_the_index(runner: Runner) -> None:
    runner.exchange()
    # Audience, ID token, mint: the two index requests share one kept-alive connection, which
    # the upload of the first file then reuses.
    assert (runner.warehouse.audience_requests, runner.github.issued,
            runner.warehouse.mint_requests) == (1, 1, 1)
    assert len(runner.warehouse.connections) == 1


def test_audience_403_says_trusted_publishing_is_disabled(runner: Runner) -> None:
    runner.warehouse.mode = "disabled"
    error = runner.exchange().failure()
    assert error.message == ("Trusted Publishing is disabled on 127.0.0.1:"
                             f"{runner.warehouse.http.server.server_address[1]} (its audience "
                             "endpoint answered 403), usually for a while during an incident.")
    assert error.hint == ("Use an API token for now: store it as the `PYPI_API_TOKEN` secret and "
                          "pass it in `env:`, or retry later.")
    assert runner.github.issued == 0


def test_audience_404_says_use_an_api_token_for_this_index(runner: Runner) -> None:
    runner.warehouse.mode = "absent"
    error = runner.exchange().failure()
    assert error.message.endswith(" has no Trusted Publishing (no `/_/oidc/audience` endpoint).")
    assert error.hint == ("Use an API token for this index: set `password` or the `PYPI_API_TOKEN` "
                          "environment variable.")
    assert runner.github.issued == 0


def test_missing_id_token_permission_shows_the_permissions_yaml(runner: Runner) -> None:
    runner.set(ACTIONS_ID_TOKEN_REQUEST_URL=None, ACTIONS_ID_TOKEN_REQUEST_TOKEN=None)
    error = runner.exchange().failure()
    assert error.message == (
        "Trusted Publishing needs an OIDC ID token from GitHub, but this job may not request one "
        "(`ACTIONS_ID_TOKEN_REQUEST_URL` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN` not set): the job "
        "lacks the `id-token: write` permission.")
    assert error.hint.startswith(
        "Give the publishing job that permission, at job level so other jobs keep none:\n"
        "```yaml\njobs:\n  publish:\n    permissions:\n      id-token: write   # Trusted Publishing\n"
        "      contents: read\n```\n"
        "- In a reusable workflow, the calling job must grant `id-token: write` as well.\n")
    assert runner.warehouse.mint_requests == 0


def test_outside_github_actions_says_so_and_shows_the_permission(runner: Runner) -> None:
    runner.set(GITHUB_ACTIONS=None)
    error = runner.exchange().failure()
    assert error.message == ("Trusted Publishing needs an OIDC ID token from GitHub Actions, and "
                             "this run is not a GitHub Actions job (`GITHUB_ACTIONS` is not `true`).")
    assert "permissions:\n      id-token: write" in error.hint
    assert "Or pass an API token: the `password` input, or `PYPI_API_TOKEN`" in error.hint


def test_pull_request_from_a_fork_is_named_and_explained(runner: Runner) -> None:
    # What GitHub does for a fork's pull request: no ID-token variables, whatever the workflow asks.
    runner.set(ACTIONS_ID_TOKEN_REQUEST_URL=None, ACTIONS_ID_TOKEN_REQUEST_TOKEN=None)
    runner.event("pull_request", {"pull_request": {"head": {"repo": {
        "fork": True, "full_name": "someone/sample-project"}}}})
    error = runner.exchange().failure()
    assert error.message == ("This run is for a pull request from a fork (someone/sample-project), "
                             "and GitHub gives such runs no OIDC ID token, so Trusted Publishing "
                             "cannot work here.")
    assert error.hint.startswith("Publishing from forks is not possible")


def test_pull_request_inside_a_repository_that_is_a_fork_is_a_permission_problem(
    runner: Runner,
) -> None:
    runner.set(ACTIONS_ID_TOKEN_REQUEST_URL=None, ACTIONS_ID_TOKEN_REQUEST_TOKEN=None)
    runner.event("pull_request", {"pull_request": {"head": {"repo": {
        "fork": True, "full_name": "octo-org/sample-project"}}}})
    assert "lacks the `id-token: write` permission" in runner.exchange().failure().message


def test_dependabot_runs_are_named(runner: Runner) -> None:
    runner.set(ACTIONS_ID_TOKEN_REQUEST_URL=None, ACTIONS_ID_TOKEN_REQUEST_TOKEN=None,
               GITHUB_ACTOR="dependabot[bot]")
    error = runner.exchange().failure()
    assert error.message.startswith("This run was started by Dependabot, and GitHub gives "
                                    "Dependabot's runs no OIDC ID token")


def test_pull_request_target_without_permission_also_says_pypi_refuses_it(runner: Runner) -> None:
    runner.set(ACTIONS_ID_TOKEN_REQUEST_URL=None, ACTIONS_ID_TOKEN_REQUEST_TOKEN=None)
    runner.event("pull_request_target", {"pull_request": {"head": {"repo": {
        "fork": True, "full_name": "someone/sample-project"}}}})
    error = runner.exchange().failure()
    assert "lacks the `id-token: write` permission" in error.message
    assert "- Even with it, PyPI refuses ID tokens from `pull_request_target` runs" in error.hint


def test_wrong_request_token_is_reported_without_retrying(runner: Runner) -> None:
    runner.set(ACTIONS_ID_TOKEN_REQUEST_TOKEN=new_secret("wrong-"))
    error = runner.exchange().failure()
    assert error.message == ("GitHub refused to hand out an ID token (HTTP 401): it did not accept "
                             "the request token in `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.")
    assert error.hint.startswith("The runner sets `ACTIONS_ID_TOKEN_REQUEST_URL` and "
                                 "`ACTIONS_ID_TOKEN_REQUEST_TOKEN` for each job: do not set or "
                                 "override them in `env:`.")
    assert runner.github.refused == 1 and runner.warehouse.mint_requests == 0


def test_invalid_publisher_lists_the_claims_and_the_fields_to_check(runner: Runner) -> None:
    runner.warehouse.publisher.workflow_file = "release.yml"
    result = runner.exchange()
    error = result.failure()
    assert error.message == (
        "The index refused to exchange this job's GitHub ID token for an upload token: Token "
        "request failed.\n"
        "- `invalid-publisher`: valid token, but no corresponding publisher (Publisher with "
        "matching claims was not found)\n" + CLAIMS)
    hints = error.hint.split("\n- ")
    assert hints[0] == ("No Trusted Publisher on the index matches these claims. The project's "
                        "GitHub publisher must read exactly: owner `octo-org`, repository name "
                        "`sample-project`, workflow name `publish.yml`, environment name `pypi` "
                        "(or empty, to allow any environment).")
    assert hints[1].startswith("The index also matches the owner's numeric id "
                               "(`repository_owner_id` `9001`), saved when the publisher was added")
    assert len(hints) == 2  # not a reusable workflow, has an environment, not on PyPI: no more
    assert all(jwt not in str(error) for jwt in runner.github.tokens)


def test_missing_environment_is_pointed_out(runner: Runner) -> None:
    runner.warehouse.publisher.environment = "pypi"
    runner.github.workflow.environment = None
    error = runner.exchange().failure()
    assert "- `environment`: MISSING\n" in error.message
    assert "environment name empty (this job has no `environment:`)." in error.hint
    assert ("- The job has no `environment:` (claim `environment` is MISSING). If the publisher on "
            "the index names an environment, add `environment: <that name>` to the publishing "
            "job, beside `runs-on:`.") in error.hint


def test_reusable_workflow_from_another_repository_is_pointed_out(runner: Runner) -> None:
    runner.github.workflow.reusable_workflow = "octo-org/shared/.github/workflows/release.yml@v1"
    error = runner.exchange().failure()
    assert ("- This job runs in a reusable workflow (`job_workflow_ref` is "
            "`octo-org/shared/.github/workflows/release.yml@v1`, `workflow_ref` is "
            "`octo-org/sample-project/.github/workflows/publish.yml@refs/tags/v1.2.3`): the index "
            "matches the reusable workflow; it lives in `octo-org/shared`, not in "
            "`octo-org/sample-project`, so it cannot publish: move the publish step into a "
            "workflow of this repository.") in error.hint


def test_reusable_workflow_of_the_same_repository_names_the_file_to_register(runner: Runner) -> None:
    runner.github.workflow.reusable_workflow = (
        "octo-org/sample-project/.github/workflows/release.yml@refs/tags/v1.2.3")
    error = runner.exchange().failure()
    assert "workflow name `release.yml`" in error.hint
    assert "the publisher must name `release.yml`, and the workflow must be called at the same " \
           "ref as the caller" in error.hint
    # With the reusable workflow registered, the same run publishes.
    runner.warehouse.publisher.workflow_file = "release.yml"
    assert runner.exchange().token is not None


def test_pull_request_target_is_refused_with_its_reason(runner: Runner) -> None:
    runner.github.workflow.event_name = "pull_request_target"
    error = runner.exchange().failure()
    assert ("- `invalid-publisher`: valid token, but no corresponding publisher (Publishing from a "
            "workflow invoked via 'pull_request_target' is not supported.)") in error.message
    assert "- PyPI refuses ID tokens from `pull_request_target` runs (claim `event_name`)" \
        in error.hint


@pytest.mark.parametrize(("host", "site"), [("https://upload.pypi.org/legacy/", "https://pypi.org"),
                                            ("https://test.pypi.org/legacy/", "https://test.pypi.org")])
def test_refusal_from_pypi_links_the_prefilled_publisher_form(host: str, site: str) -> None:
    claims = Workflow().claims("pypi", 0, 60)
    assert publisher_links(make_index(host), claims, "sample-project") == (
        "To add this workflow as a publisher of `sample-project`, open (pre-filled): "
        f"{site}/manage/project/sample-project/settings/publishing/?provider=github&owner=octo-org"
        "&repository=sample-project&workflow_filename=publish.yml&environment=pypi\n"
        "- If `sample-project` is not on the index yet, add a pending publisher for it at "
        f"{site}/manage/account/publishing/ with the values above.")


def test_refusal_from_pypi_ends_with_the_links() -> None:
    claims = Workflow().claims("pypi", 0, 60)
    answer = {"message": "Token request failed", "errors": [
        {"code": "invalid-publisher", "description": "valid token, but no corresponding publisher "
                                                     "(Publisher with matching claims was not found)"}]}
    error = explain_refusal(mint_answer(answer), claims, make_index("https://upload.pypi.org/legacy/"),
                            "sample-project")
    assert error.hint.endswith(
        "\n- To add this workflow as a publisher of `sample-project`, open (pre-filled): "
        "https://pypi.org/manage/project/sample-project/settings/publishing/?provider=github"
        "&owner=octo-org&repository=sample-project&workflow_filename=publish.yml&environment=pypi\n"
        "- If `sample-project` is not on the index yet, add a pending publisher for it at "
        "https://pypi.org/manage/account/publishing/ with the values above.")


def test_no_publisher_link_for_other_indexes() -> None:
    claims = Workflow().claims("pypi", 0, 60)
    assert publisher_links(make_index("https://pypi.example.org/legacy/"), claims, "p") is None


def test_invalid_token_when_the_id_token_has_expired(runner: Runner) -> None:
    runner.github.lifetime = -120  # past Warehouse's 30 s leeway
    error = runner.exchange().failure()
    assert "- `invalid-token`: malformed or invalid token\n" in error.message
    assert error.hint.startswith("The index could not verify the ID token: expired or not yet "
                                 "valid (check the runner's clock), made for another audience, or "
                                 "signed with a key the index does not know (token: audience "
                                 "`pypi`, issuer `https://token.actions.githubusercontent.com`, "
                                 "issued 20")
    assert error.hint.endswith("Re-run the job: each attempt gets a fresh token.")


def test_invalid_token_when_signed_with_an_unknown_key(runner: Runner) -> None:
    runner.github.key_id = "rotated-key"
    assert "- `invalid-token`: malformed or invalid token\n" in runner.exchange().failure().message


def test_invalid_payload_for_an_unknown_issuer(runner: Runner) -> None:
    runner.github.issuer = "https://token.actions.githubusercontent.com/octo-enterprise"
    error = runner.exchange().failure()
    assert "- `invalid-payload`: unknown trusted publishing issuer\n" in error.message
    assert error.hint == (
        "The index does not accept ID tokens from issuer "
        "`https://token.actions.githubusercontent.com/octo-enterprise` (claim `iss`): PyPI accepts "
        "GitHub's `https://token.actions.githubusercontent.com` only, not GitHub Enterprise Server "
        "or an enterprise's own issuer. Use an API token.")


def test_not_enabled_for_github_tokens(runner: Runner) -> None:
    runner.warehouse.mode = "not-enabled"
    error = runner.exchange().failure()
    assert "- `not-enabled`: github trusted publishing functionality not enabled\n" in error.message
    assert error.hint.startswith("Trusted Publishing with GitHub is switched off on the index")


def test_pending_publisher_for_a_project_that_exists(runner: Runner) -> None:
    runner.warehouse.publishers = []
    runner.warehouse.pending = [PendingPublisher(project_name="sample-project")]
    error = runner.exchange(upload_url=None).failure()
    assert "- `invalid-pending-publisher`: valid token, but project already exists\n" in error.message
    assert error.hint.startswith("A pending publisher matched this workflow, but its project "
                                 "already exists on the index")


def test_pending_publisher_creates_the_project_and_mints(runner: Runner) -> None:
    runner.warehouse.publishers = []
    runner.warehouse.existing_projects = set()
    runner.warehouse.pending = [PendingPublisher(project_name="Sample_Project")]
    assert runner.exchange().token is not None
    assert runner.warehouse.existing_projects == {"sample-project"}
    assert runner.warehouse.pending == []


def test_reused_id_token_is_refused(runner: Runner) -> None:
    runner.github.repeat_token = True  # something between job and GitHub serves a stale token
    assert runner.exchange().token is not None
    error = runner.exchange().failure()
    assert "- `invalid-reuse-token`: invalid token: already used\n" in error.message
    assert error.hint.startswith("The index had seen this ID token before; each is accepted once.")


def test_replayed_id_token_is_refused_by_the_index(github_oidc: GitHubOidc,
                                                   warehouse: Warehouse) -> None:
    token = github_oidc.token("pypi")
    first = requests.post(warehouse.url + "/_/oidc/mint-token", json={"token": token}, timeout=5)
    again = requests.post(warehouse.url + "/_/oidc/mint-token", json={"token": token}, timeout=5)
    assert first.status_code == 200
    assert (again.status_code, again.json()) == (422, {
        "message": "Token request failed",
        "errors": [{"code": "invalid-reuse-token", "description": "invalid token: already used"}]})


def test_503s_are_retried_with_a_fresh_id_token_per_exchange(runner: Runner) -> None:
    runner.warehouse.audience_failures = 2
    runner.github.fail_next = 1
    runner.warehouse.mint_failures = 1
    result = runner.exchange()
    assert result.token is not None
    assert runner.warehouse.audience_requests == 3
    # One ID token refused by GitHub's 503, then one per exchange attempt: never one used twice.
    assert (runner.github.issued, runner.warehouse.mint_requests) == (2, 2)
    assert len(set(runner.github.tokens)) == 2
    assert [line.split(" in ")[0] for line in result.lines if "retrying" in line] == [
        "Trusted Publishing audience: HTTP 503; retrying",
        "Trusted Publishing audience: HTTP 503; retrying",
        "Trusted Publishing ID token: GitHub's token service answered HTTP 503; retrying",
        "Trusted Publishing token exchange: HTTP 503; retrying"]
    assert len(result.waits) == 4 and all(0 < wait <= 0.05 for wait in result.waits)


def test_github_retry_after_is_honoured(runner: Runner) -> None:
    runner.github.fail_next = 1
    runner.github.retry_after = "2"
    result = runner.exchange()
    assert result.token is not None
    assert result.waits == [2.0]


def test_index_503_that_persists_is_reported_after_the_attempts(runner: Runner) -> None:
    runner.warehouse.mint_failures = 99
    error = runner.exchange(attempts=3).failure()
    assert error.message == "The index answered the token exchange with HTTP 503 (3 attempts)."
    assert runner.github.issued == 3


def test_github_token_service_down_is_reported_as_github(runner: Runner) -> None:
    runner.github.fail_next = 99
    error = runner.exchange(attempts=3).failure()
    assert error.message == ("Could not get an ID token from GitHub: GitHub's token service "
                             "answered HTTP 503 (3 attempts).")
    assert runner.warehouse.mint_requests == 0


def test_unreachable_index_is_reported_without_retrying(runner: Runner) -> None:
    port = free_port()
    # A refused connection is a wrong host or port: retrying would only make the user wait.
    error = runner.exchange(f"http://127.0.0.1:{port}/legacy/", attempts=2).failure()
    assert error.message == (f"Could not reach 127.0.0.1:{port} to start Trusted Publishing: "
                             "connection refused (1 attempt).")


@pytest.mark.parametrize(("user", "warned"), [("__token__", False), ("", False), ("alice", True)])
def test_user_other_than_token_gets_a_warning(user: str, warned: bool) -> None:
    text = user_warning(user)
    assert (text is not None) == warned
    if text:
        assert text.startswith("`user` is `alice`, but no `password` or `PYPI_API_TOKEN` was "
                               "given, so the upload uses Trusted Publishing, which always "
                               "uploads as `__token__`: `user` is ignored.")


# -- the action, as the runner runs it ------------------------------------------------------------------


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

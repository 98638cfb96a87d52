"""The Trusted Publishing exchange on its own, in this process, against loopback stand-ins of
GitHub's ID token service and Warehouse's OIDC endpoints: tokens, permissions, retries."""

from __future__ import annotations

import pytest

from pypi_publish.tp_diagnostics import user_warning
from tests.support.index_server import free_port
from tests.support.secret_sweep import new_secret
from tests.support.tp_runner import Runner


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

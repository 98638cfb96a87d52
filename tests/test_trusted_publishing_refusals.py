"""When the index refuses the exchange: each of Warehouse's reasons, the claims it matched on,
and the publisher settings to fix (links pre-filled on PyPI and TestPyPI)."""

from __future__ import annotations

import pytest
import requests

from pypi_publish.index import make_index
from pypi_publish.tp_diagnostics import explain_refusal, publisher_links
from pypi_publish.wire import mint_answer
from tests.fakes.github_oidc import GitHubOidc, Workflow
from tests.fakes.warehouse import PendingPublisher, Warehouse
from tests.support.tp_runner import CLAIMS, Runner


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

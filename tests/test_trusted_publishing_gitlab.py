"""Trusted Publishing from GitLab CI/CD with the local command, and `--trusted-publishing`.

A GitLab-style issuer signs the job's ID token (`$PYPI_ID_TOKEN`, GitLab's claim set); the
Warehouse-style front verifies it as Warehouse's GitLab publisher does (project path,
`ci_config_ref_uri`, environment, single-use `jti`) and passes the upload to the real pypiserver.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pypi_publish.index import make_index
from pypi_publish.tp_diagnostics import explain_refusal
from pypi_publish.wire import mint_answer
from tests.conftest import BuiltDists, Run, RunCli
from tests.fakes.gitlab_oidc import GitLabOidc
from tests.fakes.warehouse_gitlab import GitLabPublisher, GitLabWarehouse
from tests.support.index_server import IndexServer

FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
LOOKED_FOR = "GitHub Actions, Google Cloud, Buildkite, GitLab CI/CD, CircleCI"


@pytest.fixture
def root(built_dists: BuiltDists, tmp_path: Path) -> Path:
    shutil.copytree(built_dists(), tmp_path / "ws" / "dist")
    return tmp_path / "ws"


def publish(run_cli: RunCli, root: Path, warehouse: GitLabWarehouse, env: dict[str, str],
            *args: str) -> Run:
    return run_cli(["--skip-build", "--repository-url", warehouse.upload_url, *args], root, env)


def test_gitlab_job_publishes_with_trusted_publishing(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 0, run.text
    assert gitlab_warehouse.files() == FILES
    assert ("accepted the ID token of `octo-group/sample-project` `.gitlab-ci.yml` (environment "
            "`pypi`)") in run.stdout
    assert "Using Trusted Publishing as `__token__`." in run.stdout


def test_wrong_project_path_shows_the_claims_and_the_publisher_to_register(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    gitlab_oidc.pipeline.project_path = "octo-group/renamed-project"
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 1
    assert gitlab_warehouse.files() == []
    assert ("The index refused to exchange this job's GitLab ID token for an upload token: Token "
            "request failed.\n  - `invalid-publisher`: valid token, but no corresponding publisher "
            "(Publisher with matching claims was not found)\n"
            "  The claims the index matched on:\n"
            "  - `iss`: `https://gitlab.com`\n"
            "  - `project_path`: `octo-group/renamed-project`\n"
            "  - `ci_config_ref_uri`: `gitlab.com/octo-group/renamed-project//.gitlab-ci.yml"
            "@refs/tags/v1.2.3`\n"
            "  - `ref_path`: `refs/tags/v1.2.3`\n") in run.stdout
    assert "Detected: a GitLab CI/CD job (`GITLAB_CI` is set)." in run.stdout
    assert ("The project's GitLab publisher must read exactly: namespace `octo-group`, project "
            "name `renamed-project`, top-level pipeline file path `.gitlab-ci.yml`, environment "
            "name `pypi` (or empty, to allow any environment).") in run.stdout


def test_a_pipeline_defined_in_another_project_is_named(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    gitlab_oidc.pipeline.config_project = "octo-group/ci-templates"
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 1
    assert "The ci_config_ref_uri claim does not match" in run.stdout
    assert ("The pipeline definition comes from `gitlab.com/octo-group/ci-templates` (claim "
            "`ci_config_ref_uri`), not from `octo-group/sample-project`") in run.stdout


def test_a_job_without_the_publishers_environment_is_told_to_add_it(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    gitlab_warehouse.gitlab_publisher.environment = "pypi"
    gitlab_oidc.pipeline.environment = None
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 1
    assert "- `environment`: MISSING" in run.stdout
    assert "add `environment: <that name>` to the publishing job in `.gitlab-ci.yml`" in run.stdout


def test_environment_names_are_matched_with_their_case(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    gitlab_warehouse.gitlab_publisher.environment = "PyPI"
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 1
    assert "Publisher with matching claims was not found" in run.stdout


def test_project_path_case_differs_from_the_publisher_is_refused_with_the_spelling(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    # Found without regard to case, then `ci_config_ref_uri` is compared exactly.
    gitlab_warehouse.gitlab_publisher.namespace = "Octo-Group"
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 1
    assert "The ci_config_ref_uri claim does not match" in run.stdout
    assert "namespace `octo-group`" in run.stdout


def test_a_token_for_another_audience_is_refused_before_the_exchange(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env(audience="testpypi"))
    assert run.returncode == 1
    assert gitlab_warehouse.mint_requests == 0
    assert ("`PYPI_ID_TOKEN` holds an ID token for audience `testpypi`, but the index accepts only "
            "tokens for `pypi`.") in run.stdout
    assert "id_tokens:\n      PYPI_ID_TOKEN:\n        aud: pypi" in run.stdout


def test_a_gitlab_job_without_the_id_token_is_shown_the_id_tokens_entry(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    env = gitlab_oidc.job_env()
    del env["PYPI_ID_TOKEN"]
    run = publish(run_cli, root, gitlab_warehouse, env)
    assert run.returncode == 1
    assert "This is a GitLab CI/CD job, but `PYPI_ID_TOKEN` is not set" in run.stdout
    assert gitlab_warehouse.mint_requests == 0


def test_a_second_exchange_of_the_same_gitlab_token_explains_one_token_per_job(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    env = gitlab_oidc.job_env()
    gitlab_warehouse.used_jti.update(_jti(gitlab_oidc))  # as if an earlier attempt had used it
    run = publish(run_cli, root, gitlab_warehouse, env)
    assert run.returncode == 1
    assert "- `invalid-reuse-token`: invalid token: already used" in run.stdout
    assert "GitLab gives a job a single token per `id_tokens:` entry" in run.stdout


def _jti(gitlab_oidc: GitLabOidc) -> set[str]:
    import jwt

    return {str(jwt.decode(t, options={"verify_signature": False})["jti"]) for t in gitlab_oidc.issued}


# -- --trusted-publishing ------------------------------------------------------------------------


def test_never_without_a_token_fails_with_the_credentials_message(
    root: Path, index: IndexServer, run_cli: RunCli
) -> None:
    run = run_cli(["--skip-build", "--repository-url", index.url, "--trusted-publishing", "never"],
                  root, {})
    assert run.returncode == 1
    assert "No credentials: no token was given (`TWINE_PASSWORD`, `PYPI_API_TOKEN` or a password " \
           "in `~/.pypirc`)" in run.stdout
    assert index.files() == []


def test_never_does_not_exchange_a_gitlab_token(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env(),
                  "--trusted-publishing", "never")
    assert run.returncode == 1
    assert ("and Trusted Publishing is off (`--trusted-publishing never`), although this is a GitLab "
            "CI/CD job (`GITLAB_CI` is set).") in run.stdout
    assert "drop `--trusted-publishing never`" in run.stdout
    assert gitlab_warehouse.audience_requests == 0 and gitlab_warehouse.mint_requests == 0


def test_always_without_an_identity_names_the_providers_tried(
    root: Path, index: IndexServer, run_cli: RunCli
) -> None:
    run = run_cli(["--skip-build", "--repository-url", index.url, "--trusted-publishing", "always"],
                  root, {"TWINE_PASSWORD": index.password})
    assert run.returncode == 1
    assert ("Trusted Publishing was asked for (`--trusted-publishing always`), but no CI identity "
            f"was found (looked for: {LOOKED_FOR}).") in run.stdout
    assert index.files() == []


def test_auto_prefers_a_configured_token_to_the_gitlab_identity(
    root: Path, index: IndexServer, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse,
    run_cli: RunCli
) -> None:
    run = run_cli(["--skip-build", "--repository-url", index.url], root,
                  {**gitlab_oidc.job_env(), "TWINE_PASSWORD": index.password})
    assert run.returncode == 0, run.text
    assert "Using `TWINE_PASSWORD` as `__token__`." in run.stdout
    assert gitlab_warehouse.mint_requests == 0


def test_always_uses_the_gitlab_identity_over_a_configured_token(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    run = publish(run_cli, root, gitlab_warehouse,
                  {**gitlab_oidc.job_env(), "TWINE_PASSWORD": gitlab_warehouse.index.password},
                  "--trusted-publishing", "always")
    assert run.returncode == 0, run.text
    assert "Trusted Publishing was asked for, so the configured token is not used." in run.stdout
    assert gitlab_warehouse.mint_requests == 1


# -- diagnostics of other providers --------------------------------------------------------------


def test_a_refused_google_cloud_token_names_the_service_account_to_register() -> None:
    claims = {"iss": "https://accounts.google.com", "email": "release@proj.iam.gserviceaccount.com",
              "email_verified": True, "sub": "1098765", "aud": "pypi"}
    answer = {"message": "Token request failed", "errors": [
        {"code": "invalid-publisher", "description": "valid token, but no corresponding publisher "
                                                     "(Publisher with matching claims was not found)"}]}
    error = explain_refusal(mint_answer(answer), claims, make_index("https://upload.pypi.org/legacy/"),
                            "sample-project", "Google Cloud")
    assert "- `email`: `release@proj.iam.gserviceaccount.com`" in error.message
    assert "must name the email `release@proj.iam.gserviceaccount.com`" in error.hint
    assert ("https://pypi.org/manage/project/sample-project/settings/publishing/?provider=google&"
            "email=release%40proj.iam.gserviceaccount.com&sub=1098765") in error.hint


def test_a_buildkite_token_refused_as_unknown_says_the_index_has_no_such_publisher() -> None:
    answer = {"message": "Token request failed", "errors": [
        {"code": "invalid-payload", "description": "unknown trusted publishing issuer"}]}
    claims = {"iss": "https://agent.buildkite.com", "sub": "organization:acme:pipeline:release"}
    error = explain_refusal(mint_answer(answer), claims, make_index("https://upload.pypi.org/legacy/"),
                            "sample-project", "Buildkite")
    assert "this job's Buildkite ID token" in error.message
    assert error.hint.startswith("The index does not accept ID tokens from Buildkite (issuer "
                                 "`https://agent.buildkite.com`): it has Trusted Publishers for "
                                 "GitHub Actions, GitLab CI/CD, Google Cloud and ActiveState only.")


def test_gitlab_publisher_link_prefills_the_gitlab_form(gitlab_oidc: GitLabOidc) -> None:
    claims = gitlab_oidc.pipeline.claims("pypi", "https://gitlab.com", 0, 300)
    answer = {"message": "Token request failed", "errors": [
        {"code": "invalid-publisher", "description": "valid token, but no corresponding publisher"}]}
    error = explain_refusal(mint_answer(answer), claims, make_index("https://upload.pypi.org/legacy/"),
                            "sample-project", "GitLab")
    assert ("To add this pipeline as a publisher of `sample-project`, open (pre-filled): "
            "https://pypi.org/manage/project/sample-project/settings/publishing/?provider=gitlab&"
            "namespace=octo-group&project=sample-project&workflow_filepath=.gitlab-ci.yml&"
            "environment=pypi") in error.hint


def test_a_gitlab_publisher_on_the_index_is_found_by_its_workflow_path(
    root: Path, gitlab_oidc: GitLabOidc, gitlab_warehouse: GitLabWarehouse, run_cli: RunCli
) -> None:
    gitlab_oidc.pipeline.ci_config_path = "ci/release.yml"
    gitlab_warehouse.gitlab_publishers = [GitLabPublisher(workflow_filepath="ci/release.yml")]
    run = publish(run_cli, root, gitlab_warehouse, gitlab_oidc.job_env())
    assert run.returncode == 0, run.text
    assert "`octo-group/sample-project` `ci/release.yml`" in run.stdout

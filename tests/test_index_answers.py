"""Warehouse's real refusals, each served with its exact status, reason and page, and the cause and
fix the product gives for it (the answers: tests/fakes/warehouse_answers.py, quoted from
pypi/warehouse); and the words of each front door around them."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import BuiltDists, Run, RunAction, RunCli
from tests.fakes import warehouse_answers as wa
from tests.fakes.github_oidc import GitHubOidc
from tests.support.canned_index import CannedAnswer, CannedIndex, Page, simple_root
from tests.support.secret_sweep import new_secret

WHEEL = "sample_project-1.2.3-py3-none-any.whl"
SDIST = "sample_project-1.2.3.tar.gz"
FAST = {"PYPI_PUBLISH_RETRY_BASE_DELAY": "0.01", "PYPI_PUBLISH_RETRY_ATTEMPTS": "2"}
BLAKE = "0f" * 32
STORAGE = "https://docs.pypi.org/project-management/storage-limits"


@pytest.fixture
def workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    shutil.copytree(built_dists(), path / "dist")
    return path


def error_text(run: Run) -> str:
    """The error annotation's message and hint, as one text."""
    [line] = [line for line in run.stdout.splitlines() if line.startswith("::error")]
    return line.split("::", 2)[2].replace("%0A", "\n")


def with_token(run_action: RunAction, workspace: Path, answer: wa.Answer,
               inputs: dict[str, str] | None = None, pages: dict[str, Page] | None = None
               ) -> tuple[Run, CannedIndex]:
    with CannedIndex(CannedAnswer.of(answer), pages) as index:
        run = run_action(workspace, {"repository-url": index.url, **(inputs or {})},
                         {"PYPI_API_TOKEN": new_secret("pypi-"), **FAST})
    return run, index


def with_trusted_publishing(run_action: RunAction, workspace: Path, github_oidc: GitHubOidc,
                            answer: wa.Answer | None = None,
                            mint_refusal: wa.Answer | None = None) -> Run:
    upload = CannedAnswer.of(answer or wa.upload_ok())
    with CannedIndex(upload, trusted_publishing=True, mint_refusal=mint_refusal) as index:
        return run_action(workspace, {"repository-url": index.url, "attestations": "false"},
                          {**github_oidc.env(), "GITHUB_REF": "refs/tags/v1.2.3", **FAST})


# -- API tokens -----------------------------------------------------------------------------------


def test_role_refusal_says_the_token_is_fine_and_the_account_lacks_a_role(
    run_action: RunAction, workspace: Path
) -> None:
    run, index = with_token(run_action, workspace, wa.user_not_allowed("alice", "sample-project"))
    assert run.returncode == 1
    assert error_text(run) == (
        f"The index refused the credentials for `{WHEEL}` (HTTP 403, no upload role): The user "
        "'alice' isn't allowed to upload to project 'sample-project'. See "
        "https://pypi.org/help/#project-name for more information.\n"
        "The token is fine, but its account `alice` is neither an Owner nor a Maintainer of "
        "`sample-project`: ask an Owner to invite it with one of those roles (on the project "
        "page), or use a token of an account that has one.")
    assert index.posts == 1


@pytest.mark.parametrize(("door", "source"), [("action", "`PYPI_API_TOKEN`"),
                                              ("action", "input `password`"),
                                              ("cli", "`TWINE_PASSWORD`")])
def test_token_scoped_to_another_project_names_the_source_it_came_from(
    door: str, source: str, run_action: RunAction, run_cli: RunCli, workspace: Path
) -> None:
    token = new_secret("pypi-")
    with CannedIndex(CannedAnswer.of(wa.token_for_other_project("sample-project"))) as index:
        if door == "cli":
            run = run_cli(["--skip-build", "--repository-url", index.url], workspace,
                          {"TWINE_PASSWORD": token, **FAST})
        elif source == "input `password`":
            run = run_action(workspace, {"repository-url": index.url, "password": token}, FAST)
        else:
            run = run_action(workspace, {"repository-url": index.url}, {"PYPI_API_TOKEN": token, **FAST})
    assert run.returncode == 1
    assert ("(HTTP 403, token of another project): Invalid API Token: project-scoped token is "
            "not valid for project: 'sample-project'") in run.stdout
    assert (f"The API token in {source} is scoped to another project: create one scoped to "
            f"`sample-project` (or to your account) on the index and use it as {source}.") in run.stdout


def test_password_login_on_warehouse_asks_for_a_token_as_token_user(
    run_action: RunAction, workspace: Path
) -> None:
    run, _ = with_token(run_action, workspace, wa.password_auth(), {"user": "alice"})
    assert run.returncode == 1
    assert "(HTTP 403, password login): Username/Password authentication is no longer supported." \
        in run.stdout
    assert "takes API tokens only: set `user` to `__token__` (`alice` was sent)" in run.stdout


# -- Trusted Publishing -----------------------------------------------------------------------------


def test_non_user_identity_creating_a_project_needs_a_pending_publisher_of_that_name(
    run_action: RunAction, workspace: Path, github_oidc: GitHubOidc
) -> None:
    run = with_trusted_publishing(run_action, workspace, github_oidc,
                                  wa.non_user_identity_new_project())
    assert run.returncode == 1
    text = error_text(run)
    assert text.startswith(f"The index refused `{WHEEL}`: Non-user identities cannot create new "
                           "projects. This was probably caused by successfully using a pending "
                           "publisher but specifying the project name incorrectly")
    assert ("Trusted Publishing creates a project only through a pending publisher registered for "
            "exactly its name: register one for `sample-project` (the name in the metadata)") in text


@pytest.mark.parametrize("answer", [wa.oidc_token_for_other_project("sample-project"),
                                    wa.token_not_allowed("sample-project")],
                         ids=lambda a: a.key)
def test_publisher_of_another_project_is_told_to_register_this_one(
    answer: wa.Answer, run_action: RunAction, workspace: Path, github_oidc: GitHubOidc
) -> None:
    run = with_trusted_publishing(run_action, workspace, github_oidc, answer)
    assert run.returncode == 1
    assert f"(HTTP 403, publisher of another project): {answer.reason}" in run.stdout
    assert ("Trusted Publishing minted the token for a publisher that is not registered for "
            "`sample-project`: add this workflow as a Trusted Publisher of `sample-project`") \
        in run.stdout


def test_pull_request_target_refusal_names_the_event(
    run_action: RunAction, workspace: Path, github_oidc: GitHubOidc
) -> None:
    github_oidc.workflow.event_name = "pull_request_target"
    run = with_trusted_publishing(run_action, workspace, github_oidc,
                                  mint_refusal=wa.mint_token_pull_request_target())
    assert run.returncode == 1
    assert ("Publishing from a workflow invoked via 'pull_request_target' is not supported."
            in run.stdout)
    assert "refuses ID tokens from `pull_request_target` runs (claim `event_name`)" in run.stdout


# -- files ------------------------------------------------------------------------------------------


def test_file_already_exists_quotes_the_index_and_offers_skip_existing(
    run_action: RunAction, workspace: Path
) -> None:
    run, index = with_token(run_action, workspace, wa.file_exists(WHEEL, BLAKE))
    assert run.returncode == 1
    assert error_text(run) == (
        f"`{WHEEL}` already exists on the index and the index refused to replace it. The index "
        f"said: File already exists ('{WHEEL}', with blake2_256 hash '{BLAKE}'). See "
        "https://pypi.org/help/#file-name-reuse for more information.\n"
        "Release files can never be replaced. Bump the version and build again, or set "
        "`skip-existing: true` to leave the existing files as they are.")
    assert index.posts == 1


def test_file_already_exists_is_a_skip_with_skip_existing(run_action: RunAction,
                                                          workspace: Path) -> None:
    # The simple root answers as one, so the project's 404 means "no files listed"; the index
    # then says the file exists (Warehouse does for the same content under another name).
    run, index = with_token(run_action, workspace, wa.file_exists(WHEEL, BLAKE),
                            {"skip-existing": "true"}, {"/simple/": simple_root("other")})
    assert run.returncode == 0, run.text
    assert f"Skipped {WHEEL}: the index says the file already exists" in run.stdout
    assert index.posts == 2


@pytest.mark.parametrize("answer", [wa.filename_reused(), wa.filename_reused_before_2025_10()],
                         ids=lambda a: a.key)
def test_reused_file_name_says_bump_the_version(answer: wa.Answer, run_action: RunAction,
                                                workspace: Path) -> None:
    run, _ = with_token(run_action, workspace, answer)
    assert run.returncode == 1
    assert error_text(run) == (
        f"The index refused `{WHEEL}` (HTTP 400): {answer.reason}\n"
        "A file name can be used only once, even after the file is deleted: bump the version and "
        "build again.")


def test_file_too_large_says_how_to_ask_for_a_larger_limit(run_action: RunAction,
                                                           workspace: Path) -> None:
    run, _ = with_token(run_action, workspace, wa.file_too_large("sample-project", 100))
    assert run.returncode == 1
    text = error_text(run)
    assert text.startswith(f"The index refused `{WHEEL}` (1,703 bytes) as too large: File too large. "
                           "Limit for project 'sample-project' is 100 MB.")
    assert text.endswith("Make the file smaller, or request a file size limit increase for "
                         f"`sample-project` ({STORAGE}#requesting-a-file-size-limit-increase says "
                         "how and where to ask).")


def test_project_too_large_says_delete_old_files_or_ask(run_action: RunAction,
                                                        workspace: Path) -> None:
    run, _ = with_token(run_action, workspace, wa.project_too_large("sample-project"))
    assert run.returncode == 1
    assert error_text(run).endswith(
        "Delete files of old releases the project no longer needs, or request a project size "
        f"limit increase ({STORAGE}#requesting-a-project-size-limit-increase says how and where "
        "to ask).")


def test_release_too_old_says_publish_a_new_version(run_action: RunAction, workspace: Path) -> None:
    run, _ = with_token(run_action, workspace, wa.release_too_old(14))
    assert run.returncode == 1
    assert error_text(run) == (
        f"The index refused `{WHEEL}` (HTTP 400): Uploading new files to releases older than 14 "
        "days is not allowed.\nFiles can be added to a release only in its first 14 days: publish "
        "them under a new version (a post-release such as `1.2.3.post1` when only the files "
        "changed).")


# -- what the index lists, and when that is unknown -------------------------------------------------
# The canned index is of no known kind: its simple URL `/simple/` is derived by a rule, and
# such an index may replace a file uploaded again (pypiserver with `--overwrite` does).

LOGIN_PAGE = Page('<html><head><title>Sign in</title></head><body><form action="/login">'
                  '<input name="user"></form><a href="/help/">Help</a></body></html>')
GUESSES = {
    "404": ({}, "/simple/sample-project/ answered 404 and http://127.0.0.1:{port}/simple/ is not a "
                "simple API (the upload URL with `legacy/` replaced by `simple/`: a guess)"),
    "redirect-to-pypi": ({"/simple/sample-project/": Page("", status=303, headers={
        "Location": "https://pypi.org/simple/sample-project/"})},
        "/simple/sample-project/ redirected to https://pypi.org/simple/sample-project/: the index "
        "sends unknown projects elsewhere, so its answer says nothing about this one"),
    "login-page": ({"/simple/sample-project/": LOGIN_PAGE},
                   "/simple/sample-project/ is not a simple API page"),
    "404-and-root-login-page": ({"/simple/": LOGIN_PAGE}, "/simple/ is not a simple API"),
}


@pytest.mark.parametrize("case", GUESSES)
def test_a_guessed_simple_url_that_says_nothing_makes_skip_existing_refuse(
    case: str, run_action: RunAction, workspace: Path
) -> None:
    pages, why = GUESSES[case]
    run, index = with_token(run_action, workspace, wa.upload_ok(), {"skip-existing": "true"}, pages)
    assert run.returncode == 1
    text = error_text(run)
    assert text.startswith("`skip-existing: true` cannot be honoured safely: the index could not "
                           "list the project's files (")
    assert why.format(port=index.root.rsplit(":", 1)[1]) in text
    assert "an index of unknown kind may replace files" in text
    assert index.posts == 0


def test_a_guessed_simple_url_that_says_nothing_is_logged_and_the_upload_goes_ahead(
    run_action: RunAction, workspace: Path
) -> None:
    run, index = with_token(run_action, workspace, wa.upload_ok(), {"verbose": "true"})
    assert run.returncode == 0, run.text
    assert "Could not list the project's files on the index (http://127.0.0.1:" in run.stdout
    assert "/simple/ is not a simple API (the upload URL with `legacy/` replaced by `simple/`: a " \
           "guess)); relying on the index's answers to uploads." in run.stdout
    assert index.posts == 2


def test_a_guessed_simple_url_whose_root_answers_means_no_files_yet(
    run_action: RunAction, workspace: Path
) -> None:
    run, index = with_token(run_action, workspace, wa.upload_ok(),
                            {"skip-existing": "true", "verbose": "true"},
                            {"/simple/": simple_root("other-project")})
    assert run.returncode == 0, run.text
    assert "The index lists 0 file(s) of sample-project: http://127.0.0.1:" in run.stdout
    assert index.posts == 2


# -- the page around the reason ---------------------------------------------------------------------


def test_error_page_is_reduced_to_its_one_reason(run_action: RunAction, workspace: Path) -> None:
    answer = wa.filename_reused()
    assert answer.body.count("previously used") == 3  # title, heading and detail
    run, _ = with_token(run_action, workspace, answer)
    text = error_text(run)
    assert text.count("previously used") == 1
    assert "could not comply" not in text and "<" not in text


def test_reason_is_read_from_the_page_when_the_status_line_has_none(
    run_action: RunAction, workspace: Path
) -> None:
    # HTTP/2 has no reason phrase: only the page says why.
    answer = wa.filename_reused()
    with CannedIndex(CannedAnswer(400, "Bad Request", answer.body)) as index:
        run = run_action(workspace, {"repository-url": index.url},
                         {"PYPI_API_TOKEN": new_secret("pypi-"), **FAST})
    assert error_text(run).startswith(f"The index refused `{WHEEL}` (HTTP 400): {answer.detail}\n")


def test_characters_the_status_line_cannot_carry_are_read_from_the_page(
    run_action: RunAction, workspace: Path
) -> None:
    answer = wa.invalid_classifier("Framework :: Djangō")
    assert "Djang?" in answer.reason
    run, _ = with_token(run_action, workspace, answer)
    assert "(HTTP 400): 'Framework :: Djangō' is not a valid classifier." in error_text(run)


# -- the words of each front door -------------------------------------------------------------------


TOKEN_ANSWERS: dict[str, Callable[[], wa.Answer]] = {
    "invalid-auth": wa.invalid_auth, "password-auth": wa.password_auth,
    "expired-token": wa.expired_token, "deleted-token": wa.deleted_token,
    "token-for-other-project": lambda: wa.token_for_other_project("sample-project"),
    "user-not-allowed": lambda: wa.user_not_allowed("alice", "sample-project"),
    "file-exists": lambda: wa.file_exists(WHEEL, BLAKE), "filename-reused": wa.filename_reused,
    "file-too-large": lambda: wa.file_too_large("sample-project"),
    "project-too-large": lambda: wa.project_too_large("sample-project"),
    "release-too-old": wa.release_too_old, "only-one-sdist": wa.only_one_sdist,
    "invalid-classifier": lambda: wa.invalid_classifier("Foo :: Bar"),
    "missing-trailing-slash": wa.missing_trailing_slash,
}
ACTION_WORDS = ("input `", "re-run the job", "the runner", "secrets.", "`skip-existing: true`",
                "`repository-url`", "`user`", "workflow")


@pytest.mark.parametrize("key", TOKEN_ANSWERS)
def test_command_messages_speak_flags_and_variables(key: str, run_cli: RunCli,
                                                    workspace: Path) -> None:
    with CannedIndex(CannedAnswer.of(TOKEN_ANSWERS[key]())) as index:
        run = run_cli(["--skip-build", "--repository-url", index.url], workspace,
                      {"TWINE_PASSWORD": new_secret("pypi-"), **FAST})
    assert run.returncode == 1
    assert "error: " in run.stdout
    assert not [word for word in ACTION_WORDS if word in run.stdout], run.stdout


@pytest.mark.parametrize("key", TOKEN_ANSWERS)
def test_action_messages_speak_inputs_and_secrets(key: str, run_action: RunAction,
                                                  workspace: Path) -> None:
    run, _ = with_token(run_action, workspace, TOKEN_ANSWERS[key]())
    assert run.returncode == 1
    text = error_text(run)
    assert not re.search(r"`--[a-z]|TWINE_|run the command again|this machine", text), text

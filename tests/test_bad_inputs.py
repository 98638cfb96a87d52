"""One table of bad inputs: action inputs, CLI arguments, distribution files and index answers.

Every row runs the real action (or the local command) against a real index, and asserts the exit
status, that the message names the problem and the fix, that no traceback was printed, and that
the index holds nothing afterwards. The files rows make are in `tests/support/bad_files.py`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import BuiltDists, Run, RunAction, RunCli
from tests.support.bad_files import (
    SDIST,
    WHEEL,
    Bad,
    declared_2gb_metadata,
    declared_2gb_pkg_info,
    invalid,
    legacy_egg,
    metadata,
    nothing,
    packages_dir_links_outside,
    sdist_without_pkg_info,
    symlinked_dist,
    tar_bomb_pkg_info,
    text_named_like_sdist,
    text_named_like_wheel,
    truncated_wheel,
    two_metadata_files,
    two_projects,
    two_versions,
    understated_metadata,
    unparsable_wheel_name,
    zip_bomb_metadata,
)
from tests.support.canned_index import CannedAnswer, CannedIndex
from tests.support.index_server import IndexServer, free_port
from tests.support.secret_sweep import new_secret

FAST = {"PYPI_PUBLISH_RETRY_BASE_DELAY": "0.01", "PYPI_PUBLISH_READ_TIMEOUT": "5",
        "PYPI_PUBLISH_RETRY_ATTEMPTS": "2"}
# A password made for this module: it must never appear in any output (the secrets sweep checks).
URL_PASSWORD = new_secret("url-pw-")


ROWS = [
    # -- action inputs: usage errors, exit 2 ------------------------------------------------------
    Bad("skip-existing-yes", invalid("skip-existing", "yes", "Set `skip-existing` to `true` or `false`."),
        {"skip-existing": "yes"}, exit_code=2),
    Bad("verify-metadata-1", invalid("verify-metadata", "1", "Set `verify-metadata` to `true` or `false`."),
        {"verify-metadata": "1"}, exit_code=2),
    Bad("verbose-on", invalid("verbose", "on", "Set `verbose` to `true` or `false`."),
        {"verbose": "on"}, exit_code=2),
    Bad("dry-run-maybe", invalid("dry-run", "maybe", "Set `dry-run` to `true` or `false`."),
        {"dry-run": "maybe"}, exit_code=2),
    Bad("print-hash-tru", invalid("print-hash", "tru", "Set `print-hash` to `true` or `false`."),
        {"print-hash": "tru"}, exit_code=2),
    Bad("build-sometimes", invalid("build", "sometimes", "Set `build` to `auto`"),
        {"build": "sometimes"}, exit_code=2),
    Bad("attestations-perhaps", invalid("attestations", "perhaps",
                                        "Set `attestations` to `true` or `false`."),
        {"attestations": "perhaps"}, exit_code=2),
    Bad("build-timeout-word", invalid("build-timeout", "an hour", "Set `build-timeout` to the minutes"),
        {"build-timeout": "an hour"}, exit_code=2),
    Bad("build-timeout-zero", invalid("build-timeout", "0", "from 0.1 to 360"),
        {"build-timeout": "0"}, exit_code=2),
    Bad("config-settings-without-key", ("Input `config-settings` has the entry '=on', which has no "
                                        "key.", "Write each setting of `config-settings` as `KEY=VALUE`."),
        {"config-settings": "good=1\n=on"}, exit_code=2),
    Bad("index-url-http-remote", ("Input `index-url` uses plain http to pypi.example.org",),
        {"index-url": "http://pypi.example.org/simple/"}, exit_code=2),
    Bad("repository-unknown", ("Input `repository` is 'pypy', which is not a known index.",
                               "Set `repository` to `pypi` or `testpypi`"),
        {"repository": "pypy"}, exit_code=2),
    Bad("repository-and-url", ("Both `repository` (testpypi) and `repository-url`", "Keep one of them"),
        {"repository": "testpypi", "repository-url": "https://pypi.example.org/legacy/"}, exit_code=2),
    Bad("url-http-remote", ("Input `repository-url` uses plain http to pypi.example.org",
                            "Use an https URL for `repository-url`"),
        {"repository-url": "http://pypi.example.org/legacy/"}, exit_code=2),
    Bad("url-credentials", ("Input `repository-url` contains a user name or password",
                            "Remove them from `repository-url`"),
        {"repository-url": f"https://alice:{URL_PASSWORD}@pypi.example.org/legacy/"}, exit_code=2,
        never_says=("alice",)),
    Bad("url-token-as-user", ("Input `repository-url` contains a user name or password",),
        {"repository-url": f"https://{URL_PASSWORD}@pypi.example.org/legacy/"}, exit_code=2),
    Bad("url-ftp", ("Input `repository-url` must be an http(s) URL with a host; got a ftp URL.",
                    "Set `repository-url` to the index's upload URL"),
        {"repository-url": "ftp://pypi.example.org/legacy/"}, exit_code=2),
    Bad("url-no-host", ("Input `repository-url` must be an http(s) URL with a host",),
        {"repository-url": "https:///legacy/"}, exit_code=2),
    Bad("url-bad-port", ("Input `repository-url` is not a valid URL.",),
        {"repository-url": "https://pypi.example.org:99999/legacy/"}, exit_code=2),
    # urllib sees host `evil.example\.localhost` (loopback by name); requests connects to evil.example.
    Bad("url-backslash-host", ("Input `repository-url`",),
        {"repository-url": "http://evil.example\\.localhost/legacy/"}, exit_code=2),
    # urllib reads host ::1 and no port; the HTTP client cannot parse it at all.
    Bad("url-junk-after-ipv6-host", ("Input `repository-url`",),
        {"repository-url": "http://[::1]80/legacy/"}, exit_code=2),
    Bad("url-newline-injection", ("Input `repository-url` contains whitespace or control characters.",),
        {"repository-url": "https://pypi.example.org/legacy/\n::set-output name=x::y"}, exit_code=2,
        never_says=("::set-output",)),
    Bad("packages-dir-dotdot", ("Input `packages-dir` (../outside) is a path that leads outside the "
                                "workspace", "Set `packages-dir` to a directory inside the workspace"),
        {"packages-dir": "../outside"}, exit_code=2),
    Bad("packages-dir-absolute", ("Input `packages-dir` (/etc) is a path that leads outside the "
                                  "workspace",), {"packages-dir": "/etc"}, exit_code=2),
    Bad("packages-dir-symlink-outside", ("Input `packages-dir` (linked) is a symlink that leads outside "
                                         "the workspace",), {"packages-dir": "linked"},
        files=packages_dir_links_outside, exit_code=2),
    Bad("project-dir-dotdot", ("Input `project-dir` (../..) is a path that leads outside the workspace",),
        {"project-dir": "../.."}, exit_code=2),
    Bad("parallel-zero", invalid("parallel", "0", "Set `parallel` to a whole number from 1 to 16."),
        {"parallel": "0"}, exit_code=2),
    Bad("parallel-word", invalid("parallel", "many", "Set `parallel` to a whole number"),
        {"parallel": "many"}, exit_code=2),
    Bad("parallel-too-many", invalid("parallel", "64", "from 1 to 16"), {"parallel": "64"}, exit_code=2),
    Bad("parallel-negative", invalid("parallel", "-2", "from 1 to 16"), {"parallel": "-2"}, exit_code=2),
    Bad("expected-version-word", ("Input `expected-version` is 'latest', which is not a PEP 440 version.",
                                  "Set `expected-version` to a version such as `1.2.3`"),
        {"expected-version": "latest"}, exit_code=2),
    # -- the packages directory and its files: publish failures, exit 1 ------------------------------
    Bad("packages-dir-missing", ("/nowhere` does not exist.", "Build first (`python -m build`)"),
        {"packages-dir": "nowhere", "build": "false"}, files=nothing),
    Bad("packages-dir-empty", ("No distributions in", "or set `build: true`"), {"build": "false"},
        files=nothing),
    Bad("nothing-to-build", ("has no `pyproject.toml` or `setup.py`, so there is nothing to build.",
                             "Set `project-dir`"), files=nothing),
    Bad("two-projects", ("The packages directory holds files of 2 projects: other-project, "
                         "sample-project.", "give each its own `packages-dir`"), files=two_projects),
    Bad("two-versions", ("holds files of 2 versions of sample-project: 1.2.3, 1.2.4.",
                         "Remove the old files"), files=two_versions),
    Bad("text-named-like-sdist", (f"`{SDIST}` is not a valid sdist: unreadable archive",
                                  "Rebuild it with `python -m build`"), files=text_named_like_sdist),
    Bad("text-named-like-wheel", (f"`{WHEEL}` is not a valid wheel: not a zip archive",),
        files=text_named_like_wheel),
    Bad("unparsable-wheel-name", ("is named like a distribution but its name does not parse",
                                  "renamed files are rejected by PyPI"), files=unparsable_wheel_name),
    Bad("truncated-wheel", (f"`{WHEEL}` is not a valid wheel: not a zip archive", "was not truncated"),
        files=truncated_wheel),
    Bad("legacy-egg", ("is in a format PyPI no longer accepts.", "Publish an sdist (`.tar.gz`) and "
                       "wheels (`.whl`) only"), files=legacy_egg),
    Bad("zip-bomb-metadata", (f"`{WHEEL}` is not a valid wheel: METADATA claims", "Rebuild it"),
        files=zip_bomb_metadata),
    Bad("metadata-declares-2gb", (f"`{WHEEL}` is not a valid wheel: METADATA claims 2147483647 bytes",),
        files=declared_2gb_metadata),
    Bad("metadata-understates-size", (f"`{WHEEL}` is not a valid wheel",), files=understated_metadata),
    Bad("two-metadata-files", ("expected one `*.dist-info/METADATA`, found 2",),
        files=two_metadata_files),
    Bad("tar-bomb-pkg-info", (f"`{SDIST}` is not a valid sdist: PKG-INFO claims",),
        files=tar_bomb_pkg_info),
    Bad("pkg-info-declares-2gb", (f"`{SDIST}` is not a valid sdist: PKG-INFO claims 2147483648 bytes",),
        files=declared_2gb_pkg_info),
    Bad("sdist-without-pkg-info", (f"`{SDIST}` is not a valid sdist: no `PKG-INFO` at the top",),
        files=sdist_without_pkg_info),
    Bad("symlinked-file-outside", ("is a symlink to", "outside the workspace.",
                                   "Copy the file into the packages directory"), files=symlinked_dist),
    # -- metadata -------------------------------------------------------------------------------------
    Bad("metadata-invalid-version", ("`not.a-version!` is not a valid PEP 440 version.",
                                     "Use a version such as `1.2.3`"),
        files=metadata(version="not.a-version!")),
    Bad("metadata-missing-name", ("the metadata lacks required field(s) Name.",
                                  "Set them in `pyproject.toml`'s `[project]` table"),
        files=metadata(text="Metadata-Version: 2.1\nVersion: 1.2.3\nSummary: x\n\nbody\n")),
    Bad("metadata-missing-version", ("the metadata lacks required field(s) Version.",),
        files=metadata(text="Metadata-Version: 2.1\nName: sample-project\nSummary: x\n\nbody\n")),
    Bad("metadata-other-version", ("the metadata says version 9.9, the file name says 1.2.3.",
                                   "Do not rename distribution files"), files=metadata(version="9.9")),
    Bad("metadata-other-name", ("the metadata says the project is `original`, the file name says "
                                "`sample-project`.",), files=metadata(name="original")),
    Bad("metadata-bad-requirement", (f"`{WHEEL}` has invalid metadata:",
                                     "'not a requirement !!' is invalid for 'requires-dist'",
                                     "`twine check dist/*` reproduces most of these locally"),
        files=metadata("Requires-Dist: not a requirement !!")),
    Bad("metadata-bad-requires-python", (f"`{WHEEL}` has invalid metadata:", "requires-python"),
        files=metadata("Requires-Python: >>3")),
    Bad("readme-does-not-render", ("the long description (the README) would not render",
                                   "line 4: Warning: Inline interpreted text or phrase reference "
                                   "start-string without end-string.",
                                   "Fix the README at the lines named above"),
        files=metadata("Description-Content-Type: text/x-rst\n\nTitle\n===\n\n`broken")),
    # -- version against the tag ------------------------------------------------------------------------
    Bad("tag-version-mismatch", ("The files are version 1.2.3 but the tag `v1.2.4` says 1.2.4",
                                 "`expected-version: false`"),
        env={"GITHUB_REF": "refs/tags/v1.2.4", "GITHUB_REF_TYPE": "tag"}),
    Bad("expected-version-mismatch", ("The files are version 1.2.3 but `expected-version` (2.0.0) says "
                                      "2.0.0",), {"expected-version": "2.0.0"}),
    # -- credentials --------------------------------------------------------------------------------------
    # With no token the action falls back to Trusted Publishing, which this index does not offer.
    Bad("empty-token", ("`PYPI_API_TOKEN` is set but empty",
                        "has no Trusted Publishing (no `/_/oidc/audience` endpoint).",
                        "Use an API token for this index"), env={"PYPI_API_TOKEN": ""}),
    Bad("blank-password-input", ("has no Trusted Publishing", "set `password` or the `PYPI_API_TOKEN`"),
        {"password": "   "}, env={"PYPI_API_TOKEN": ""}),
    # -- the index's answers --------------------------------------------------------------------------------
    Bad("index-403", ("The index refused the credentials for", "(HTTP 403, bad token)",
                      "Create a new API token for this project"),
        answer=CannedAnswer(403, "Invalid or non-existent authentication information."),
        target="canned"),
    # No Warehouse words and no token-only index: an account's user name and password, not a token.
    Bad("index-401", ("(HTTP 401, bad credentials)", "did not accept the user name and password "
                      "from `PYPI_API_TOKEN`"), answer=CannedAnswer(401, "Unauthorized", "bad auth"),
        target="canned", never_says=("bad token",)),
    Bad("index-400-reason", ("(HTTP 400): Invalid value for classifiers. Error: Classifier 'Foo :: Bar' "
                             "is not a valid classifier.", "Fix what the index names above"),
        answer=CannedAnswer(400, "Invalid value for classifiers. Error: Classifier 'Foo :: Bar' is not "
                                 "a valid classifier."), target="canned"),
    Bad("index-400-reason-in-body", ("(HTTP 400): ", "The description failed to render"),
        answer=CannedAnswer(400, "Bad Request", "<html><body><h1>400 Bad Request</h1><p>The "
                                                "description failed to render</p></body></html>"),
        target="canned"),
    Bad("index-409-unknown-content", ("already exists on the index and the index refused to replace it.",
                                      "`skip-existing: true`"),
        answer=CannedAnswer(409, "Conflict", "File already exists"), target="canned"),
    Bad("index-413", ("as too large", "ask the index for a larger file size limit"),
        answer=CannedAnswer(413, "Request Entity Too Large", "too big"), target="canned"),
    Bad("index-404-endpoint", ("(HTTP 404)", "it must be the index's upload endpoint"),
        answer=CannedAnswer(404, "Not Found", "no such page"), target="canned"),
    Bad("redirect-301", ("with a redirect (HTTP 301) to https://elsewhere.example/legacy/",
                         "Set `repository-url` to the index's real upload URL"),
        answer=CannedAnswer(301, "Moved Permanently", "",
                            {"Location": "https://elsewhere.example/legacy/"}), target="canned"),
    Bad("redirect-307", ("with a redirect (HTTP 307)", "uploads are never re-sent to another URL"),
        answer=CannedAnswer(307, "Temporary Redirect", "", {"Location": "/other/"}), target="canned"),
    Bad("redirect-308-to-http", ("with a redirect (HTTP 308) to http://",),
        answer=CannedAnswer(308, "Permanent Redirect", "",
                            {"Location": "http://downgrade.example/legacy/"}), target="canned"),
    Bad("tls-to-plain-port", ("the server does not speak TLS on that port (plain http?)",
                              "answers in plain http: use `http://` only for loopback, or fix the "
                              "port in `repository-url`."), target="tls"),
    Bad("connection-refused", ("connection refused; nothing was uploaded.",
                               "Nothing accepts connections at 127.0.0.1:"), target="closed",
        never_says=("retrying",)),
    # -- the local command ----------------------------------------------------------------------------------
    Bad("cli-unknown-repository", ("`--repository pypy` names an index that is not configured: "
                                   "`~/.pypirc` does not exist, so only the built-in `pypi`, "
                                   "`testpypi` are known.", "[pypy]", "`--repository-url`"),
        args=["--repository", "pypy"], exit_code=2),
    Bad("cli-unknown-flag", ("Bad arguments: unrecognized arguments: --upload-everything",),
        args=["--upload-everything"], exit_code=2),
    Bad("cli-parallel-word", ("`--parallel` is 'x', which is not a number of uploads at once.",
                              "Set `--parallel` to a whole number"),
        args=["--skip-build", "--parallel", "x"], exit_code=2),
    Bad("cli-tag-not-a-version", ("`--tag` is 'release-candidate', which is not a PEP 440 version.",
                                  "or leave out `--tag` to skip the check"),
        args=["--tag", "release-candidate"], exit_code=2),
    Bad("cli-http-remote", ("`--repository-url` uses plain http to pypi.example.org",
                            "Use an https URL for `--repository-url`"),
        args=["--repository-url", "http://pypi.example.org/legacy/"], exit_code=2),
    Bad("cli-url-credentials", ("`--repository-url` contains a user name or password",
                                "pass the token as `TWINE_PASSWORD` (or `PYPI_API_TOKEN`)"),
        args=["--repository-url", f"https://u:{URL_PASSWORD}@pypi.example.org/"], exit_code=2),
    Bad("cli-build-timeout-word", ("`--build-timeout` is 'soon', which is not a number of minutes.",
                                   "Set `--build-timeout` to the minutes a build may take"),
        args=["--build-timeout", "soon"], exit_code=2),
    Bad("cli-config-setting-without-key", ("`--config-setting` has the entry '=x', which has no key.",
                                           "as `KEY=VALUE`"),
        args=["-C", "=x"], exit_code=2),
    Bad("cli-missing-config-file", ("The configuration file `nowhere.pypirc` does not exist.",
                                    "leave out `--config-file`"),
        args=["--config-file", "nowhere.pypirc", "--repository", "internal"], exit_code=2),
    Bad("cli-tag-mismatch", ("The files are version 1.2.3 but `--tag` (v3.0.0) says 3.0.0",),
        args=["--skip-build", "--tag", "v3.0.0"]),
    Bad("cli-missing-packages-dir", ("/missing` does not exist.",),
        args=["--skip-build", "--packages-dir", "missing"]),
    Bad("cli-no-credentials", ("No credentials: no token was given (`TWINE_PASSWORD`, "
                               "`PYPI_API_TOKEN` or a password in `~/.pypirc`)",
                               "`export TWINE_PASSWORD=pypi-…`"), args=["--skip-build"],
        env={"PYPI_API_TOKEN": ""}),
    Bad("cli-trusted-publishing-never", ("No credentials: no token was given",),
        args=["--skip-build", "--trusted-publishing", "never"], env={"PYPI_API_TOKEN": ""}),
    Bad("cli-trusted-publishing-always-without-identity",
        ("Trusted Publishing was asked for (`--trusted-publishing always`), but no CI identity was "
         "found (looked for: GitHub Actions, Google Cloud, Buildkite, GitLab CI/CD, CircleCI).",),
        args=["--skip-build", "--trusted-publishing", "always"]),
]


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    (path / "dist").mkdir(parents=True)
    return path


@dataclass
class Target:
    url: str
    canned: CannedIndex | None = None  # the index that answers uploads with the row's answer


@pytest.fixture
def target(request: pytest.FixtureRequest, index: IndexServer) -> Iterator[Target]:
    """Where a row publishes to: the real index, a canned answer, a plain port spoken TLS to, or nothing."""
    row: Bad = request.param
    if row.target == "canned":
        assert row.answer is not None
        with CannedIndex(row.answer) as canned:
            yield Target(canned.url, canned)
    elif row.target == "tls":
        with CannedIndex(CannedAnswer(200, "OK")) as plain:
            yield Target(plain.url.replace("http://", "https://"), plain)
    elif row.target == "closed":
        yield Target(f"http://127.0.0.1:{free_port()}/")
    else:
        yield Target(index.url)


def run_row(row: Bad, url: str, workspace: Path, index: IndexServer, run_action: RunAction,
            run_cli: RunCli) -> Run:
    env = {**FAST, "PYPI_API_TOKEN": index.password, **row.env}
    if row.args is not None:
        args = list(row.args)
        if "--repository-url" not in args and "--repository" not in args:
            args += ["--repository-url", url]
        return run_cli(args, workspace, env)
    return run_action(workspace, {"repository-url": url, **row.inputs}, env)


@pytest.mark.parametrize(("row", "target"), [(row, row) for row in ROWS],
                         ids=[row.id for row in ROWS], indirect=["target"])
def test_bad_input(row: Bad, target: Target, workspace: Path, index: IndexServer,
                   built_dists: BuiltDists, run_action: RunAction, run_cli: RunCli) -> None:
    row.files(workspace / "dist", built_dists)
    run = run_row(row, target.url, workspace, index, run_action, run_cli)
    text = run.text.replace("%0A", "\n")
    assert run.returncode == row.exit_code, run.text
    for fragment in row.says:
        assert fragment in text
    for fragment in row.never_says:
        assert fragment not in text
    assert "Traceback" not in run.text
    if row.args is None:
        assert "::error title=" in run.stdout
    assert index.files() == []
    if target.canned is not None:
        # A refusal is final: the file was offered once (the first, alone), never again.
        assert target.canned.posts == (1 if row.target == "canned" else 0)

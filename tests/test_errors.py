"""Every bad input of the core path: a message naming the cause and the fix, and nothing uploaded."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, BuiltDists, MakeProject, RunAction, RunCli
from tests.support.archives import metadata_text, write_wheel
from tests.support.canned_index import CannedAnswer, CannedIndex
from tests.support.index_server import IndexServer


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    (path / "dist").mkdir(parents=True)
    return path


def run_in(workspace: Path, run_action: RunAction, index: IndexServer,
           **inputs: str) -> tuple[int, str]:
    result = run_action(workspace, {"repository-url": index.url, **inputs},
                        {"PYPI_API_TOKEN": index.password})
    return result.returncode, result.stdout


def copy_dist(built: Path, workspace: Path) -> None:
    for item in built.iterdir():
        shutil.copy(item, workspace / "dist" / item.name)


# -- the packages directory ------------------------------------------------------------


def test_missing_packages_dir(workspace: Path, index: IndexServer, run_action: RunAction) -> None:
    code, out = run_in(workspace, run_action, index, **{"packages-dir": "nowhere", "build": "false"})
    assert code == 1
    assert f"The packages directory `{workspace}/nowhere` does not exist." in out
    assert "Build first (`python -m build`), download the build job's artifact" in out
    assert index.files() == []


def test_empty_packages_dir(workspace: Path, index: IndexServer, run_action: RunAction) -> None:
    code, out = run_in(workspace, run_action, index, build="false")
    assert code == 1
    assert f"No distributions in `{workspace}/dist`." in out
    assert "or set `build: true`" in out


def test_auto_build_without_a_project(workspace: Path, index: IndexServer,
                                      run_action: RunAction) -> None:
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "has no `pyproject.toml` or `setup.py`, so there is nothing to build." in out
    assert "Set `project-dir`" in out


def test_two_projects(workspace: Path, index: IndexServer, built_dists: BuiltDists,
                      run_action: RunAction) -> None:
    copy_dist(built_dists("alpha-pkg", "1.0.0"), workspace)
    copy_dist(built_dists("beta-pkg", "1.0.0"), workspace)
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "The packages directory holds files of 2 projects: alpha-pkg, beta-pkg." in out
    assert "give each its own `packages-dir`" in out
    assert index.files() == []


def test_two_versions(workspace: Path, index: IndexServer, built_dists: BuiltDists,
                      run_action: RunAction) -> None:
    copy_dist(built_dists("alpha-pkg", "1.0.0"), workspace)
    copy_dist(built_dists("alpha-pkg", "1.1.0"), workspace)
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "holds files of 2 versions of alpha-pkg: 1.0.0, 1.1.0." in out
    assert "Remove the old files" in out


def test_unparsable_dist_name(workspace: Path, index: IndexServer, run_action: RunAction) -> None:
    (workspace / "dist" / "sample-1.0-extra-bits.whl").write_bytes(b"PK")
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "`sample-1.0-extra-bits.whl` is named like a distribution but its name does not parse" in out
    assert "renamed files are rejected by PyPI" in out


def test_non_dist_with_dist_like_name(workspace: Path, index: IndexServer,
                                      run_action: RunAction) -> None:
    (workspace / "dist" / "notes-1.0.tar.gz").write_bytes(b"just text, not a tarball")
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "`notes-1.0.tar.gz` is not a valid sdist: unreadable archive" in out
    assert "Rebuild it with `python -m build`" in out
    assert index.files() == []


def test_corrupt_wheel(workspace: Path, index: IndexServer, built_dists: BuiltDists,
                       run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    wheel = next((workspace / "dist").glob("*.whl"))
    wheel.write_bytes(wheel.read_bytes()[:200])
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert f"`{wheel.name}` is not a valid wheel: not a zip archive" in out
    assert "was not truncated" in out
    assert index.files() == []


def test_legacy_format(workspace: Path, index: IndexServer, run_action: RunAction) -> None:
    (workspace / "dist" / "sample-1.0-py3.11.egg").write_bytes(b"egg")
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "`sample-1.0-py3.11.egg` is in a format PyPI no longer accepts." in out


def test_metadata_that_fails_the_check(workspace: Path, index: IndexServer,
                                       run_action: RunAction) -> None:
    write_wheel(workspace / "dist", "bad-meta", "1.0",
                metadata_text("bad-meta", "1.0", "Requires-Dist: not a requirement !!"))
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "`bad_meta-1.0-py3-none-any.whl` has invalid metadata:" in out
    assert "'not a requirement !!' is invalid for 'requires-dist'" in out
    assert "Check locally with `twine check dist/*`" in out
    assert index.files() == []


def test_readme_that_does_not_render(workspace: Path, index: IndexServer,
                                     run_action: RunAction) -> None:
    write_wheel(workspace / "dist", "bad-readme", "1.0", metadata_text(
        "bad-readme", "1.0", "Description-Content-Type: text/x-rst\n\n" + "Title\n===\n\n`broken"))
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "the long description (reStructuredText) does not render" in out


def test_metadata_name_differs_from_file_name(workspace: Path, index: IndexServer,
                                              run_action: RunAction) -> None:
    write_wheel(workspace / "dist", "renamed", "1.0", metadata_text("original", "1.0"))
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "the metadata says the project is `original`, the file name says `renamed`." in out


def test_verify_metadata_false_skips_the_check(workspace: Path, index: IndexServer,
                                               run_action: RunAction) -> None:
    write_wheel(workspace / "dist", "lenient", "1.0",
                metadata_text("lenient", "1.0", "Description-Content-Type: text/x-rst\n\n`broken"))
    code, out = run_in(workspace, run_action, index, **{"verify-metadata": "false"})
    assert code == 0, out
    assert index.files() == ["lenient-1.0-py3-none-any.whl"]


# -- inputs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "expected"),
    [
        ({"repository": "pypy"}, ["Input `repository` is 'pypy', which is not a known index.",
                                  "Set `repository` to `pypi` or `testpypi`"]),
        ({"repository-url": "ftp://example.org/legacy/"},
         ["Input `repository-url` must be an http(s) URL with a host; got a ftp URL.",
          "Set `repository-url` to the index's upload URL"]),
        ({"repository-url": "http://pypi.example.org/legacy/"},
         ["Input `repository-url` uses plain http to pypi.example.org",
          "Use an https URL for `repository-url` (plain http is accepted only for loopback hosts)."]),
        ({"repository-url": "https://user:hunter2@pypi.example.org/legacy/"},
         ["Input `repository-url` contains a user name or password",
          "Remove them from `repository-url`"]),
        ({"skip-existing": "yes"}, ["Input `skip-existing` is 'yes', which is not a boolean.",
                                    "Set `skip-existing` to `true` or `false`."]),
        ({"verify-metadata": "1"}, ["Input `verify-metadata` is '1', which is not a boolean."]),
        ({"build": "sometimes"}, ["Input `build` is 'sometimes', which is not a build mode."]),
        ({"parallel": "0"}, ["Input `parallel` is '0', which is not a number of uploads at once.",
                             "Set `parallel` to a whole number from 1 to 16."]),
        ({"expected-version": "latest"},
         ["Input `expected-version` is 'latest', which is not a PEP 440 version."]),
        ({"repository": "testpypi", "repository-url": "https://pypi.example.org/legacy/"},
         ["Both `repository` (testpypi) and `repository-url` (https://pypi.example.org/legacy/)"]),
        ({"packages-dir": "../outside"},
         ["Input `packages-dir` (../outside) is a path that leads outside the workspace"]),
    ],
)
def test_bad_action_input(inputs: dict[str, str], expected: list[str], workspace: Path,
                          run_action: RunAction) -> None:
    run = run_action(workspace, inputs)
    assert run.returncode == 2
    for fragment in expected:
        assert fragment in run.stdout
    assert "hunter2" not in run.text
    assert "::error title=Invalid input::" in run.stdout
    assert "Invalid input" in run.summary


def test_symlinked_packages_dir_outside_workspace(workspace: Path, tmp_path: Path,
                                                  run_action: RunAction) -> None:
    (tmp_path / "elsewhere").mkdir()
    (workspace / "linked").symlink_to(tmp_path / "elsewhere")
    run = run_action(workspace, {"packages-dir": "linked"})
    assert run.returncode == 2
    assert "Input `packages-dir` (linked) is a symlink that leads outside the workspace" in run.stdout


def test_symlinked_file_outside_workspace(workspace: Path, built_dists: BuiltDists,
                                          index: IndexServer, run_action: RunAction) -> None:
    outside = built_dists()
    for item in outside.iterdir():
        (workspace / "dist" / item.name).symlink_to(item)
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert "is a symlink to" in out and "outside the workspace." in out
    assert index.files() == []


def test_underscore_input_spelling_is_accepted(workspace: Path, built_dists: BuiltDists,
                                               index: IndexServer, run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    run = run_action(workspace, {"repository_url": index.url}, {"PYPI_API_TOKEN": index.password})
    assert run.returncode == 0, run.text
    assert len(index.files()) == 2


# -- credentials and the index's answers ------------------------------------------------


def test_no_credentials_outside_actions(workspace: Path, built_dists: BuiltDists,
                                        index: IndexServer, run_cli: RunCli) -> None:
    copy_dist(built_dists(), workspace)
    run = run_cli(["--skip-build", "--repository-url", index.url], workspace)
    assert run.returncode == 1
    assert "No credentials: no token was given (`password` input, `TWINE_PASSWORD` or " \
           "`PYPI_API_TOKEN`), and Trusted Publishing works only inside GitHub Actions." in run.stdout
    assert "`permissions: id-token: write`" in run.stdout
    assert index.files() == []


def test_wrong_token_is_called_a_bad_token(workspace: Path, built_dists: BuiltDists,
                                           index: IndexServer, run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    from tests.support.secret_sweep import new_secret

    run = run_action(workspace, {"repository-url": index.url},
                     {"PYPI_API_TOKEN": new_secret("pypi-")})
    assert run.returncode == 1
    assert "The index refused the credentials for `sample_project-1.2.3.tar.gz` (HTTP 401, bad token)" \
        in run.stdout or "(HTTP 403, bad token)" in run.stdout
    assert "Create a new API token for this project" in run.stdout
    assert index.files() == []


def test_index_400_reason_is_shown(workspace: Path, built_dists: BuiltDists,
                                   run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    reason = "Invalid value for classifiers. Error: Classifier 'Foo :: Bar' is not a valid classifier."
    with CannedIndex(CannedAnswer(400, reason, f"<html><body><h1>400 {reason}</h1></body></html>")) as idx:
        from tests.support.secret_sweep import new_secret

        run = run_action(workspace, {"repository-url": idx.url},
                         {"PYPI_API_TOKEN": new_secret("pypi-")})
        assert idx.posts == 1
    assert run.returncode == 1
    assert f"The index refused `sample_project-1.2.3.tar.gz` (HTTP 400): {reason}" in run.stdout
    assert "Fix what the index names above and build again" in run.stdout


def test_redirect_on_upload_is_refused(workspace: Path, built_dists: BuiltDists,
                                       run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    answer = CannedAnswer(301, "Moved Permanently", "", {"Location": "https://elsewhere.example/"})
    with CannedIndex(answer) as idx:
        from tests.support.secret_sweep import new_secret

        run = run_action(workspace, {"repository-url": idx.url},
                         {"PYPI_API_TOKEN": new_secret("pypi-")})
    assert run.returncode == 1
    assert "answered the upload of `sample_project-1.2.3.tar.gz` with a redirect (HTTP 301) to " \
           "https://elsewhere.example/" in run.stdout
    assert "Set `repository-url` to the index's real upload URL" in run.stdout


def test_token_warnings(workspace: Path, built_dists: BuiltDists, run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    from tests.support.secret_sweep import new_secret

    run = run_action(workspace, {"repository": "testpypi", "dry-run": "true", "user": "alice",
                                 "password": new_secret("not-a-pypi-token-")})
    assert run.returncode == 0, run.text
    assert "does not start with `pypi-`, so it is not a TestPyPI API token" in run.stdout
    assert "`user` is `alice` but TestPyPI accepts API tokens only with the user name `__token__`" \
        in run.stdout


def test_empty_token_variable_warns(workspace: Path, built_dists: BuiltDists,
                                    run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    run = run_action(workspace, {"dry-run": "true"}, {"PYPI_API_TOKEN": ""})
    assert run.returncode == 0, run.text
    assert "::warning title=Empty token::`PYPI_API_TOKEN` is set but empty" in run.stdout


# -- the local command ----------------------------------------------------------------------


def test_cli_bad_flag_is_a_usage_error(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli(["--repository", "pypy"], tmp_path)
    assert run.returncode == 2
    assert "Bad arguments: argument --repository: invalid choice: 'pypy'" in run.stdout
    assert "Run `publish_to_pypi.py --help` for the usage." in run.stdout


def test_cli_dry_run_opens_no_socket(workspace: Path, built_dists: BuiltDists,
                                     run_cli: RunCli, tmp_path: Path) -> None:
    copy_dist(built_dists(), workspace)
    guard = tmp_path / "guard.py"
    guard.write_text(
        "import runpy, sys\n"
        "def hook(event, args):\n"
        "    if event.startswith('socket.') and event != 'socket.__new__' or event == 'socket.__new__':\n"
        "        if event.startswith('socket.'):\n"
        "            raise RuntimeError(f'network use in dry run: {event}')\n"
        "sys.addaudithook(hook)\n"
        f"sys.argv = ['publish_to_pypi.py'] + sys.argv[1:]\n"
        f"runpy.run_path({str(REPO / 'scripts' / 'publish_to_pypi.py')!r}, run_name='__main__')\n"
    )
    import subprocess

    proc = subprocess.run(
        [sys.executable, str(guard), "--dry-run", "--skip-build", "--repository", "testpypi"],
        cwd=workspace, capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": "/usr/bin:/bin", "PYPI_API_TOKEN": ""},
    )
    sys.stdout.write(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "network use" not in proc.stderr
    assert "Dry run: would upload 2 file(s) to https://test.pypi.org/legacy/" in proc.stdout


def test_cli_help_lists_every_flag(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli(["--help"], tmp_path)
    assert run.returncode == 0
    for flag in ("--dry-run", "--no-upload", "--skip-build", "--repository", "--repository-url",
                 "--tag", "--packages-dir", "--project-dir", "--skip-existing", "--parallel",
                 "--verbose", "--no-verify-metadata"):
        assert flag in run.stdout


def test_build_failure_shows_the_backend_error(project: MakeProject, index: IndexServer,
                                               run_action: RunAction) -> None:
    workspace = project("broken-build", "1.0.0")
    pyproject = workspace / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('version = "1.0.0"', 'version = "not-a-version"'))
    code, out = run_in(workspace, run_action, index)
    assert code == 1
    assert f"Building the project in `{workspace}` failed:" in out
    assert "run `python -m build` locally to reproduce it" in out
    assert index.files() == []

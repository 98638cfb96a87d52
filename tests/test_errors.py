"""Warnings and messages beside the bad-input table: token set-up, dry runs, help, failed builds."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO, BuiltDists, MakeProject, RunAction, RunCli
from tests.support.archives import metadata_text, write_wheel
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


def test_verify_metadata_false_skips_the_check(workspace: Path, index: IndexServer,
                                               run_action: RunAction) -> None:
    write_wheel(workspace / "dist", "lenient", "1.0",
                metadata_text("lenient", "1.0", "Description-Content-Type: text/x-rst\n\n`broken"))
    code, out = run_in(workspace, run_action, index, **{"verify-metadata": "false"})
    assert code == 0, out
    assert index.files() == ["lenient-1.0-py3-none-any.whl"]


def test_underscore_input_spelling_is_accepted(workspace: Path, built_dists: BuiltDists,
                                               index: IndexServer, run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    run = run_action(workspace, {"repository_url": index.url}, {"PYPI_API_TOKEN": index.password})
    assert run.returncode == 0, run.text
    assert len(index.files()) == 2


def test_wrong_token_is_called_a_bad_token(workspace: Path, built_dists: BuiltDists,
                                           index: IndexServer, run_action: RunAction) -> None:
    copy_dist(built_dists(), workspace)
    from tests.support.secret_sweep import new_secret

    run = run_action(workspace, {"repository-url": index.url},
                     {"PYPI_API_TOKEN": new_secret("pypi-")})
    assert run.returncode == 1
    # pypiserver takes both files at once: either may be the one named.
    assert re.search(r"The index refused the credentials for `sample_project-1\.2\.3"
                     r"(-py3-none-any\.whl|\.tar\.gz)` \(HTTP 403, bad credentials\)", run.stdout)
    # pypiserver takes accounts' passwords: the fix names the variable the password came from.
    assert "The index did not accept the user name and password from `PYPI_API_TOKEN`" in run.stdout
    assert index.files() == []


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
    # It says plainly that the real run would stop for want of credentials.
    assert "but a real run would have no credentials" in proc.stdout


def test_cli_dry_run_names_the_token_a_real_run_would_use(workspace: Path, built_dists: BuiltDists,
                                                         run_cli: RunCli) -> None:
    copy_dist(built_dists(), workspace)
    from tests.support.secret_sweep import new_secret

    run = run_cli(["--dry-run", "--skip-build"], workspace, {"TWINE_PASSWORD": new_secret("pypi-")})
    assert run.returncode == 0, run.text
    assert ("Dry run: would upload 2 file(s) to https://upload.pypi.org/legacy/ with the token "
            "from `TWINE_PASSWORD`; nothing was sent.") in run.stdout


def test_cli_help_lists_every_flag(tmp_path: Path, run_cli: RunCli) -> None:
    run = run_cli(["--help"], tmp_path, process=True)
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


def test_the_action_entrypoint_answers_help_with_every_input(tmp_path: Path) -> None:
    import subprocess

    from pypi_publish.action import INPUTS

    proc = subprocess.run([sys.executable, str(REPO / "entrypoint.py"), "--help"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert all(name in proc.stdout for name in INPUTS)
    wrong = subprocess.run([sys.executable, str(REPO / "entrypoint.py"), "--publish"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=60, check=False)
    assert wrong.returncode == 2


def test_a_project_module_on_pythonpath_does_not_replace_the_tools_imports(
    workspace: Path, built_dists: BuiltDists, run_cli: RunCli
) -> None:
    # `PYTHONPATH=.` in a workflow puts the project before the standard library.
    (workspace / "tarfile.py").write_text("raise SystemExit('the project tarfile.py was imported')\n")
    copy_dist(built_dists(), workspace)
    run = run_cli(["--dry-run", "--skip-build"], workspace, {"PYTHONPATH": "."}, process=True)
    assert run.returncode == 0, run.text
    assert "the project tarfile.py was imported" not in run.text


def test_no_shell_between_inputs_and_commands(tmp_path: Path, index: IndexServer,
                                              run_action: RunAction) -> None:
    from tests.support.projects import write_project

    workspace = tmp_path / "ws"
    workspace.mkdir()
    hostile = "p;touch INJECTED1;$(touch INJECTED2)`touch INJECTED3`"
    project = write_project(workspace, "sample-project", "1.2.3")
    project.rename(workspace / hostile)
    run = run_action(workspace, {"repository-url": index.url, "project-dir": hostile,
                                 "packages-dir": "out$(touch INJECTED4)", "build": "true"},
                     {"PYPI_PUBLISH_RETRY_BASE_DELAY": "0.01", "PYPI_API_TOKEN": index.password,
                      "GITHUB_REF": "refs/tags/v1.2.3;touch INJECTED5", "GITHUB_REF_TYPE": "tag"})
    assert run.returncode == 0, run.text
    assert index.files() == ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
    assert sorted(p.name for p in tmp_path.rglob("INJECTED*")) == []
    assert "Traceback" not in run.text

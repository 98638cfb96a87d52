"""The launcher's decisions: which mode, what docker is told, where the venv's Python is, on any OS.

Windows paths are checked with `PureWindowsPath` and a given `os_name`, since they cannot run
here; the POSIX-only scan covers everything host mode runs (the launcher and the product).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath

import pytest

from launcher import docker_run, host_venv, main, modes
from launcher.errors import LaunchError
from tests.conftest import REPO
from tests.support.posix_only import scan_tree

LINUX = modes.Runner("Linux", in_job_container=False, docker_version="27.3.1")


# -- the mode ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("runner", "mode"), [
    (LINUX, "docker"),
    (modes.Runner("Linux", False, None, "the `docker` command is not installed"), "host"),
    (modes.Runner("Linux", True, "27.3.1"), "host"),
    (modes.Runner("macOS", False, None, "not asked"), "host"),
    (modes.Runner("Windows", False, None, "not asked"), "host"),
])
def test_auto_runs_docker_only_on_linux_with_an_engine_outside_job_containers(
    runner: modes.Runner, mode: str
) -> None:
    assert modes.choose("auto", runner).mode == mode


def test_auto_says_why_it_runs_on_the_host() -> None:
    choice = modes.choose("auto", modes.Runner("Linux", False, None, "`docker version` failed (x)"))
    assert choice.reason == "no Docker engine: `docker version` failed (x)"


def test_host_is_used_when_asked_even_with_an_engine() -> None:
    assert modes.choose("host", LINUX) == modes.Choice("host", "`runner: host`")


@pytest.mark.parametrize(("runner", "words"), [
    (modes.Runner("macOS", False, None), "needs a Linux runner with a Docker engine; this runner is macOS"),
    (modes.Runner("Linux", True, "27.3.1"), "cannot run in a job container (`container:`)"),
    (modes.Runner("Linux", False, None, "`docker version` failed (no daemon)"),
     "needs a Docker engine, and none answered: `docker version` failed (no daemon)"),
])
def test_docker_when_it_cannot_run_fails_with_the_way_out(runner: modes.Runner, words: str) -> None:
    with pytest.raises(LaunchError) as raised:
        modes.choose("docker", runner)
    assert words in raised.value.message
    assert "`runner: host`" in raised.value.message


def test_an_unknown_runner_input_is_a_usage_error() -> None:
    with pytest.raises(LaunchError) as raised:
        modes.requested_mode({"INPUT_RUNNER": "kubernetes"})
    assert raised.value.message == "Input `runner` must be `auto`, `docker` or `host`, not `kubernetes`."
    assert raised.value.exit_code == 2


def test_an_empty_runner_input_means_auto() -> None:
    assert modes.requested_mode({"INPUT_RUNNER": " "}) == "auto"


def test_an_engine_that_does_not_answer_is_named(tmp_path: Path) -> None:
    fake = tmp_path / "docker"
    fake.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon' >&2\nexit 1\n")
    fake.chmod(0o755)
    assert modes.docker_engine(str(fake)) == (
        None, "`docker version` failed (Cannot connect to the Docker daemon)")


def test_a_missing_docker_command_is_named(tmp_path: Path) -> None:
    assert modes.docker_engine(str(tmp_path / "docker")) == (
        None, "the `docker` command is not installed")


# -- docker mode ----------------------------------------------------------------------------------

RUNNER_ENV = {
    "RUNNER_TEMP": "/home/runner/work/_temp",
    "GITHUB_WORKSPACE": "/home/runner/work/proj/proj",
    "GITHUB_OUTPUT": "/home/runner/work/_temp/_runner_file_commands/set_output_1",
    "GITHUB_EVENT_PATH": "/home/runner/work/_temp/_github_workflow/event.json",
}


def mounts() -> list[docker_run.Mount]:
    return [docker_run.Mount("/home/runner/work/_temp", "/github/runner_temp"),
            docker_run.Mount("/home/runner/work/_temp/_github_home", "/github/home"),
            docker_run.Mount("/home/runner/work/_temp/_github_workflow", "/github/workflow"),
            docker_run.Mount("/home/runner/work/_temp/_runner_file_commands", "/github/file_commands"),
            docker_run.Mount("/home/runner/work/proj/proj", "/github/workspace")]


@pytest.mark.parametrize(("value", "translated"), [
    ("/home/runner/work/proj/proj", "/github/workspace"),
    ("/home/runner/work/proj/proj/dist", "/github/workspace/dist"),
    ("/home/runner/work/_temp/_runner_file_commands/set_output_1", "/github/file_commands/set_output_1"),
    ("/home/runner/work/_temp/ca.pem", "/github/runner_temp/ca.pem"),
    ("/home/runner/work/proj/projection", "/home/runner/work/proj/projection"),
    ("dist", "dist"),
    ("x /home/runner/work/proj/proj", "x /home/runner/work/proj/proj"),
])
def test_values_that_are_mounted_paths_are_translated_as_the_runner_does(
    value: str, translated: str
) -> None:
    assert docker_run.translate(value, mounts()) == translated


def test_the_runners_mounts_are_found_from_the_steps_environment(tmp_path: Path) -> None:
    temp = tmp_path / "_temp"
    for name in ("_runner_file_commands", "_github_workflow"):
        (temp / name).mkdir(parents=True)
    env = {"RUNNER_TEMP": str(temp), "GITHUB_WORKSPACE": str(tmp_path / "ws"),
           "GITHUB_OUTPUT": str(temp / "_runner_file_commands" / "set_output_1"),
           "GITHUB_EVENT_PATH": str(temp / "_github_workflow" / "event.json")}
    found = docker_run.runner_mounts(env)
    assert [(m.host, m.container) for m in found] == [
        (str(temp), "/github/runner_temp"), (str(temp / "_github_home"), "/github/home"),
        (str(temp / "_github_workflow"), "/github/workflow"),
        (str(temp / "_runner_file_commands"), "/github/file_commands"),
        (str(tmp_path / "ws"), "/github/workspace")]
    assert (temp / "_github_home").is_dir()


def test_docker_mode_outside_a_runner_is_named() -> None:
    with pytest.raises(LaunchError) as raised:
        docker_run.runner_mounts({"GITHUB_WORKSPACE": "/w"})
    assert raised.value.message == "Docker mode runs in a GitHub Actions step, and `RUNNER_TEMP` is not set."


def test_forwarded_names_are_the_env_context_and_the_runners_variables() -> None:
    env = {
        **RUNNER_ENV, "INPUT_REPOSITORY-URL": "u", "ACTIONS_ID_TOKEN_REQUEST_URL": "t",
        "PYPI_API_TOKEN": "from-workflow", "JAVA_HOME": "machine", "PATH": "/usr/bin",
        "HOME": "/home/runner", "GITHUB_ACTIONS": "true",
        "PYPI_PUBLISH_ENV_CONTEXT": json.dumps({"PYPI_API_TOKEN": "from-workflow", "PATH": "x",
                                                "MISSING": "gone"}),
        "PYPI_PUBLISH_IMAGE": "Dockerfile", "PYPI_PUBLISH_DOCKER_NETWORK": "host",
    }
    assert docker_run.forwarded_names(env) == [
        "ACTIONS_ID_TOKEN_REQUEST_URL", "GITHUB_EVENT_PATH", "GITHUB_OUTPUT", "GITHUB_WORKSPACE",
        "INPUT_REPOSITORY-URL", "PYPI_API_TOKEN", "RUNNER_TEMP"]


def test_docker_is_told_names_only_so_no_value_is_on_its_command_line() -> None:
    secret = "pypi-value-that-must-not-be-on-a-command-line"
    command = docker_run.run_command("docker", "img@sha256:" + "0" * 64,
                                     ["INPUT_PASSWORD", "PYPI_API_TOKEN"], mounts(), "", False)
    assert secret not in " ".join(command)
    assert command[command.index("INPUT_PASSWORD") - 1] == "-e"
    assert command[command.index("HOME=/github/home") - 1:command.index("CI=true") + 1] == \
        ["-e", "HOME=/github/home", "-e", "GITHUB_ACTIONS=true", "-e", "CI=true"]
    assert command[-1] == "img@sha256:" + "0" * 64
    assert command[command.index("--workdir") + 1] == "/github/workspace"


def test_the_jobs_network_is_used_and_the_knob_wins() -> None:
    assert docker_run.network({"PYPI_PUBLISH_JOB_NETWORK": "github_network_1"}) == "github_network_1"
    assert docker_run.network({"PYPI_PUBLISH_JOB_NETWORK": "github_network_1",
                               "PYPI_PUBLISH_DOCKER_NETWORK": "host"}) == "host"
    assert "--network" not in docker_run.run_command("docker", "i", [], mounts(), "", True)


# -- host mode -------------------------------------------------------------------------------------

def test_the_venv_python_is_under_scripts_on_windows() -> None:
    venv = PureWindowsPath(r"D:\a\_temp\pypi-publish\venv-1")
    assert host_venv.venv_python(venv, os_name="nt") == PureWindowsPath(
        r"D:\a\_temp\pypi-publish\venv-1\Scripts\python.exe")


def test_the_venv_python_is_under_bin_elsewhere() -> None:
    venv = PurePosixPath("/home/runner/work/_temp/pypi-publish/venv-1")
    assert host_venv.venv_python(venv, os_name="posix") == venv / "bin" / "python"


def test_the_entrypoint_command_keeps_windows_paths_whole_and_asks_for_utf8() -> None:
    command = host_venv.entrypoint_command(PureWindowsPath(r"D:\t\venv\Scripts\python.exe"),
                                           PureWindowsPath(r"D:\a\_actions\o\pypi-publish\v1"))
    assert command == [r"D:\t\venv\Scripts\python.exe", "-I", "-B", "-u", "-X", "utf8",
                       r"D:\a\_actions\o\pypi-publish\v1\entrypoint.py"]


def test_the_venv_lives_in_runner_temp() -> None:
    assert host_venv.temp_root({"RUNNER_TEMP": "/r/_temp"}) == Path("/r/_temp/pypi-publish")


@pytest.mark.parametrize(("changed", "index"), [(b"lock2", 0), ("/other/action", 1), ("3.13.1", 2)])
def test_another_lock_action_or_python_gets_another_venv(changed: bytes | str, index: int) -> None:
    parts: list[bytes | str] = [b"lock", "/action", "3.12.0"]
    before = host_venv.venv_key(b"lock", "/action", "3.12.0")
    parts[index] = changed
    assert host_venv.venv_key(*parts) != before  # type: ignore[arg-type]


def test_host_mode_refuses_a_python_older_than_3_10_and_names_setup_python() -> None:
    with pytest.raises(LaunchError) as raised:
        host_venv.check_python((3, 9, 18))
    assert raised.value.message.startswith("Host mode needs Python 3.10 or newer on the runner; "
                                           "this step found 3.9.18")
    assert "actions/setup-python" in raised.value.message


def test_host_mode_hands_the_inputs_over_unchanged_and_drops_only_the_launchers_variables() -> None:
    value = "a 'b' \"c\" $HOME ${{ github.token }}\nline 2\r\n"
    env = {"INPUT_REPOSITORY-URL": value, "PYPI_PUBLISH_ENV_CONTEXT": "{}",
           "PYPI_PUBLISH_IMAGE": "Dockerfile", "PATH": "/bin"}
    assert host_venv.child_environment(env) == {"INPUT_REPOSITORY-URL": value, "PATH": "/bin"}


# -- handing over ---------------------------------------------------------------------------------

def test_on_windows_the_launcher_runs_the_action_and_returns_its_status() -> None:
    code = main.hand_over([sys.executable, "-c", "raise SystemExit(7)"], {}, os_name="nt")
    assert code == 7


def test_on_posix_the_launcher_becomes_the_action_process() -> None:
    script = ("import os, sys; from launcher.main import hand_over; print(os.getpid(), flush=True); "
              "hand_over([sys.executable, '-c', 'import os; print(os.getpid()); raise SystemExit(5)'], "
              "dict(os.environ), os_name='posix'); print('still here')")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=False)
    before, after = proc.stdout.split()
    assert (proc.returncode, before) == (5, after)


def test_a_launch_error_becomes_one_escaped_annotation() -> None:
    error = LaunchError("No Docker: engine", "line 1\nline 2, 100%")
    assert main.annotation(error) == "::error title=No Docker%3A engine::line 1%0Aline 2, 100%25"


# -- nothing POSIX-only where host mode runs ------------------------------------------------------

def test_the_launcher_calls_no_posix_only_function_unguarded() -> None:
    assert [str(f) for f in scan_tree(REPO / "launcher", REPO)] == []


def test_the_product_calls_no_posix_only_function_unguarded() -> None:
    # Host mode runs the product on Windows and macOS too.
    assert [str(f) for f in scan_tree(REPO / "src" / "pypi_publish", REPO)] == []


# -- the inputs ------------------------------------------------------------------------------------

def test_each_input_becomes_input_name_with_its_hyphens_kept() -> None:
    value = "a 'b' \"c\" $HOME ${{ github.token }}\nline 2"
    env = main.with_inputs({"PYPI_PUBLISH_INPUTS": json.dumps({"repository-url": value,
                                                               "dry-run": "true"})})
    assert (env["INPUT_REPOSITORY-URL"], env["INPUT_DRY-RUN"]) == (value, "true")


def test_inputs_that_are_not_the_actions_json_object_are_refused() -> None:
    with pytest.raises(LaunchError) as raised:
        main.with_inputs({"PYPI_PUBLISH_INPUTS": '["not", "an", "object"]'})
    assert raised.value.title == "Bad inputs"


def test_without_the_json_the_environment_is_used_as_it_is() -> None:
    assert main.with_inputs({"INPUT_RUNNER": "host"}) == {"INPUT_RUNNER": "host"}

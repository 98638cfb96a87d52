"""Choose the mode, prepare it, and hand the step over to the action's own process."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from . import docker_run, host_venv
from .errors import LaunchError
from .modes import choose, probe_runner, requested_mode

ACTION_DIR = Path(__file__).resolve().parent.parent


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(error: LaunchError) -> str:
    return f"::error title={escape_property(error.title)}::{escape_data(error.message)}"


def hand_over(command: list[str], env: Mapping[str, str], os_name: str = os.name) -> int:
    """Become the action's process where the OS can (POSIX exec), else run it and pass its status.

    With exec, the runner's signals on cancel reach docker (which passes them to the container)
    or the action itself, and its exit status is the step's.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    if os_name == "posix":
        os.execve(command[0], command, dict(env))  # noqa: S606 -- no shell: the command as given
    with subprocess.Popen(command, env=dict(env)) as child:
        try:
            return child.wait()
        except KeyboardInterrupt:  # Ctrl-C reached the whole console; let the child finish
            return child.wait()


def with_inputs(env: Mapping[str, str]) -> dict[str, str]:
    """The step's environment with each input as `INPUT_<NAME>`, as a Docker action gets them.

    action.yml passes the inputs as one JSON object (`toJSON(inputs)`); the names follow the
    runner's rule (actions/runner, src/Runner.Worker/Handlers/Handler.cs, AddInputsToEnvironment):

        key: $"INPUT_{pair.Key?.Replace(' ', '_').ToUpperInvariant()}",
    """
    result = dict(env)
    raw = env.get("PYPI_PUBLISH_INPUTS")
    if raw is None:
        return result
    try:
        inputs = json.loads(raw)
    except ValueError:
        inputs = None
    if not isinstance(inputs, dict) or not all(isinstance(v, str) for v in inputs.values()):
        raise LaunchError("Bad inputs", "`PYPI_PUBLISH_INPUTS` is not the JSON object of the "
                          "action's inputs that action.yml passes.")
    for name, value in inputs.items():
        result["INPUT_" + str(name).replace(" ", "_").upper()] = value
    return result


def plan(env: Mapping[str, str], action_dir: Path) -> tuple[list[str], dict[str, str]]:
    print(f"pypi-publish starts from Python {platform.python_version()} at {sys.executable}.",
          flush=True)
    requested = requested_mode(env)
    docker = shutil.which("docker")
    choice = choose(requested, probe_runner(env, docker, requested))
    print(f"pypi-publish runs in {choice.mode} mode ({choice.reason}).", flush=True)
    if choice.mode == "docker":
        return docker_run.prepare(action_dir, env, docker or "docker")
    return host_venv.prepare(action_dir, env)


def main(env: Mapping[str, str] | None = None, action_dir: Path = ACTION_DIR) -> int:
    try:
        command, child_env = plan(with_inputs(os.environ if env is None else env), action_dir)
    except LaunchError as error:
        print(annotation(error), flush=True)
        return error.exit_code
    return hand_over(command, child_env)

"""Which way the action runs on this runner: `docker` (its image) or `host` (a venv), and why."""

from __future__ import annotations

import platform
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from .errors import LaunchError

MODES = ("auto", "docker", "host")
DOCKER_PROBE_SECONDS = 30.0


@dataclass(frozen=True)
class Runner:
    """What the choice depends on."""

    os: str  # RUNNER_OS: Linux, macOS or Windows
    # A job container (`container:`, `job.container.id`): the steps' paths exist only inside it,
    # so the engine could not mount them into the action's container.
    in_job_container: bool
    # The engine's version when `docker` answers, else None; `docker_problem` then says why.
    docker_version: str | None
    docker_problem: str = ""


@dataclass(frozen=True)
class Choice:
    mode: str
    reason: str


def requested_mode(env: Mapping[str, str]) -> str:
    value = env.get("INPUT_RUNNER", "").strip().lower() or "auto"
    if value not in MODES:
        raise LaunchError(
            "Invalid input",
            f"Input `runner` must be `auto`, `docker` or `host`, not `{env.get('INPUT_RUNNER')}`.",
            exit_code=2,
        )
    return value


def choose(requested: str, runner: Runner) -> Choice:
    """The mode to run in; `auto` is docker on Linux with a reachable engine, outside containers."""
    if requested == "host":
        return Choice("host", "`runner: host`")
    if requested == "docker":
        if runner.os != "Linux":
            raise LaunchError(
                "Docker mode needs Linux",
                f"`runner: docker` needs a Linux runner with a Docker engine; this runner is "
                f"{runner.os}. Set `runner: host` (or `auto`) to run pypi-publish on the runner's "
                "own Python.",
                exit_code=2,
            )
        if runner.in_job_container:
            raise LaunchError(
                "Docker mode cannot run in a job container",
                "`runner: docker` cannot run in a job container (`container:`): the Docker "
                "engine cannot mount the job container's workspace. Set `runner: host` (or `auto`).",
                exit_code=2,
            )
        if runner.docker_version is None:
            raise LaunchError(
                "No Docker engine",
                f"`runner: docker` needs a Docker engine, and none answered: "
                f"{runner.docker_problem}. Start one, or set `runner: host` (or `auto`).",
                exit_code=1,
            )
        return Choice("docker", f"`runner: docker`, Docker engine {runner.docker_version}")
    if runner.os != "Linux":
        return Choice("host", f"{runner.os} runner")
    if runner.in_job_container:
        return Choice("host", "in a job container")
    if runner.docker_version is None:
        return Choice("host", f"no Docker engine: {runner.docker_problem}")
    return Choice("docker", f"Linux with Docker engine {runner.docker_version}")


def runner_os(env: Mapping[str, str]) -> str:
    known = {"linux": "Linux", "darwin": "macOS", "windows": "Windows"}
    return env.get("RUNNER_OS") or known.get(platform.system().lower(), platform.system())


Probe = Callable[[list[str]], "subprocess.CompletedProcess[str]"]


def run_probe(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=DOCKER_PROBE_SECONDS,
                          stdin=subprocess.DEVNULL, check=False)


def docker_engine(docker: str, probe: Probe = run_probe) -> tuple[str | None, str]:
    """(engine version, "") when `docker` reaches an engine, else (None, why not)."""
    try:
        answer = probe([docker, "version", "--format", "{{.Server.Version}}"])
    except FileNotFoundError:
        return None, "the `docker` command is not installed"
    except subprocess.TimeoutExpired:
        return None, f"`docker version` did not answer within {DOCKER_PROBE_SECONDS:.0f} s"
    version = answer.stdout.strip()
    if answer.returncode == 0 and version:
        return version, ""
    last = (answer.stderr.strip().splitlines() or ["no output"])[-1]
    return None, f"`docker version` failed ({last})"


def probe_runner(env: Mapping[str, str], docker: str | None, requested: str) -> Runner:
    """The facts `choose` needs; the engine is asked only where its answer can matter."""
    os_name = runner_os(env)
    container = bool(env.get("PYPI_PUBLISH_JOB_CONTAINER", "").strip())
    if requested == "host" or os_name != "Linux" or container:
        return Runner(os_name, container, None, "not asked")
    if docker is None:
        return Runner(os_name, container, None, "the `docker` command is not installed")
    version, problem = docker_engine(docker)
    return Runner(os_name, container, version, problem)

"""Docker mode: start the action's image from a `run:` step as the runner starts a Docker action.

What the runner does, and this module repeats (actions/runner, src/Runner.Worker/Handlers/
ContainerActionHandler.cs and Container/DockerCommandManager.cs `DockerRun`):

    container.MountVolumes.Add(new MountVolume(tempDirectory, "/github/runner_temp"));
    container.MountVolumes.Add(new MountVolume(tempHomeDirectory, "/github/home"));
    container.MountVolumes.Add(new MountVolume(tempWorkflowDirectory, "/github/workflow"));
    container.MountVolumes.Add(new MountVolume(tempFileCommandDirectory, "/github/file_commands"));
    container.MountVolumes.Add(new MountVolume(defaultWorkingDirectory, "/github/workspace"));
    container.AddPathTranslateMapping(tempDirectory, "/github/runner_temp");   // ... one per mount
    container.ContainerWorkDirectory = "/github/workspace";
    foreach (var variable in this.Environment)
        container.ContainerEnvironmentVariables[variable.Key] =
            container.TranslateToContainerPath(variable.Value);
    // e.g. -e MY_SECRET maps the value into the exec'ed process without exposing
    // the value directly in the command
    dockerOptions.Add(DockerUtil.CreateEscapedOption("-e", env.Key));
    dockerOptions.Add("-e GITHUB_ACTIONS=true");
    if (!container.ContainerEnvironmentVariables.ContainsKey("CI")) dockerOptions.Add("-e CI=true");
    if (!string.IsNullOrEmpty(container.ContainerNetwork))
        dockerOptions.Add($"--network {container.ContainerNetwork}");

`this.Environment` is the step's `env` context (the workflow's, the job's, the calling step's and
`GITHUB_ENV`'s variables), the inputs as `INPUT_<NAME>`, the `github`/`runner` contexts' variables
and `ACTIONS_ID_TOKEN_REQUEST_*`. A `run:` step sees the same, mixed with the machine's own
environment; action.yml hands this step `toJSON(env)` so that only the names the runner would
pass are passed, each by name (`-e NAME`), its value in docker's environment, never on a command
line. The docker socket, which the runner also mounts, is left out: nothing here needs the engine.
"""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import LaunchError

CONTAINER_WORKSPACE = "/github/workspace"
CONTAINER_HOME = "/github/home"
# Variables that action.yml sets for the launcher (and its knob); they are not the action's.
LAUNCHER_NAMES = frozenset({"PYPI_PUBLISH_INPUTS", "PYPI_PUBLISH_IMAGE", "PYPI_PUBLISH_ENV_CONTEXT",
                            "PYPI_PUBLISH_JOB_NETWORK", "PYPI_PUBLISH_JOB_CONTAINER",
                            "PYPI_PUBLISH_DOCKER_NETWORK"})
# Set literally on the command line, as the runner does, or meaningless inside the image.
NOT_FORWARDED = frozenset({"GITHUB_ACTIONS", "HOME", "PATH", "HOSTNAME"})
RUNTIME_PREFIXES = ("GITHUB_", "RUNNER_", "ACTIONS_", "INPUT_")
BUILD_SECONDS = 30 * 60.0
PULL_SECONDS = 10 * 60.0
PULL_ATTEMPTS = 3


@dataclass(frozen=True)
class Mount:
    host: str
    container: str


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise LaunchError("Not on a runner",
                          f"Docker mode runs in a GitHub Actions step, and `{name}` is not set.")
    return value.rstrip("/") or "/"


def runner_mounts(env: Mapping[str, str]) -> list[Mount]:
    """The runner's five mounts, in its order, found from this step's environment.

    The runner's own names (`_github_home`, `_github_workflow`, `_runner_file_commands` under
    RUNNER_TEMP) are used where the step's variables do not name the directories.
    """
    temp = _required(env, "RUNNER_TEMP")
    workspace = _required(env, "GITHUB_WORKSPACE")
    home = str(Path(temp) / "_github_home")
    Path(home).mkdir(parents=True, exist_ok=True)
    event = env.get("GITHUB_EVENT_PATH", "")
    workflow = str(Path(event).parent) if event else str(Path(temp) / "_github_workflow")
    output = env.get("GITHUB_OUTPUT", "")
    commands = str(Path(output).parent) if output else str(Path(temp) / "_runner_file_commands")
    mounts = [Mount(temp, "/github/runner_temp"), Mount(home, CONTAINER_HOME)]
    for directory, target in ((workflow, "/github/workflow"), (commands, "/github/file_commands")):
        if Path(directory).is_dir():
            mounts.append(Mount(directory, target))
    mounts.append(Mount(workspace, CONTAINER_WORKSPACE))
    return mounts


def translate(value: str, mounts: Iterable[Mount]) -> str:
    """`ContainerInfo.TranslateToContainerPath`: a value that is, or starts with, a mounted path.

    `AddPathTranslateMapping` inserts each mapping first, so the last mount is tried first.
    """
    for mount in reversed(list(mounts)):
        if value == mount.host:
            return mount.container
        if value.startswith(mount.host.rstrip("/") + "/"):
            return mount.container + value[len(mount.host.rstrip("/")):]
    return value


def context_names(raw: str) -> set[str]:
    """The names in the step's `env` context (`toJSON(env)`); none when it is missing or odd."""
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return set()
    return {str(name) for name in value} if isinstance(value, dict) else set()


def forwarded_names(env: Mapping[str, str]) -> list[str]:
    names = context_names(env.get("PYPI_PUBLISH_ENV_CONTEXT", ""))
    names |= {name for name in env if name.startswith(RUNTIME_PREFIXES)}
    return sorted(name for name in names
                  if name in env and name not in LAUNCHER_NAMES | NOT_FORWARDED)


def network(env: Mapping[str, str]) -> str:
    """`PYPI_PUBLISH_DOCKER_NETWORK` if set, else the job's network (services), else the default."""
    return env.get("PYPI_PUBLISH_DOCKER_NETWORK", "") or env.get("PYPI_PUBLISH_JOB_NETWORK", "")


def run_command(docker: str, image: str, names: list[str], mounts: list[Mount], net: str,
                ci_given: bool) -> list[str]:
    """`docker run` as `DockerRun` builds it: names only, then the literal runner variables."""
    command = [docker, "run", "--name", f"pypi-publish-{uuid.uuid4().hex[:12]}",
               "--label", "pypi-publish-action", "--workdir", CONTAINER_WORKSPACE, "--rm"]
    for name in names:
        command += ["-e", name]
    command += ["-e", f"HOME={CONTAINER_HOME}", "-e", "GITHUB_ACTIONS=true"]
    if not ci_given:
        command += ["-e", "CI=true"]
    if net:
        command += ["--network", net]
    for mount in mounts:
        command += ["-v", f"{mount.host}:{mount.container}"]
    return [*command, image]


def _quiet(command: list[str], timeout: float) -> int:
    try:
        return subprocess.run(command, capture_output=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, check=False).returncode
    except subprocess.TimeoutExpired:
        return -1


def _shown(command: list[str], timeout: float, title: str) -> int:
    print(f"::group::{title}", flush=True)
    try:
        return subprocess.run(command, timeout=timeout, stdin=subprocess.DEVNULL,
                              check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"`{' '.join(command[:2])}` took longer than {timeout / 60:.0f} minutes.", flush=True)
        return -1
    finally:
        sys.stdout.flush()
        print("::endgroup::", flush=True)


def pulled(docker: str, reference: str) -> str:
    """The image by digest, pulled unless the engine has it; three tries, as the runner makes."""
    if _quiet([docker, "image", "inspect", reference], 60) == 0:
        return reference
    code = 0
    for attempt in range(1, PULL_ATTEMPTS + 1):
        code = _shown([docker, "pull", reference], PULL_SECONDS, f"Pull {reference}")
        if code == 0:
            return reference
        if attempt < PULL_ATTEMPTS:
            time.sleep(random.uniform(1, 10))  # noqa: S311 -- a back-off, not a secret
    raise LaunchError("Image pull failed",
                      f"`docker pull {reference}` failed {PULL_ATTEMPTS} times (exit code {code}).")


def build_tag(action_dir: Path) -> str:
    """One tag per checkout of the action: a rebuild replaces it and reuses the engine's layers."""
    return "pypi-publish-action:" + hashlib.sha256(str(action_dir).encode()).hexdigest()[:16]


def built(docker: str, action_dir: Path, dockerfile: str) -> str:
    """The image built from the action's own Dockerfile, its directory the context (as the runner)."""
    path = action_dir / dockerfile
    if not path.is_file():
        raise LaunchError("No Dockerfile", f"The action has no `{dockerfile}` at `{path}`.")
    tag = build_tag(action_dir)
    code = _shown([docker, "build", "-t", tag, "-f", str(path), str(path.parent)], BUILD_SECONDS,
                  "Build the action's image")
    if code != 0:
        raise LaunchError("Image build failed",
                          f"`docker build` of `{path}` failed (exit code {code}).")
    return tag


def prepare(action_dir: Path, env: Mapping[str, str], docker: str) -> tuple[list[str], dict[str, str]]:
    """The `docker run` command and its environment; builds or pulls the image first."""
    spec = env.get("PYPI_PUBLISH_IMAGE", "") or "Dockerfile"
    mounts = runner_mounts(env)
    names = forwarded_names(env)
    if spec.startswith("docker://"):
        image = pulled(docker, spec[len("docker://"):])
    else:
        image = built(docker, action_dir, spec)
    child = dict(env)
    child.update({name: translate(env[name], mounts) for name in names})
    for name in LAUNCHER_NAMES:
        child.pop(name, None)
    return run_command(docker, image, names, mounts, network(env), "CI" in names), child

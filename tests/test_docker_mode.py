"""The composite action in docker mode, run here as the runner runs it, against podman's Docker API.

The action is a copy of this checkout pointed at the image by digest, as a release is
(scripts/release-image --point-at); tests/support/composite_runner.py plays the runner and the
`docker` command talks to `podman system service`. `PYPI_PUBLISH_DOCKER_NETWORK=host` in the
workflow's `env:` lets the container reach the loopback index, as a job's service network would.
"""

from __future__ import annotations

import json
import shutil
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.docker_run import build_tag
from tests.conftest import WHEELHOUSE, BuiltDists
from tests.support.composite_runner import CompositeRunner, machine_env
from tests.support.containers import (
    BASE,
    IMAGE_WHEELS,
    DockerApi,
    action_image,
    build,
    copy_action,
    docker_api,
    docker_env,
    released_action,
    remove_image,
)
from tests.support.index_server import IndexServer

pytestmark = [pytest.mark.container, pytest.mark.slow]

SAMPLE_FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
GITHUB_ENV = {"GITHUB_REPOSITORY": "octo-org/sample-project", "GITHUB_REF": "refs/heads/main",
              "GITHUB_REF_TYPE": "branch", "GITHUB_REF_NAME": "main"}
DOCKER_NETWORK = {"PYPI_PUBLISH_DOCKER_NETWORK": "host"}
PROBE = """\
import json, os, sys
with open("/github/workspace/probe.json", "w", encoding="utf-8") as handle:
    json.dump({"env": dict(os.environ), "cwd": os.getcwd(), "argv": sys.argv}, handle)
with open(os.environ["GITHUB_OUTPUT"], "a", encoding="utf-8") as handle:
    handle.write("version=probed\\n")
"""
# Logs every argument `docker` gets (NUL-separated, one line per call), then runs the real one.
DOCKER_SHIM = """\
#!{python}
import os, sys
with open({log!r}, "a", encoding="utf-8", errors="surrogateescape") as log:
    log.write("\\0".join(sys.argv[1:]) + "\\n")
os.execv({docker!r}, [{docker!r}, *sys.argv[1:]])
"""


@pytest.fixture
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> DockerApi:
    return docker_api(request, tmp_path_factory)


@pytest.fixture
def image(request: pytest.FixtureRequest) -> str:
    return action_image(request)


def docker_job(action_dir: Path, root: Path, api: DockerApi, path_prefix: str = "") -> CompositeRunner:
    workspace = root / "workspace"
    workspace.mkdir(parents=True)
    machine = machine_env({**docker_env(api), "PYPI_PUBLISH_PYTHON": sys.executable})
    if path_prefix:
        machine["PATH"] = f"{path_prefix}:{machine['PATH']}"
    return CompositeRunner(action_dir, workspace, root / "runner-temp", machine,
                           github_env=dict(GITHUB_ENV))


# -- every input reaches the container unchanged ---------------------------------------------------

@pytest.fixture
def probe_image(image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An image whose entrypoint records what the container got, on the same base."""
    context = tmp_path_factory.mktemp("probe")
    (context / "probe.py").write_text(PROBE)
    (context / "Dockerfile").write_text(
        'ARG BASE\nFROM ${BASE}\nCOPY probe.py /probe.py\nENTRYPOINT ["python3", "/probe.py"]\n')
    tag = f"localhost/pypi-publish-probe:{uuid.uuid4().hex[:12]}"
    build(context, tag, BASE, IMAGE_WHEELS)
    yield tag
    remove_image(tag)


def tricky(name: str) -> str:
    return (f"{name}: 'single' \"double\" `tick` $HOME ${{{{ github.token }}}} \\ %0A ::x::\n"
            f"second line\twith tab\r\nthird; echo $(id) | cat > /tmp/x\n")


def test_the_docker_step_hands_every_input_and_variable_through_unchanged(
    probe_image: str, api: DockerApi, tmp_path: Path
) -> None:
    action = released_action(tmp_path / "action", probe_image)
    shim_dir = tmp_path / "shim"
    shim_dir.mkdir()
    log = tmp_path / "docker-argv.log"
    real = shutil.which("docker")
    assert real is not None
    (shim_dir / "docker").write_text(DOCKER_SHIM.format(python=sys.executable, log=str(log), docker=real))
    (shim_dir / "docker").chmod(0o755)
    job = docker_job(action, tmp_path, api, path_prefix=str(shim_dir))
    job.machine_env["ONLY_ON_THE_MACHINE"] = "not for the container"
    inputs = {name: tricky(name) for name in job.action["inputs"] if name != "runner"}
    workflow_env = {**DOCKER_NETWORK, "MY_SETTING": tricky("env"),
                    "WHERE": str(job.workspace / "dist")}
    run = job.run({**inputs, "runner": "docker"}, env=workflow_env)
    assert run.returncode == 0, run.text
    seen = json.loads((job.workspace / "probe.json").read_text(encoding="utf-8"))
    env = seen["env"]
    assert {name: env.get(f"INPUT_{name.upper()}") for name in inputs} == inputs
    assert env["INPUT_RUNNER"] == "docker"
    assert env["MY_SETTING"] == tricky("env")
    assert env["WHERE"] == "/github/workspace/dist"  # a mounted path, translated as the runner does
    assert (env["GITHUB_WORKSPACE"], env["HOME"], seen["cwd"]) == (
        "/github/workspace", "/github/home", "/github/workspace")
    assert env["GITHUB_OUTPUT"].startswith("/github/file_commands/set_output_")
    assert (env["GITHUB_ACTIONS"], env["CI"]) == ("true", "true")
    assert "ONLY_ON_THE_MACHINE" not in env
    assert not [name for name in env if name.startswith("PYPI_PUBLISH_")]
    assert run.outputs["version"] == "probed"
    # No value of an input or variable was ever on docker's command line.
    calls = log.read_text(encoding="utf-8", errors="surrogateescape")
    for value in [*inputs.values(), tricky("env")]:
        assert value.splitlines()[0] not in calls


# -- docker and host mode: the same outcome --------------------------------------------------------

@pytest.fixture
def action(image: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return released_action(tmp_path_factory.mktemp("released") / "action", image)


def offline_pip() -> dict[str, str]:
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": f"{IMAGE_WHEELS} {WHEELHOUSE}"}


def test_docker_and_host_modes_publish_the_same_way_with_a_token(
    action: Path, api: DockerApi, tmp_path: Path, built_dists: BuiltDists, index: IndexServer
) -> None:
    results, dists = {}, built_dists()
    for mode in ("docker", "host"):
        job = docker_job(action, tmp_path / mode, api)
        shutil.copytree(dists, job.workspace / "dist")
        run = job.run({"repository-url": index.upload_url, "password": index.password,
                       "runner": mode}, env={**DOCKER_NETWORK, **offline_pip()})
        assert run.returncode == 0, run.text
        assert f"pypi-publish runs in {mode} mode" in run.stdout
        assert index.files() == SAMPLE_FILES
        results[mode] = run
        index.clear()
    assert results["docker"].outputs == results["host"].outputs
    assert results["docker"].outputs["auth"] == "token"
    assert sorted(json.loads(results["docker"].outputs["uploaded"])) == SAMPLE_FILES


def test_docker_and_host_modes_publish_the_same_way_with_trusted_publishing(
    action: Path, api: DockerApi, tmp_path: Path, built_dists: BuiltDists,
    request: pytest.FixtureRequest,
) -> None:
    oidc = request.getfixturevalue("github_oidc")
    warehouse = request.getfixturevalue("warehouse")
    index = request.getfixturevalue("index")
    results, dists = {}, built_dists()
    for mode in ("docker", "host"):
        job = docker_job(action, tmp_path / mode, api)
        job.github_env.update({"ACTIONS_ID_TOKEN_REQUEST_URL": oidc.request_url,
                               "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc.request_token})
        shutil.copytree(dists, job.workspace / "dist")
        # Attestations differ per run (log indexes); what is compared is the rest.
        run = job.run({"repository-url": warehouse.upload_url, "runner": mode,
                       "attestations": "false"}, env={**DOCKER_NETWORK, **offline_pip()})
        assert run.returncode == 0, run.text
        assert warehouse.files() == SAMPLE_FILES
        results[mode] = run
        index.clear()
    assert results["docker"].outputs == results["host"].outputs
    assert results["docker"].outputs["auth"] == "trusted-publishing"


def test_auto_runs_the_image_where_a_docker_engine_answers(
    action: Path, api: DockerApi, tmp_path: Path, built_dists: BuiltDists, index: IndexServer
) -> None:
    job = docker_job(action, tmp_path, api)
    shutil.copytree(built_dists(), job.workspace / "dist")
    run = job.run({"repository-url": index.upload_url, "dry-run": "true"}, env=DOCKER_NETWORK)
    assert run.returncode == 0, run.text
    assert "pypi-publish runs in docker mode (Linux with Docker engine " in run.stdout


def test_docker_mode_builds_the_actions_own_dockerfile_on_main(
    image: str, api: DockerApi, tmp_path: Path, built_dists: BuiltDists, index: IndexServer
) -> None:
    # On main, action.yml says "Dockerfile": docker mode builds the action's directory. Here the
    # Dockerfile starts from the already built image (the real one needs the network to build).
    action = copy_action(tmp_path / "action")
    (action / "Dockerfile").write_text(f"FROM {image}\nLABEL built-from=the-actions-dockerfile\n")
    job = docker_job(action, tmp_path / "job", api)
    shutil.copytree(built_dists(), job.workspace / "dist")
    try:
        run = job.run({"repository-url": index.upload_url, "dry-run": "true", "runner": "docker"},
                      env=DOCKER_NETWORK)
    finally:
        remove_image(build_tag(action))
    assert run.returncode == 0, run.text
    assert "::group::Build the action's image" in run.stdout
    assert json.loads(run.outputs["files"]) and run.outputs["version"] == "1.2.3"

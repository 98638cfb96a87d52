"""The action's image, built with buildah and run with podman exactly as the Actions runner runs it
(tests/support/image_runner.py says how). Set up by `bash .ci/container setup`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import WHEELHOUSE, BuiltDists
from tests.support.containers import action_image, podman_run
from tests.support.image_runner import (
    RUNNER_UID,
    WORKSPACE,
    Mounts,
    RunImage,
    image_runner,
    runner_owned,
    token_inputs,
    with_dists,
)
from tests.support.index_server import IndexServer
from tests.support.projects import BACKENDS, write_project

pytestmark = pytest.mark.container

SAMPLE_FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]


@pytest.fixture
def image(request: pytest.FixtureRequest) -> str:
    """The action's image built from this checkout's Dockerfile, offline, on the local base."""
    return action_image(request)


@pytest.fixture
def run_image(image: str, tmp_path: Path) -> RunImage:
    return image_runner(image, tmp_path)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


# -- the publish paths ---------------------------------------------------------------------------


def test_image_publishes_with_a_token(
    run_image: RunImage, workspace: Path, built_dists: BuiltDists, index: IndexServer
) -> None:
    run = run_image(Mounts(with_dists(workspace, built_dists)), token_inputs(index))
    assert run.returncode == 0, run.text
    assert run.stdout.startswith("::add-mask::"), run.stdout[:200]
    assert index.files() == SAMPLE_FILES
    assert run.outputs["auth"] == "token"
    assert run.outputs["version"] == "1.2.3"
    assert sorted(json.loads(run.outputs["uploaded"])) == SAMPLE_FILES
    assert all(name in run.summary for name in SAMPLE_FILES)


def test_image_publishes_with_trusted_publishing(
    run_image: RunImage, workspace: Path, built_dists: BuiltDists, request: pytest.FixtureRequest
) -> None:
    # The runner gives a job with `id-token: write` these two variables and no token at all; the
    # fakes are a GitHub-style ID-token endpoint and a PyPI-style index front (tests/fakes).
    try:
        oidc = request.getfixturevalue("github_oidc")
        warehouse = request.getfixturevalue("warehouse")
    except pytest.FixtureLookupError:
        pytest.skip("the Trusted Publishing fakes (fixtures `github_oidc`, `warehouse`) are not there")
    run = run_image(
        # Signing in the image has its own test in host mode, which runs the same locked venv.
        Mounts(with_dists(workspace, built_dists)), {"repository-url": warehouse.upload_url,
                                                     "attestations": "false"},
        env={"ACTIONS_ID_TOKEN_REQUEST_URL": oidc.request_url,
             "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc.request_token},
    )
    assert run.returncode == 0, run.text
    assert run.outputs["auth"] == "trusted-publishing"
    assert sorted(json.loads(run.outputs["uploaded"])) == SAMPLE_FILES
    assert warehouse.files() == SAMPLE_FILES


@pytest.mark.parametrize("backend", BACKENDS)
def test_image_builds_the_project_in_the_workspace_and_publishes_it(
    run_image: RunImage, workspace: Path, index: IndexServer, backend: str
) -> None:
    # The image's pip and venv make the isolated PEP 517 build environment; no build tool is baked in.
    project = runner_owned(write_project(workspace, "sample-project", "1.2.3", backend))
    # The workflow's `env:` reaches the container: here, build backends from a local wheelhouse.
    run = run_image(
        Mounts(project, extra=[f"{WHEELHOUSE}:/wheelhouse:ro"]), token_inputs(index),
        env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheelhouse"},
    )
    assert run.returncode == 0, run.text
    assert index.files() == SAMPLE_FILES
    assert sorted(p.name for p in (project / "dist").iterdir()) == SAMPLE_FILES


def test_files_the_image_writes_into_the_workspace_belong_to_the_workspace_owner(
    run_image: RunImage, workspace: Path, index: IndexServer
) -> None:
    # Root-owned files in a runner's workspace break the next job's checkout clean-up.
    project = runner_owned(write_project(workspace, "sample-project", "1.2.3", "setuptools"))
    run = run_image(
        Mounts(project, extra=[f"{WHEELHOUSE}:/wheelhouse:ro"]),
        {**token_inputs(index), "dry-run": "true"},
        env={"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheelhouse"},
    )
    assert run.returncode == 0, run.text
    not_owned = [str(p.relative_to(project)) for p in [project, *project.rglob("*")]
                 if p.lstat().st_uid != RUNNER_UID]
    assert not_owned == [], f"owned by root: {not_owned}"


# -- bad input -------------------------------------------------------------------------------------


def test_missing_workspace_is_named(run_image: RunImage, index: IndexServer) -> None:
    # No mount and no directory: the product, not the container runtime, must say what is wrong.
    run = run_image(Mounts(None), token_inputs(index), workdir="/")
    assert run.returncode == 2, run.text
    assert f"The workspace `{WORKSPACE}` does not exist or is not a directory." in run.stdout
    assert "actions/checkout" in run.stdout
    assert index.files() == []


def test_unmounted_workspace_that_docker_creates_empty_is_named(
    run_image: RunImage, index: IndexServer
) -> None:
    # Docker creates a missing --workdir as an empty directory; a tmpfs there is the same thing.
    run = run_image(Mounts(None), token_inputs(index), options=["--mount", f"type=tmpfs,dst={WORKSPACE}"])
    assert run.returncode != 0, run.text
    assert f"The workspace `{WORKSPACE}` is empty." in run.stdout
    assert "Run `actions/checkout` (to build) or `actions/download-artifact`" in run.stdout
    assert index.files() == []


def test_read_only_workspace_cannot_receive_a_build(
    run_image: RunImage, workspace: Path, index: IndexServer
) -> None:
    project = runner_owned(write_project(workspace, "sample-project", "1.2.3", "setuptools"))
    run = run_image(Mounts(project, read_only=True), token_inputs(index))
    assert run.returncode == 1, run.text
    assert f"Cannot write to `{WORKSPACE}/dist`: Read-only file system." in run.stdout
    assert "build in an earlier step and use `build: false`" in run.stdout
    assert index.files() == []


def test_read_only_workspace_is_enough_to_publish_built_files(
    run_image: RunImage, workspace: Path, built_dists: BuiltDists, index: IndexServer
) -> None:
    run = run_image(Mounts(with_dists(workspace, built_dists), read_only=True), token_inputs(index))
    assert run.returncode == 0, run.text
    assert index.files() == SAMPLE_FILES


@pytest.mark.parametrize("packages_dir", ["../etc", "dist/../../etc", "/etc"])
def test_packages_dir_outside_the_workspace_is_refused(
    run_image: RunImage, workspace: Path, built_dists: BuiltDists, index: IndexServer,
    packages_dir: str,
) -> None:
    run = run_image(Mounts(with_dists(workspace, built_dists)),
                    {**token_inputs(index), "packages-dir": packages_dir})
    assert run.returncode == 2, run.text
    assert (f"Input `packages-dir` ({packages_dir}) is a path that leads outside the workspace "
            f"({WORKSPACE}).") in run.stdout
    assert index.files() == []


def test_packages_dir_symlinked_outside_the_workspace_is_refused(
    run_image: RunImage, workspace: Path, index: IndexServer
) -> None:
    (workspace / "dist").symlink_to("/etc")
    run = run_image(Mounts(runner_owned(workspace)), token_inputs(index))
    assert run.returncode == 2, run.text
    assert (f"Input `packages-dir` (dist) is a symlink that leads outside the workspace "
            f"({WORKSPACE}).") in run.stdout
    assert index.files() == []


def test_distribution_symlinked_to_a_file_outside_the_workspace_is_refused(
    run_image: RunImage, workspace: Path, built_dists: BuiltDists, index: IndexServer,
    tmp_path: Path,
) -> None:
    outside = built_dists()
    wheel = SAMPLE_FILES[0]
    (workspace / "dist").mkdir()
    shutil.copy(outside / SAMPLE_FILES[1], workspace / "dist")
    (workspace / "dist" / wheel).symlink_to(f"/outside/{wheel}")
    run = run_image(Mounts(runner_owned(workspace), extra=[f"{outside}:/outside:ro"]),
                    token_inputs(index))
    assert run.returncode == 1, run.text
    assert f"`{wheel}` is a symlink to `/outside/{wheel}`, outside the workspace." in run.stdout
    assert index.files() == []


# -- the image itself ------------------------------------------------------------------------------

PROBE = """
import importlib.util, json, pathlib, shutil, sys, sysconfig
import pypi_publish.action as action
pyc = pathlib.Path(importlib.util.cache_from_source(action.__file__))
flags = int.from_bytes(pyc.read_bytes()[4:8], "little") if pyc.exists() else None
print(json.dumps({
    "prefix": sys.prefix,
    "pip": importlib.util.find_spec("pip") is not None,
    "setuptools": importlib.util.find_spec("setuptools") is not None,
    "wheel": importlib.util.find_spec("wheel") is not None,
    "compilers": [c for c in ("gcc", "cc", "make") if shutil.which(c)],
    "build_tools_venv": pathlib.Path("/opt/build-tools").exists(),
    "source_tree": pathlib.Path("/src").exists(),
    "pyc_flags": flags,
}))
"""


def test_image_holds_the_locked_runtime_and_no_build_tools(image: str) -> None:
    proc = subprocess.run(podman_run("--network", "none", "--entrypoint",
                                 "/opt/venv/bin/python", image, "-c", PROBE),
                          capture_output=True, text=True, timeout=120, check=True)
    facts = json.loads(proc.stdout)
    assert facts["prefix"] == "/opt/venv"
    assert facts["pip"], "build's isolated environments are driven by the venv's pip"
    assert not facts["setuptools"] and not facts["wheel"]
    assert facts["compilers"] == []
    assert not facts["build_tools_venv"] and not facts["source_tree"]
    assert facts["pyc_flags"] == 0b01, "hash-based .pyc that skip the source check"


def test_image_entrypoint_runs_the_action_isolated(image: str) -> None:
    proc = subprocess.run(["podman", "image", "inspect", image], capture_output=True, text=True,
                          check=True)
    config = json.loads(proc.stdout)[0]["Config"]
    assert config["Entrypoint"] == ["/opt/venv/bin/python", "-I", "-B", "-u",
                                    "/opt/pypi-publish/entrypoint.py"]
    assert "WorkingDir" not in config or config["WorkingDir"] in ("", "/")
    assert "User" not in config or config["User"] in ("", "root", "0")

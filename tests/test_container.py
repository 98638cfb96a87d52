"""The action's image, built with buildah and run with podman exactly as the Actions runner runs it.

The runner starts a Docker action as root with `--workdir /github/workspace`, the checkout mounted
there, `/github/home` and `/github/file_commands` mounted, the inputs as `INPUT_<NAME>` variables
(passed by name, so no value is on a command line) and `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY`
pointing into `/github/file_commands`; the image's ENTRYPOINT does the rest. The workspace belongs
to the runner's user (uid 1001), not to root. `--network host` stands in for the runner's network
so the container reaches the loopback index. Set up by `bash .ci/container setup`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import REPO, WHEELHOUSE, BuiltDists, Run, parse_output_file
from tests.support.index_server import IndexServer
from tests.support.projects import BACKENDS, write_project
from tests.support.secret_sweep import sweep_file

pytestmark = pytest.mark.container

BASE = os.environ.get("PYPI_PUBLISH_TEST_BASE", "localhost/python-slim-like:3.11")
# An image built elsewhere (a release candidate, another base) to test instead of building one.
GIVEN_IMAGE = os.environ.get("PYPI_PUBLISH_TEST_IMAGE", "")
IMAGE_WHEELS = REPO / ".cache" / "container" / "wheels"
RUNNER_UID = 1001
WORKSPACE = "/github/workspace"
SAMPLE_FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
SETUP_HINT = "run `bash .ci/container setup`"


def runc() -> str | None:
    return shutil.which("runc") or next(
        (p for p in ("/usr/sbin/runc", "/usr/bin/runc") if Path(p).is_file()), None)


def podman(*args: str) -> list[str]:
    # runc rather than crun, and cgroupfs: what works in an unprivileged CI sandbox without systemd.
    return ["podman", "--runtime", runc() or "runc", "--cgroup-manager=cgroupfs", *args]


def podman_run(*args: str) -> list[str]:
    # Explicit limits: raising the defaults needs a capability such sandboxes lack.
    return podman("run", "--rm", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=20000:20000",
                  *args)


def unavailable() -> str | None:
    """Why the image cannot be built and run here, or None."""
    if os.geteuid() != 0:
        return "needs root, as the runner runs the image (rootful podman, workspaces owned by uid 1001)"
    for tool in ("podman", "buildah"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed ({SETUP_HINT})"
    if runc() is None:
        return f"runc is not installed ({SETUP_HINT})"
    if GIVEN_IMAGE:
        exists = subprocess.run(["podman", "image", "exists", GIVEN_IMAGE], check=False)
        return None if exists.returncode == 0 else f"PYPI_PUBLISH_TEST_IMAGE={GIVEN_IMAGE} does not exist"
    if subprocess.run(["podman", "image", "exists", BASE], check=False).returncode != 0:
        return f"the local base image {BASE} does not exist ({SETUP_HINT})"
    if not any(IMAGE_WHEELS.glob("pip-*.whl")):
        return f"{IMAGE_WHEELS} has no locked wheels to build the image offline ({SETUP_HINT})"
    return None


@pytest.fixture(scope="session")
def image() -> Iterator[str]:
    """The action's image built from this checkout's Dockerfile, offline, on the local base."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    if GIVEN_IMAGE:
        yield GIVEN_IMAGE
        return
    tag = f"localhost/pypi-publish:test-{uuid.uuid4().hex[:12]}"
    proc = subprocess.run(
        ["buildah", "bud", "--quiet", "--isolation", "chroot", "--network", "host",
         "-v", f"{IMAGE_WHEELS}:/wheels:ro", "--build-arg", f"BASE={BASE}",
         "--build-arg", "WHEELHOUSE=/wheels", "-t", tag, str(REPO)],
        capture_output=True, text=True, timeout=600, check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"buildah bud failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    try:
        yield tag
    finally:
        subprocess.run(["podman", "rmi", "--force", tag], capture_output=True, check=False)


@dataclass
class Mounts:
    """What the runner mounts, and extras a test adds (as `-v host:container[:options]`)."""

    workspace: Path | None
    read_only: bool = False
    extra: list[str] = field(default_factory=list)


RunImage = Callable[..., Run]


@pytest.fixture
def run_image(image: str, tmp_path: Path) -> RunImage:
    """Run the image the way the runner runs a Docker action; return what it left behind."""
    home = tmp_path / "github_home"
    commands = tmp_path / "file_commands"
    for directory in (home, commands):
        directory.mkdir(exist_ok=True)
        os.chown(directory, RUNNER_UID, RUNNER_UID)

    def run(
        mounts: Mounts,
        inputs: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        workdir: str = WORKSPACE,
        options: Sequence[str] = (),
        timeout: float = 240,
    ) -> Run:
        step = uuid.uuid4().hex
        output = sweep_file(commands / f"set_output_{step}")
        summary = sweep_file(commands / f"step_summary_{step}")
        values = {
            "HOME": "/github/home",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": WORKSPACE,
            "GITHUB_OUTPUT": f"/github/file_commands/{output.name}",
            "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary.name}",
            "GITHUB_REPOSITORY": "octo-org/sample-project",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_REF_NAME": "main",
            "RUNNER_OS": "Linux",
            **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
            **(env or {}),
        }
        volumes = ["-v", f"{home}:/github/home", "-v", f"{commands}:/github/file_commands"]
        if mounts.workspace is not None:
            volumes += ["-v", f"{mounts.workspace}:{WORKSPACE}" + (":ro" if mounts.read_only else "")]
        for extra in mounts.extra:
            volumes += ["-v", extra]
        name = f"pypi-publish-test-{step[:12]}"
        command = podman_run(
            "--name", name, "--network", "host", "--workdir", workdir, *volumes, *options,
            # By name, as the runner does: the values (a token among them) stay off the command line.
            *[arg for key in values for arg in ("-e", key)],
            image,
        )
        try:
            proc = subprocess.run(command, env={**os.environ, **values}, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            subprocess.run(podman("rm", "--force", "--time", "0", name), capture_output=True,
                           check=False)
            raise
        # Into pytest's capture, so the secrets sweep sees everything the container printed.
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        outputs = parse_output_file(output.read_text()) if output.exists() else {}
        summary_text = summary.read_text() if summary.exists() else ""
        return Run(proc.returncode, proc.stdout, proc.stderr, outputs, summary_text)

    return run


def runner_owned(path: Path) -> Path:
    """Hand `path` and everything in it to the runner's user, as a checkout on a runner is."""
    for item in [path, *path.rglob("*")]:
        os.lchown(item, RUNNER_UID, RUNNER_UID)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    path = tmp_path / "workspace"
    path.mkdir()
    return path


def with_dists(workspace: Path, built_dists: BuiltDists) -> Path:
    shutil.copytree(built_dists(), workspace / "dist")
    return runner_owned(workspace)


def token_inputs(index: IndexServer) -> dict[str, str]:
    return {"repository-url": index.upload_url, "password": index.password}


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
        Mounts(with_dists(workspace, built_dists)), {"repository-url": warehouse.upload_url},
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
    assert "build in an earlier step and set `build: false`" in run.stdout
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


def image_environment(image: str) -> dict[str, str]:
    proc = subprocess.run(["podman", "image", "inspect", "--format", "{{json .Config.Env}}", image],
                          capture_output=True, text=True, check=True)
    return dict(item.split("=", 1) for item in json.loads(proc.stdout))


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_image_environment_makes_git_trust_a_workspace_of_another_user(
    image: str, workspace: Path
) -> None:
    # git refuses a repository owned by another user ("dubious ownership") unless it is a
    # safe.directory; the image's environment says so for whatever git a build may run.
    subprocess.run(["git", "init", "--quiet", str(workspace)], check=True)
    runner_owned(workspace)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    command = ["git", "-C", str(workspace), "rev-parse", "--is-inside-work-tree"]
    refused = subprocess.run(command, env=clean, capture_output=True, text=True, check=False)
    assert refused.returncode != 0 and "dubious ownership" in refused.stderr
    trusted_env = {**clean, **{k: v for k, v in image_environment(image).items()
                               if k.startswith("GIT_CONFIG_")}}
    trusted = subprocess.run(command, env=trusted_env, capture_output=True, text=True, check=False)
    assert trusted.returncode == 0, trusted.stderr
    assert trusted.stdout.strip() == "true"

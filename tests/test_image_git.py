"""git in the action's image: a project versioned by its tag builds with that version, and a
shallow clone without tags fails on its version rather than publish a made-up one.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import WHEELHOUSE
from tests.support.containers import SCM_WHEELS, action_image, podman_run
from tests.support.image_runner import (
    WORKSPACE,
    Mounts,
    RunImage,
    image_runner,
    runner_owned,
    token_inputs,
)
from tests.support.index_server import IndexServer

pytestmark = pytest.mark.container


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


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=Release Bot", "-c", "user.email=bot@example.invalid",
                    "-c", "init.defaultBranch=main", *args], cwd=cwd, check=True,
                   capture_output=True, timeout=60)


SCM_PYPROJECT = """\
[build-system]
requires = ["setuptools>=77", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "scm-project"
dynamic = ["version"]
description = "A project whose version comes from its git tag"
readme = "README.md"
requires-python = ">=3.10"

[tool.setuptools_scm]
"""


def tagged_repository(path: Path, tag: str) -> Path:
    """A setuptools-scm project in git, one commit, tagged `tag`."""
    path.mkdir(parents=True)
    (path / "pyproject.toml").write_text(SCM_PYPROJECT)
    (path / "README.md").write_text("# scm-project\n\nVersioned by its tag.\n")
    (path / "scm_project").mkdir()
    (path / "scm_project" / "__init__.py").write_text('"""scm-project."""\n')
    git("init", "--quiet", cwd=path)
    git("add", ".", cwd=path)
    git("commit", "--quiet", "-m", "First", cwd=path)
    git("tag", "-a", tag, "-m", tag, cwd=path)
    return path


def scm_build_env(tag: str) -> dict[str, str]:
    # A tag push: the expected version is the tag's.
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": "/wheelhouse /scm-wheels",
            "GITHUB_REF": f"refs/tags/{tag}", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": tag}


def scm_mounts(project: Path) -> Mounts:
    if not any(SCM_WHEELS.glob("setuptools_scm-*.whl")):
        pytest.skip(f"{SCM_WHEELS} has no setuptools-scm (run `bash .ci/container setup`)")
    return Mounts(project, extra=[f"{WHEELHOUSE}:/wheelhouse:ro", f"{SCM_WHEELS}:/scm-wheels:ro"])


def test_a_tagged_git_checkout_builds_with_the_version_of_its_tag(
    run_image: RunImage, tmp_path: Path, index: IndexServer
) -> None:
    project = runner_owned(tagged_repository(tmp_path / "workspace", "v2.5.0"))
    run = run_image(scm_mounts(project), {**token_inputs(index), "dry-run": "true"},
                    env=scm_build_env("v2.5.0"))
    assert run.returncode == 0, run.text
    assert run.outputs["version"] == "2.5.0"
    assert sorted(json.loads(run.outputs["files"])) == [
        "scm_project-2.5.0-py3-none-any.whl", "scm_project-2.5.0.tar.gz"]


def test_a_shallow_clone_without_tags_fails_on_its_version(
    run_image: RunImage, tmp_path: Path, index: IndexServer
) -> None:
    # What actions/checkout makes by default (fetch-depth: 1): one commit, no tags, so the
    # backend cannot find the version; the build or the version check must fail, never upload.
    origin = tagged_repository(tmp_path / "origin", "v2.5.0")
    clone = tmp_path / "workspace"
    git("clone", "--quiet", "--depth", "1", "--no-tags", origin.as_uri(), str(clone), cwd=tmp_path)
    run = run_image(scm_mounts(runner_owned(clone)), token_inputs(index), env=scm_build_env("v2.5.0"))
    assert run.returncode != 0, run.text
    assert "version" in run.stdout.lower()
    assert index.files() == []


def test_the_images_git_trusts_a_workspace_of_another_user(image: str, workspace: Path) -> None:
    # git refuses a repository owned by another user ("dubious ownership") unless it is a
    # safe.directory; the image's environment says so for its git, which runs as root here.
    git("init", "--quiet", cwd=workspace)
    runner_owned(workspace)
    proc = subprocess.run(
        podman_run("--network", "none", "-v", f"{workspace}:{WORKSPACE}", "--workdir", WORKSPACE,
                   "--entrypoint", "git", image, "rev-parse", "--is-inside-work-tree"),
        capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "true"), proc.stderr

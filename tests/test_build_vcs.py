"""VCS-versioned projects: the version comes from the tag, or the message says why it cannot."""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import pytest

from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.errors import BuildError
from pypi_publish.gha import Console
from tests.support.real_sdists import clone, commit_tree, git

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")

SCM_PROJECT = """\
[build-system]
requires = ["setuptools>=77", "setuptools-scm>=8"]
build-backend = "setuptools.build_meta"

[project]
name = "scm-sample"
dynamic = ["version"]
description = "Versioned by its git tags"

[tool.setuptools_scm]
"""


@pytest.fixture
def tagged_repository(tmp_path: Path) -> Path:
    """A repository whose v2.0.0 tag is one commit behind main."""
    tree = tmp_path / "origin"
    (tree / "src" / "scm_sample").mkdir(parents=True)
    (tree / "src" / "scm_sample" / "__init__.py").write_text('"""A sample."""\n')
    (tree / "pyproject.toml").write_text(SCM_PROJECT)
    commit_tree(tree, tag="v2.0.0")
    git(tree, "commit", "-q", "--allow-empty", "-m", "after the release")
    return tree


def build(project: Path, **fields: object) -> list[Path]:
    return build_distributions(BuildRequest(project, project / "dist", **fields),  # type: ignore[arg-type]
                               Console(out=io.StringIO()))


def test_a_checkout_at_the_tag_builds_the_tagged_version(tagged_repository: Path, tmp_path: Path) -> None:
    checkout = clone(tagged_repository, tmp_path / "checkout", "--branch", "v2.0.0")
    assert [p.name for p in build(checkout)] == ["scm_sample-2.0.0.tar.gz",
                                                 "scm_sample-2.0.0-py3-none-any.whl"]


def test_a_shallow_clone_without_tags_says_the_version_cannot_be_determined(
    tagged_repository: Path, tmp_path: Path
) -> None:
    shallow = clone(tagged_repository, tmp_path / "shallow", "--depth", "1", "--no-tags")
    with pytest.raises(BuildError) as caught:
        build(shallow, fetch_tags_hint="`git fetch --tags --unshallow`")
    assert caught.value.message.startswith(
        "The version could not be determined by setuptools-scm: the checkout is shallow and has no "
        "tags, so there is no release to count from; setuptools-scm guessed `0.1.dev1+g")
    assert caught.value.hint == (
        "Fetch the tags (`git fetch --tags --unshallow`), or give the version in "
        "`SETUPTOOLS_SCM_PRETEND_VERSION_FOR_SCM_SAMPLE` in the build's environment.")


def test_without_git_the_message_names_git_and_the_variable(
    tagged_repository: Path, tmp_path: Path
) -> None:
    checkout = clone(tagged_repository, tmp_path / "checkout")
    # Only the interpreter's own folder on PATH: git is not there.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    with pytest.raises(BuildError) as caught:
        build(checkout, environ=env)
    assert caught.value.message == ("The version could not be determined by setuptools-scm: git is "
                                    "not installed where the build runs.")
    assert "`SETUPTOOLS_SCM_PRETEND_VERSION_FOR_SCM_SAMPLE`" in caught.value.hint

"""VCS-versioned projects: say plainly when their version cannot be determined, and how to give it.

setuptools-scm, hatch-vcs, pdm-backend's `scm` source and poetry-dynamic-versioning read the
version from git. Without git, without `.git`, or in a shallow clone without tags (what
actions/checkout fetches by default) they fail with their own long text, or guess a
`0.1.devN+g<hash>` version that is never what a release wants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import git, pyproject

# What each plugin prints when it finds no version (quoted from their sources: pypa/setuptools-scm
# vcs_versioning/_get_version_impl.py `_version_missing`, pdm-project/pdm-backend
# src/pdm/backend/hooks/version/__init__.py, mtkennerly/dunamai `_detect_vcs`).
FAILURE_TEXTS = (
    "was unable to detect version for",
    "Cannot find the version from SCM",
    "Unable to detect version control system",
)


@dataclass(frozen=True)
class Plugin:
    """A VCS version plugin and the variable that gives it the version instead."""

    name: str
    variable: str


def _requirement_names(data: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for entry in pyproject.table(data, "build-system").get("requires", []):
        try:
            names.add(canonicalize_name(Requirement(str(entry)).name))
        except InvalidRequirement:
            continue
    return names


def _variable_name(dist: str) -> str:
    # setuptools-scm's normalisation of the distribution name (vcs_versioning/_overrides.py).
    return canonicalize_name(dist).replace("-", "_").upper() if dist else "<NAME>"


def plugin_of(project: Path) -> Plugin | None:
    """The VCS version plugin the project builds with, if any."""
    data = pyproject.load(project)
    requires = _requirement_names(data)
    dist = str(pyproject.table(data, "project").get("name", ""))
    if "poetry-dynamic-versioning" in requires:
        return Plugin("poetry-dynamic-versioning", "POETRY_DYNAMIC_VERSIONING_BYPASS")
    if "hatch-vcs" in requires:
        # hatch-vcs does not hand setuptools-scm the distribution's name: only the generic
        # variable reaches it.
        return Plugin("hatch-vcs", "SETUPTOOLS_SCM_PRETEND_VERSION")
    if "pdm-backend" in requires and pyproject.table(data, "tool", "pdm", "version").get("source") == "scm":
        return Plugin("pdm-backend", "PDM_BUILD_SCM_VERSION")
    if requires & {"setuptools-scm", "flit-scm", "setuptools-scm-git-archive"}:
        return Plugin("setuptools-scm", f"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_{_variable_name(dist)}")
    return None


def is_failure_line(line: str) -> bool:
    return any(text in line for text in FAILURE_TEXTS)


def _why(project: Path, env: Mapping[str, str], owner: tuple[int, int] | None,
         fetch_tags_hint: str) -> tuple[str, str]:
    """What kept git from giving a version, and what gives it one."""
    if not git.installed(env):
        return "git is not installed where the build runs", "Install git where the build runs"
    if not git.is_checkout(project, env, owner):
        return (f"`{project}` is not in a git checkout (no `.git`: an archive or a copied tree)",
                f"Build from a git checkout with its tags ({fetch_tags_hint})")
    if git.nearest_tag(project, env, owner) is None:
        if git.is_shallow(project, env, owner):
            return ("the checkout is shallow and has no tags, so there is no release to count from",
                    f"Fetch the tags ({fetch_tags_hint})")
        return "the checkout has no tags", "Tag the release (`git tag v1.2.3`)"
    return "git gave no version", f"Fetch the tags ({fetch_tags_hint})"


def cannot_determine(project: Path, plugin: Plugin | None, env: Mapping[str, str],
                     owner: tuple[int, int] | None, fetch_tags_hint: str,
                     guessed: str | None = None) -> tuple[str, str]:
    """The message and hint of a build whose version could not be determined."""
    plugin = plugin or Plugin("setuptools-scm", "SETUPTOOLS_SCM_PRETEND_VERSION")
    reason, fix = _why(project, env, owner, fetch_tags_hint)
    guess = f"; {plugin.name} guessed `{guessed}`" if guessed else ""
    return (
        f"The version could not be determined by {plugin.name}: {reason}{guess}.",
        f"{fix}, or give the version in `{plugin.variable}` in the build's environment.",
    )


_GUESS = re.compile(r"^0\.(0|1)(\.0)?\.dev\d+|\+")


def guessed_from_shallow(project: Path, version: str, plugin: Plugin | None,
                         env: Mapping[str, str], owner: tuple[int, int] | None) -> bool:
    """Whether `version` is a VCS plugin's guess in a shallow clone that has no tag to go by."""
    return (plugin is not None and bool(_GUESS.search(version))
            and git.is_shallow(project, env, owner) and git.nearest_tag(project, env, owner) is None)

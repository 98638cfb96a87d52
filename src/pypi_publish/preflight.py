"""Checks before anything leaves: metadata, README, version vs tag, local versions; all pass or none go."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from .config import Config, ExpectedVersion
from .context import Context
from .distribution import Distribution, Release
from .errors import PreflightError
from .gha import Console
from .metadata import FileMetadata, read_metadata, validation_problems
from .pypi_rules import filename_problems
from .readme_check import readme_problems


@dataclass(frozen=True)
class CheckedRelease:
    release: Release
    metadata: Mapping[str, FileMetadata]  # by file name


def check_version(release: Release, expected: ExpectedVersion | None, context: Context) -> None:
    if expected is None or release.version == expected.version:
        return
    off = ("or push the tag that matches. Set `expected-version: false` to publish without this "
           "check." if context.wording.is_action else
           "or give the tag that matches; leave out `--tag` to publish without this check.")
    raise PreflightError(
        f"The files are version {release.version} but {expected.source} says {expected.version}; "
        "refusing to publish a release under the wrong version.",
        "Bump the version in the project (or derive it from the tag, e.g. with setuptools-scm) "
        f"and build again, {off}",
    )


_COMMIT_LABEL = re.compile(r"(^|\.)g[0-9a-f]{7,40}($|\.)")
_DIRTY_LABEL = re.compile(r"(^|\.)d[0-9]{8}($|\.)")


def local_version_cause(local: str) -> str:
    """What usually makes a build carry the local version label `local` (the part after `+`)."""
    causes = []
    if _COMMIT_LABEL.search(local):
        causes.append("the build was made from a commit that is not a tagged release "
                      "(setuptools-scm and hatch-vcs add `+g<commit>`), often because the checkout "
                      "has no tags")
    if _DIRTY_LABEL.search(local):
        causes.append("the working tree had uncommitted changes (`.d<date>`: a dirty tree)")
    if not causes:
        causes.append("a fallback version (setuptools-scm's `fallback_version`, used when git or "
                      "its tags were not found) or a local label set by hand")
    return "; ".join(causes)


def check_local_version(release: Release, config: Config, context: Context) -> None:
    if release.version.local is None or not config.index.is_warehouse:
        return
    fetch = ("`fetch-depth: 0` on `actions/checkout`" if context.wording.is_action
             else "`git fetch --tags`")
    raise PreflightError(
        f"The files are version {release.version}, a local version (`+{release.version.local}`), "
        f"and {config.index.name} refuses local versions. Likely cause: "
        f"{local_version_cause(release.version.local)}.",
        f"Tag the release commit (`git tag v{release.version.public}`), fetch the tags ({fetch}), "
        "commit or discard local changes, and build again. Local versions can only go to a "
        "private index.",
    )


METADATA_SPEC = "https://packaging.python.org/specifications/core-metadata"


def check_file(dist: Distribution, config: Config, console: Console) -> FileMetadata:
    meta = read_metadata(dist)
    try:
        metadata_version = Version(meta.version)
    except InvalidVersion:
        raise PreflightError(
            f"`{dist.filename}`: `{meta.version}` is not a valid PEP 440 version.",
            "Use a version such as `1.2.3`, `1.2.3rc1` or `1.2.3.post1` and build again.",
        ) from None
    if metadata_version != dist.version:
        raise PreflightError(
            f"`{dist.filename}`: the metadata says version {meta.version}, the file name says "
            f"{dist.version}.",
            "Do not rename distribution files; rebuild them with `python -m build`.",
        )
    if not config.verify_metadata:
        return meta
    warehouse = config.index.is_warehouse
    problems = validation_problems(meta, warehouse=warehouse)
    if warehouse:
        problems += filename_problems(dist.kind, dist.filename, meta.raw)
    if problems:
        raise PreflightError(
            f"`{dist.filename}` has invalid metadata:\n" + "\n".join(f"- {p}" for p in problems),
            "Fix the fields named above in `pyproject.toml` (or setup.cfg/setup.py) and build "
            f"again; {config.index.name} would refuse the file ({METADATA_SPEC}). "
            "`twine check dist/*` reproduces most of these locally.",
        )
    readme = readme_problems(meta.raw, source_dir=config.project_dir, warehouse=warehouse)
    if readme:
        raise PreflightError(
            f"`{dist.filename}`: the long description (the README) would not render on "
            f"{config.index.name}:\n" + "\n".join(f"- {p}" for p in readme),
            "Fix the README at the lines named above (the file `readme` names in `pyproject.toml`) "
            "and build again; `twine check dist/*` shows the same problems.",
        )
    if not meta.raw.get("description"):
        console.warning(f"`{dist.filename}` has no long description; the project page on the index "
                        "will be empty. Set `readme` in `pyproject.toml`.", title="Metadata")
    return meta


def run_preflight(release: Release, config: Config, context: Context,
                  console: Console) -> CheckedRelease:
    check_version(release, config.expected_version, context)
    check_local_version(release, config, context)
    metadata = {d.filename: check_file(d, config, console) for d in release.files}
    return CheckedRelease(release, metadata)

"""Checks before anything leaves: metadata, README rendering, version vs tag. All pass or nothing uploads."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from .config import Config, ExpectedVersion
from .dists import Distribution, Release
from .errors import PreflightError
from .gha import Console
from .metadata import FileMetadata, read_metadata, validation_problems


@dataclass(frozen=True)
class CheckedRelease:
    release: Release
    metadata: Mapping[str, FileMetadata]  # by file name


def check_version(release: Release, expected: ExpectedVersion | None) -> None:
    if expected is None or release.version == expected.version:
        return
    raise PreflightError(
        f"The files are version {release.version} but {expected.source} says {expected.version}; "
        "refusing to publish a release under the wrong version.",
        "Bump the version in the project (or derive it from the tag, e.g. with setuptools-scm) "
        "and build again, or push the tag that matches. Set `expected-version: false` "
        "(CLI: leave out `--tag`) to publish without this check.",
    )


def readme_problem(meta: FileMetadata) -> str | None:
    """Why the long description would not render on the index (None when it renders)."""
    description = meta.raw.get("description")
    if not description:
        return None
    content_type = meta.raw.get("description_content_type", "text/x-rst").split(";")[0].strip()
    if content_type != "text/x-rst":
        return None
    import readme_renderer.rst

    warnings = io.StringIO()
    if readme_renderer.rst.render(description, stream=warnings) is None:
        detail = warnings.getvalue().strip().splitlines()
        return "the long description (reStructuredText) does not render: " + (
            "; ".join(detail[:3]) or "docutils reported errors")
    return None


def check_file(dist: Distribution, verify: bool, console: Console) -> FileMetadata:
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
    if not verify:
        return meta
    problems = validation_problems(meta)
    rendering = readme_problem(meta)
    if rendering:
        problems.append(rendering)
    if problems:
        raise PreflightError(
            f"`{dist.filename}` has invalid metadata: " + "; ".join(problems) + ".",
            "Fix the fields named above in `pyproject.toml` (or setup.cfg/setup.py) and build "
            "again; PyPI rejects such files. Check locally with `twine check dist/*`.",
        )
    if not meta.raw.get("description"):
        console.warning(f"`{dist.filename}` has no long description; the project page on the index "
                        "will be empty. Set `readme` in `pyproject.toml`.", title="Metadata")
    return meta


def run_preflight(release: Release, config: Config, console: Console) -> CheckedRelease:
    check_version(release, config.expected_version)
    metadata = {d.filename: check_file(d, config.verify_metadata, console) for d in release.files}
    return CheckedRelease(release, metadata)

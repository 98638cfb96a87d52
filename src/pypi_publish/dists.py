"""Build or discover the distributions; parse their names; insist on one project and one version."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    NormalizedName,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import Version

from .config import BuildMode, Config
from .errors import BuildError, DistributionError
from .gha import Console

# Files a release pipeline leaves beside the distributions; never uploaded, mentioned once.
LEGACY_FORMATS = (".egg", ".exe", ".msi", ".tar.bz2", ".tar.xz", ".tgz", ".rpm", ".deb")
# Environment variables a build backend has no business seeing.
SECRET_ENV_NAMES = frozenset({
    "PYPI_API_TOKEN", "TWINE_PASSWORD", "INPUT_PASSWORD", "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN", "GITHUB_TOKEN",
})
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Distribution:
    path: Path
    kind: Literal["sdist", "wheel"]
    project: NormalizedName
    version: Version
    size: int
    sha256: str
    blake2_256: str

    @property
    def filename(self) -> str:
        return self.path.name

    @cached_property
    def md5(self) -> str:
        """Only for indexes that list nothing better; hashing costs time on large files."""
        md5 = hashlib.md5(usedforsecurity=False)
        with self.path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                md5.update(chunk)
        return md5.hexdigest()


@dataclass(frozen=True)
class Release:
    """The files to publish, sdist first, all of one project and one version."""

    project: NormalizedName
    version: Version
    files: tuple[Distribution, ...]


def digests(path: Path) -> tuple[int, str, str]:
    """Size, SHA-256 and BLAKE2b-256 (the two digests the upload form carries), in one pass."""
    sha256 = hashlib.sha256()
    blake2 = hashlib.blake2b(digest_size=32)
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            size += len(chunk)
            sha256.update(chunk)
            blake2.update(chunk)
    return size, sha256.hexdigest(), blake2.hexdigest()


def classify(name: str) -> Literal["sdist", "wheel", "legacy", "other"]:
    if name.endswith(".whl"):
        return "wheel"
    if name.endswith((".tar.gz", ".zip")):
        return "sdist"
    if name.endswith(LEGACY_FORMATS):
        return "legacy"
    return "other"


def parse_filename(name: str) -> tuple[Literal["sdist", "wheel"], NormalizedName, Version]:
    kind = classify(name)
    try:
        if kind == "wheel":
            project, version, _, _ = parse_wheel_filename(name)
            return "wheel", project, version
        if kind == "sdist":
            project, version = parse_sdist_filename(name)
            return "sdist", project, version
    except (InvalidWheelFilename, InvalidSdistFilename) as error:
        raise DistributionError(
            f"`{name}` is named like a distribution but its name does not parse: {error}",
            "Remove it from the packages directory, or rebuild it with `python -m build`; "
            "renamed files are rejected by PyPI.",
        ) from None
    raise DistributionError(
        f"`{name}` is not a distribution.", "Only `.whl` and `.tar.gz` files are uploaded."
    )


def _check_confined(path: Path, workspace: Path) -> None:
    real = path.resolve()
    base = workspace.resolve()
    if base not in real.parents:
        raise DistributionError(
            f"`{path.name}` is a symlink to `{real}`, outside the workspace.",
            "Copy the file into the packages directory instead of linking to it.",
        )


def describe(path: Path, config: Config) -> Distribution:
    kind, project, version = parse_filename(path.name)
    if config.confine_paths:
        _check_confined(path, config.workspace)
    size, sha256, blake2 = digests(path)
    return Distribution(path, kind, project, version, size, sha256, blake2)


def _packages_dir_hint(config: Config) -> str:
    return (
        "Build first (`python -m build`), download the build job's artifact into "
        f"`{config.packages_dir.name}`, or set `build: true` (CLI: drop `--skip-build`) to build here."
    )


def candidates_in(directory: Path, console: Console) -> list[Path]:
    """Distribution files directly in `directory`; the others are named in a notice."""
    chosen: list[Path] = []
    ignored: list[str] = []
    for entry in sorted(directory.iterdir()):
        if entry.is_dir() and not entry.is_symlink():
            continue
        kind = classify(entry.name)
        if kind == "legacy":
            raise DistributionError(
                f"`{entry.name}` is in a format PyPI no longer accepts.",
                "Publish an sdist (`.tar.gz`) and wheels (`.whl`) only; remove this file.",
            )
        if kind == "other":
            ignored.append(entry.name)
            continue
        chosen.append(entry)
    if ignored:
        console.notice(f"Not uploading {len(ignored)} file(s) that are not distributions: "
                       + ", ".join(ignored))
    return chosen


def has_distributions(directory: Path) -> bool:
    return directory.is_dir() and any(
        classify(p.name) != "other" for p in directory.iterdir()
    )


def release_from(files: list[Path], config: Config) -> Release:
    if not files:
        raise DistributionError(
            f"No distributions in `{config.packages_dir}`.", _packages_dir_hint(config)
        )
    # hashlib releases the GIL, so a wheel matrix hashes on every core at once.
    with ThreadPoolExecutor(max_workers=min(8, len(files)), thread_name_prefix="hash") as pool:
        dists = list(pool.map(lambda path: describe(path, config), files))
    projects = sorted({d.project for d in dists})
    if len(projects) > 1:
        raise DistributionError(
            f"The packages directory holds files of {len(projects)} projects: {', '.join(projects)}.",
            "Publish one project per step: give each its own `packages-dir`.",
        )
    versions = sorted({d.version for d in dists})
    if len(versions) > 1:
        listing = ", ".join(str(v) for v in versions)
        raise DistributionError(
            f"The packages directory holds files of {len(versions)} versions of {projects[0]}: {listing}.",
            "Remove the old files (e.g. `rm -r dist`) and build again, so one release is published.",
        )
    # The sdist first: the first file creates the release on the index.
    dists.sort(key=lambda d: (d.kind != "sdist", d.filename))
    return Release(projects[0], versions[0], tuple(dists))


def scrubbed_environment(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items()
            if k not in SECRET_ENV_NAMES and not k.startswith("INPUT_")}


def build_owner(project: Path) -> tuple[int, int] | None:
    """Who builds: the project's owner when root runs on another user's checkout.

    The Actions runner starts the container as root on a workspace owned by the runner's user;
    files a root build leaves (dist/, *.egg-info) would be undeletable by the next job, and the
    project's build code has no business running as root.
    """
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return None
    stat = project.stat()
    return None if stat.st_uid == 0 else (stat.st_uid, stat.st_gid)


def make_owned_dir(directory: Path, owner: tuple[int, int] | None) -> None:
    missing = [p for p in (directory, *directory.parents) if not p.exists()]
    directory.mkdir(parents=True, exist_ok=True)
    if owner is None:
        return
    for path in missing:
        os.chown(path, owner[0], owner[1])


def build_distributions(config: Config, console: Console) -> list[Path]:
    project = config.project_dir
    if project == config.workspace and project.is_dir() and not any(project.iterdir()):
        raise BuildError(
            f"The workspace `{project}` is empty.",
            "Run `actions/checkout` (to build) or `actions/download-artifact` (to publish built "
            "files) in an earlier step.",
        )
    if not (project / "pyproject.toml").is_file() and not (project / "setup.py").is_file():
        raise BuildError(
            f"`{project}` has no `pyproject.toml` or `setup.py`, so there is nothing to build.",
            "Set `project-dir` (CLI: `--project-dir`) to the project's directory, or put built "
            "distributions in `packages-dir` and set `build: false` (CLI: `--skip-build`).",
        )
    owner = build_owner(project)
    try:
        make_owned_dir(config.packages_dir, owner)
        with tempfile.NamedTemporaryFile(dir=config.packages_dir, prefix=".write-test-"):
            pass
    except OSError as error:
        raise BuildError(
            f"Cannot write to `{config.packages_dir}`: {error.strerror}.",
            "Make the workspace writable (a read-only mount cannot receive the build), or build "
            "in an earlier step and set `build: false`.",
        ) from None
    with tempfile.TemporaryDirectory(prefix="pypi-publish-build-") as tmp:
        if owner:
            os.chown(tmp, owner[0], owner[1])
        result = Path(tmp) / "result.json"
        command = [sys.executable, "-m", "pypi_publish.builder", str(project),
                   str(config.packages_dir), str(result)]
        with console.group(f"Build sdist and wheel from {project}"):
            proc = subprocess.run(
                command, cwd=project, env=scrubbed_environment(os.environ),
                capture_output=True, text=True, check=False,
                user=owner[0] if owner else None, group=owner[1] if owner else None,
                extra_groups=[] if owner else None,
            )
            log = (proc.stdout + proc.stderr).rstrip()
            if config.verbose or console.actions:
                console.info(log)
        if proc.returncode != 0 or not result.is_file():
            tail = "\n".join(log.splitlines()[-25:])
            raise BuildError(
                f"Building the project in `{project}` failed:\n{tail}",
                "Fix the error above (run `python -m build` locally to reproduce it), or build "
                "in an earlier step and set `build: false`.",
            )
        outcome = json.loads(result.read_text(encoding="utf-8"))
    files = [Path(f) for f in outcome["files"]]
    seconds = {k: float(v) for k, v in outcome["seconds"].items()}
    console.info("Built " + ", ".join(f"{p.name} ({seconds.get(k, 0):.1f} s)"
                                      for p, k in zip(files, ("sdist", "wheel"), strict=True)))
    return files


def prepare_release(config: Config, console: Console) -> Release:
    """Build when the config says so, then describe the files to publish."""
    directory = config.packages_dir
    must_build = config.build is BuildMode.ALWAYS or (
        config.build is BuildMode.AUTO and not has_distributions(directory)
    )
    if must_build:
        files = build_distributions(config, console)
        others = [p.name for p in directory.iterdir()
                  if p.is_file() and p not in files and classify(p.name) in ("sdist", "wheel")]
        if others:
            console.notice(f"Publishing only the files just built; not uploading {len(others)} other "
                           f"file(s) in `{directory.name}`: " + ", ".join(sorted(others)))
        return release_from(files, config)
    if not directory.is_dir():
        raise DistributionError(f"The packages directory `{directory}` does not exist.",
                                _packages_dir_hint(config))
    return release_from(candidates_in(directory, console), config)

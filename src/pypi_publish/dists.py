"""Build or discover the distributions to publish; insist on one project and one version."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from .config import BuildMode, Config
from .context import Context
from .distribution import (
    ATTESTATION_SUFFIX,
    Distribution,
    Release,
    classify,
    digests,
    parse_filename,
)
from .errors import BuildError, DistributionError
from .gha import Console

if TYPE_CHECKING:
    from .building import BuildRequest


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
    if config.confined_to is not None:
        _check_confined(path, config.confined_to)
    size, sha256 = digests(path)
    return Distribution(path, kind, project, version, size, sha256)


def _packages_dir_hint(config: Config, context: Context) -> str:
    if context.wording.is_action:
        return ("Build first (`python -m build`), download the build job's artifact into "
                f"`{config.packages_dir.name}`, or set `build: true` to build here.")
    return ("Build first (drop `--skip-build`, or `python -m build`), or point `--packages-dir` at "
            "the directory that holds the files.")


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
            if not _attestation_of_a_file(entry):
                ignored.append(entry.name)
            continue
        chosen.append(entry)
    if ignored:
        console.notice(f"Not uploading {len(ignored)} file(s) that are not distributions: "
                       + ", ".join(ignored))
    return chosen


def _attestation_of_a_file(entry: Path) -> bool:
    """`<file>.publish.attestation` beside its `<file>`: not uploaded as a file of its own, but
    used as that file's attestation (`attestations.given_attestation`)."""
    name = entry.name
    return name.endswith(ATTESTATION_SUFFIX) and \
        entry.with_name(name[:-len(ATTESTATION_SUFFIX)]).is_file()


def has_distributions(directory: Path) -> bool:
    return directory.is_dir() and any(
        classify(p.name) != "other" for p in directory.iterdir()
    )


def upload_order(dist: Distribution) -> tuple[bool, bool, str]:
    """Wheels first, the most generic first, then the sdist: the index fills a new release's
    metadata from its first file, and a wheel's is final where an sdist's may be `Dynamic`."""
    generic = dist.filename.endswith("-none-any.whl")
    return (dist.kind != "wheel", not generic, dist.filename)


def release_from(files: list[Path], config: Config, context: Context, built: bool = False) -> Release:
    if not files:
        raise DistributionError(
            f"No distributions in `{config.packages_dir}`.", _packages_dir_hint(config, context)
        )
    # hashlib releases the GIL, so a wheel matrix hashes on every core at once.
    with ThreadPoolExecutor(max_workers=min(8, len(files)), thread_name_prefix="hash") as pool:
        dists = list(pool.map(lambda path: describe(path, config), files))
    projects = sorted({d.project for d in dists})
    if len(projects) > 1:
        raise DistributionError(
            f"The packages directory holds files of {len(projects)} projects: {', '.join(projects)}.",
            f"Publish one project per {'step' if context.wording.is_action else 'run'}: give each "
            f"its own {context.wording.setting('packages-dir')}.",
        )
    versions = sorted({d.version for d in dists})
    if len(versions) > 1:
        listing = ", ".join(str(v) for v in versions)
        raise DistributionError(
            f"The packages directory holds files of {len(versions)} versions of {projects[0]}: {listing}.",
            "Remove the old files (e.g. `rm -r dist`) and build again, so one release is published.",
        )
    dists.sort(key=upload_order)
    return Release(projects[0], versions[0], tuple(dists), built)


def build_request(config: Config, context: Context, secrets: frozenset[str]) -> BuildRequest:
    from .building import BuildRequest

    words = context.wording
    return BuildRequest(
        project_dir=config.project_dir, out_dir=config.packages_dir,
        config_settings=_settings(config), timeout=config.build_timeout, secrets=secrets,
        input_names=context.input_names, environ=context.env, verbose=config.verbose,
        no_build_hint=words.setting("build: false"), timeout_hint=words.setting("build-timeout"),
        fetch_tags_hint=("`fetch-depth: 0` in `actions/checkout`" if words.is_action
                         else "`git fetch --tags --unshallow`"),
    )


def _settings(config: Config) -> dict[str, str | list[str]]:
    """`-C` entries as `build` passes them: a repeated key becomes a list, in order."""
    merged: dict[str, str | list[str]] = {}
    for key, value in config.config_settings:
        if key in merged:
            before = merged[key]
            merged[key] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            merged[key] = value
    return merged


def build_distributions(config: Config, context: Context, console: Console,
                        secrets: frozenset[str]) -> list[Path]:
    project = config.project_dir
    words = context.wording
    if words.is_action and project == context.workspace and project.is_dir() \
            and not any(project.iterdir()):
        raise BuildError(
            f"The workspace `{project}` is empty.",
            "Run `actions/checkout` (to build) or `actions/download-artifact` (to publish built "
            "files) in an earlier step.",
        )
    if not (project / "pyproject.toml").is_file() and not (project / "setup.py").is_file():
        raise BuildError(
            f"`{project}` has no `pyproject.toml` or `setup.py`, so there is nothing to build.",
            f"Set {words.setting('project-dir')} to the project's directory, or put built "
            f"distributions in {words.setting('packages-dir')} and use "
            f"{words.setting('build: false')}.",
        )
    # The build stack is imported only by a run that builds.
    from . import building

    return building.build_distributions(build_request(config, context, secrets), console)


def prepare_release(config: Config, context: Context, console: Console,
                    secrets: frozenset[str] = frozenset()) -> Release:
    """Build when the config says so, then describe the files to publish."""
    directory = config.packages_dir
    must_build = config.build is BuildMode.ALWAYS or (
        config.build is BuildMode.AUTO and not has_distributions(directory)
    )
    if must_build:
        files = build_distributions(config, context, console, secrets)
        others = [p.name for p in directory.iterdir()
                  if p.is_file() and p not in files and classify(p.name) in ("sdist", "wheel")]
        if others:
            console.notice(f"Publishing only the files just built; not uploading {len(others)} other "
                           f"file(s) in `{directory.name}`: " + ", ".join(sorted(others)))
        return release_from(files, config, context, built=True)
    if not directory.is_dir():
        raise DistributionError(f"The packages directory `{directory}` does not exist.",
                                _packages_dir_hint(config, context))
    return release_from(candidates_in(directory, console), config, context)

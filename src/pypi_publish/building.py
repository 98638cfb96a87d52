"""Build the sdist and wheel of a project in a child process that nothing of the run can leak into.

The child (`builder`) runs in Python's isolated mode from an empty folder, so no module in the
project and no `PYTHON*` variable changes its imports; the backend hooks still run in the project
(PEP 517). Its stdin is /dev/null, its environment has no secret, its whole process group is
killed at the time bound, and a git checkout's commit time makes the build reproducible.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.utils import InvalidSdistFilename, parse_sdist_filename

from . import git, reproducible, vcs_version
from .build_env import build_environment
from .child_process import Outcome, run_bounded
from .errors import BuildError
from .gha import Console
from .progress import PHASE_MARK, Phase, Progress

# The packages the child imports; they are found where this process finds them.
_CHILD_IMPORTS = ("pypi_publish", "build", "pyproject_hooks", "packaging")
_BOOTSTRAP = ("import json, sys; sys.path[:0] = [p for p in json.loads(sys.argv[1]) if p not in sys.path]; "
              "from pypi_publish.builder import main; sys.exit(main(sys.argv[2]))")
_TAIL_LINES = 25


@dataclass(frozen=True)
class BuildRequest:
    """What to build, where to, and the bounds of the build."""

    project_dir: Path
    out_dir: Path
    # PEP 517 config settings for both hooks, as `python -m build -C KEY=VALUE` passes them.
    config_settings: Mapping[str, str | list[str]] = field(default_factory=dict)
    timeout: float = 30 * 60.0
    # Every secret value the run knows; no variable holding one reaches the build.
    secrets: frozenset[str] = field(default=frozenset(), repr=False)
    # The front door's input names (`password`, `repository-url`, ...): runners built on act's
    # code export each input under its bare name too, and none of them reaches the build.
    input_names: frozenset[str] = frozenset()
    # The environment the build starts from; None: this process's.
    environ: Mapping[str, str] | None = field(default=None, repr=False)
    # Who makes the build environment: `auto` is uv when it is installed, else pip.
    installer: Literal["auto", "pip", "uv"] = "auto"
    verbose: bool = False
    # How the user turns building off, in the words of the front door (for messages).
    no_build_hint: str = "`build: false`"
    # How the user sets the time bound, in the words of the front door.
    timeout_hint: str = "`build-timeout`"
    # How the user gets a checkout with its tags, in the words of the front door.
    fetch_tags_hint: str = "`fetch-depth: 0` in `actions/checkout`"


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
    if owner is None or os.name == "nt":
        return
    for path in missing:
        os.chown(path, owner[0], owner[1])


def import_roots(excluded: set[Path]) -> list[str]:
    """Where this process finds the child's packages; never the project (or the working directory)."""
    roots: list[str] = []
    for name in _CHILD_IMPORTS:
        spec = importlib.util.find_spec(name)
        # Only packages: a plain `build.py` found first is a project's module on our path.
        if spec is None or spec.origin is None or spec.submodule_search_locations is None:
            continue
        root = Path(spec.origin).resolve().parent.parent
        if root not in excluded and str(root) not in roots:
            roots.append(str(root))
    return roots


def child_command(request_file: Path, project: Path) -> list[str]:
    # -I: no PYTHON* variable, no user site, no script folder on the path; -P (3.11+) says the
    # last once more; -u: the log streams as it is written.
    flags = ["-I", "-P", "-u"] if sys.version_info >= (3, 11) else ["-I", "-u"]
    excluded = {project.resolve()}
    with contextlib.suppress(OSError):  # a working directory removed under us excludes nothing
        excluded.add(Path.cwd().resolve())
    roots = import_roots(excluded)
    return [sys.executable, *flags, "-c", _BOOTSTRAP, json.dumps(roots), str(request_file)]


def _duration(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{seconds:.1f} s"


class _Log:
    """The build's output as it arrives: shown when wanted, watched for a missing version, and
    the builder's phase marks turned into progress (never shown)."""

    def __init__(self, console: Console, show: bool) -> None:
        self.console = console
        self.show = show
        self.version_missing = False
        self.progress = Progress.of(console)
        self.running: dict[str, Phase] = {}

    def line(self, text: str) -> None:
        if text.startswith(PHASE_MARK):
            self._phase(text[len(PHASE_MARK):].split())
            return
        if self.show:
            self.console.info(text)
        if vcs_version.is_failure_line(text):
            self.version_missing = True

    def _phase(self, words: list[str]) -> None:
        if len(words) >= 2 and words[0] == "start":
            self.running[words[1]] = self.progress.start(words[1])
        elif len(words) >= 2 and words[0] == "end" and words[1] in self.running:
            seconds = float(words[2]) if len(words) > 2 and _is_number(words[2]) else None
            self.running.pop(words[1]).end(seconds)

    def stop(self) -> None:
        """The phases still running when the build ended badly."""
        for running in self.running.values():
            running.fail()
        self.running.clear()


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _write_check(request: BuildRequest, owner: tuple[int, int] | None) -> None:
    try:
        make_owned_dir(request.out_dir, owner)
        with tempfile.NamedTemporaryFile(dir=request.out_dir, prefix=".write-test-"):
            pass
    except OSError as error:
        raise BuildError(
            f"Cannot write to `{request.out_dir}`: {error.strerror}.",
            "Make the workspace writable (a read-only mount cannot receive the build), or build "
            f"in an earlier step and use {request.no_build_hint}.",
        ) from None


def _source_date_epoch(request: BuildRequest, env: dict[str, str], owner: tuple[int, int] | None,
                       console: Console) -> int | None:
    """Set SOURCE_DATE_EPOCH to HEAD's commit time unless the user set it; the epoch in force."""
    given = env.get("SOURCE_DATE_EPOCH", "").strip()
    if given:
        console.debug(f"SOURCE_DATE_EPOCH={given}, as set in the environment.")
        return int(given) if given.isascii() and given.isdigit() else None
    epoch = git.commit_time(request.project_dir, env, owner)
    if epoch is None:
        console.info(f"`{request.project_dir}` is not a git checkout (or git is missing): "
                     "SOURCE_DATE_EPOCH stays unset, so a rebuild may differ from this build's files.")
        return None
    env["SOURCE_DATE_EPOCH"] = str(epoch)
    console.debug(f"SOURCE_DATE_EPOCH={epoch}, the commit time of HEAD: a rebuild of this commit "
                  "gives the same files.")
    return epoch


def _timed_out(request: BuildRequest, outcome: Outcome, status: Path) -> BuildError:
    try:
        state = json.loads(status.read_text(encoding="utf-8"))
        step, running = str(state["step"]), time.time() - float(state["since"])
    except (OSError, ValueError, KeyError):
        step, running = "starting the build", outcome.seconds
    tail = "\n".join(outcome.tail[-_TAIL_LINES:]) or "(nothing)"
    return BuildError(
        f"The build of `{request.project_dir}` was stopped at the time bound of "
        f"{_duration(request.timeout)}: `{step}` had been running for {_duration(running)}. "
        f"Its last lines:\n{tail}",
        "A build that waits for input or for a network that never answers is the usual cause: "
        f"fix that, or raise {request.timeout_hint} if the build really takes longer. Nothing "
        "of the build is left running.",
    )


def _failed(request: BuildRequest, outcome: Outcome, log: _Log, env: Mapping[str, str],
            owner: tuple[int, int] | None) -> BuildError:
    project = request.project_dir
    if log.version_missing:
        message, hint = vcs_version.cannot_determine(
            project, vcs_version.plugin_of(project), env, owner, request.fetch_tags_hint)
        return BuildError(message, hint)
    tail = "\n".join(outcome.tail[-_TAIL_LINES:])
    return BuildError(
        f"Building the project in `{project}` failed:\n{tail}",
        "Fix the error above (run `python -m build` locally to reproduce it), or build "
        f"in an earlier step and use {request.no_build_hint}.",
    )


def _check_version(request: BuildRequest, sdist: Path, env: Mapping[str, str],
                   owner: tuple[int, int] | None) -> None:
    try:
        version = str(parse_sdist_filename(sdist.name)[1])
    except InvalidSdistFilename:
        return  # the distribution checks name the problem
    project = request.project_dir
    plugin = vcs_version.plugin_of(project)
    if vcs_version.guessed_from_shallow(project, version, plugin, env, owner):
        message, hint = vcs_version.cannot_determine(project, plugin, env, owner,
                                                     request.fetch_tags_hint, guessed=version)
        raise BuildError(message, hint)


def _run_child(request: BuildRequest, env: dict[str, str], owner: tuple[int, int] | None,
               tmp: Path, log: _Log) -> tuple[Outcome, Path, Path]:
    result, status = tmp / "result.json", tmp / "status.json"
    request_file = tmp / "request.json"
    request_file.write_text(json.dumps({
        "project": str(request.project_dir.resolve()), "outdir": str(request.out_dir.resolve()),
        "config_settings": dict(request.config_settings), "installer": request.installer,
        "status": str(status),
        "result": str(result),
    }), encoding="utf-8")
    outcome = run_bounded(
        child_command(request_file, request.project_dir), cwd=tmp, env=env,
        timeout=request.timeout, on_line=log.line,
        user=owner[0] if owner else None, group=owner[1] if owner else None,
    )
    return outcome, result, status


def build_distributions(request: BuildRequest, console: Console) -> list[Path]:
    """Build the sdist, then the wheel from it, into `request.out_dir`; return both paths."""
    project = request.project_dir
    owner = build_owner(project)
    _write_check(request, owner)
    prepared = build_environment(os.environ if request.environ is None else request.environ,
                                 secrets=request.secrets, input_names=request.input_names)
    if prepared.removed:
        console.debug("Not passed to the build: " + ", ".join(prepared.removed))
    env = dict(prepared.variables)
    with console.group(f"Build sdist and wheel from {project}"):
        epoch = _source_date_epoch(request, env, owner, console)
        log = _Log(console, request.verbose or console.actions)
        with tempfile.TemporaryDirectory(prefix="pypi-publish-build-") as scratch:
            tmp = Path(scratch)
            if owner and os.name != "nt":
                os.chown(tmp, owner[0], owner[1])
            outcome, result, status = _run_child(request, env, owner, tmp, log)
            log.stop()
            if outcome.timed_out:
                raise _timed_out(request, outcome, status)
            if outcome.returncode != 0 or not result.is_file():
                raise _failed(request, outcome, log, env, owner)
            built = json.loads(result.read_text(encoding="utf-8"))
    files = [Path(f) for f in built["files"]]
    _check_version(request, files[0], env, owner)
    if epoch is not None and reproducible.normalise_sdist(files[0], epoch):
        console.debug(f"{files[0].name}: archive metadata normalised (mtimes clamped to "
                      "SOURCE_DATE_EPOCH, owners, order, gzip header); content unchanged.")
    seconds = {k: float(v) for k, v in built["seconds"].items()}
    console.info("Built " + ", ".join(f"{p.name} ({seconds.get(k, 0):.1f} s)"
                                      for p, k in zip(files, ("sdist", "wheel"), strict=True))
                 + f"; build environment made with {built['installer']} "
                 f"({seconds.get('environment', 0):.1f} s)")
    versions = built.get("requirements") or {}
    if versions:
        console.debug("Build requirements: " + ", ".join(f"{k}=={v}" for k, v in sorted(versions.items())))
    return files

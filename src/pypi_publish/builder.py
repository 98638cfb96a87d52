"""Build an sdist, then a wheel from that sdist, in one isolated environment (run as a child process).

`building` starts this in Python's isolated mode from an empty working directory, with
stdin on /dev/null and the secrets removed from its environment, and hands it REQUEST_JSON:
`{"project", "outdir", "config_settings", "installer", "status", "result"}`. It writes the step it is in to
`status` (read by the parent when the time bound ends the build) and, at the end,
`{"files", "seconds", "installer", "requirements"}` to `result`.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from build import BuildBackendException, BuildException, ConfigSettingsType, DistributionType, ProjectBuilder
from build.env import DefaultIsolatedEnv, Installer

from . import paired_hooks as pair
from .progress import PHASE_MARK


class Status:
    """The build's current step, in a file the parent reads if it has to stop the build."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def enter(self, step: str) -> None:
        scratch = self.path.with_suffix(".tmp")
        scratch.write_text(json.dumps({"step": step, "since": time.time()}), encoding="utf-8")
        scratch.replace(self.path)


def pick_installer(wanted: str) -> Installer:
    if wanted in ("pip", "uv"):
        return "uv" if wanted == "uv" else "pip"
    # uv creates the environment and installs the backend several times faster than pip.
    if shutil.which("uv") or importlib.util.find_spec("uv") is not None:
        return "uv"
    return "pip"


def run_hook(cmd: Sequence[str], cwd: str | None = None,
             extra_environ: Mapping[str, str] | None = None) -> None:
    """pyproject-hooks' runner, with stdin on /dev/null: a hook that reads it gets end-of-file."""
    subprocess.run(list(cmd), cwd=cwd, env={**os.environ, **(extra_environ or {})},
                   stdin=subprocess.DEVNULL, check=True)


def _unpack_sdist(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as archive:
        if hasattr(tarfile, "data_filter"):
            archive.extractall(into, filter="data")
        else:  # Python releases before the extraction filters; the sdist is our own build.
            archive.extractall(into)  # noqa: S202
    entries = [p for p in into.iterdir() if p.is_dir()]
    if len(entries) != 1:
        raise BuildException(f"{sdist.name} does not unpack to a single directory")
    return entries[0]


class Build:
    """The two distributions of one project, built in one environment."""

    def __init__(self, env: DefaultIsolatedEnv, workdir: Path, status: Status,
                 config_settings: ConfigSettingsType) -> None:
        self.env = env
        self.workdir = workdir
        self.status = status
        self.config_settings = config_settings
        self.installed: set[str] = set()
        self.install_seconds = 0.0

    def install(self, requirements: set[str]) -> None:
        missing = requirements - self.installed
        if missing:
            started = time.monotonic()
            self.status.enter(f"installing the build requirements with {self.env.installer}")
            phase("start", "requirements")
            self.env.install(missing)
            self.installed |= missing
            self.install_seconds += time.monotonic() - started
            phase("end", "requirements", time.monotonic() - started)

    def distribution(self, kind: DistributionType, source: Path, outdir: Path) -> Path:
        builder = ProjectBuilder.from_isolated_env(self.env, source, runner=run_hook)
        self.install(builder.build_system_requires)
        backend = pair.pairable_backend(source)
        if backend is not None:
            self.status.enter(f"get_requires_for_build_{kind}")
            answer = pair.run(self.env, self.workdir, backend, kind, source, outdir,
                              self.config_settings, self.installed, self.status.path)
            if isinstance(answer, Path):
                return answer
            # The backend wants something not installed yet: install it, then the ordinary
            # one-hook-per-process path builds (without asking for the requirements again).
            self.install(answer)
        else:
            self.status.enter(f"get_requires_for_build_{kind}")
            self.install(builder.get_requires_for_build(kind, self.config_settings))
        self.status.enter(f"build_{kind}")
        return Path(builder.build(kind, outdir, self.config_settings))

    def requirement_versions(self) -> dict[str, str]:
        versions = getattr(self.env, "installed_versions", None)  # build >= 1.5
        return dict(versions(self.installed)) if versions is not None else {}


def phase(event: str, name: str, seconds: float | None = None) -> None:
    """Tell the parent a phase started or ended (it shows progress; the line is not logged)."""
    tail = f" {seconds:.2f}" if seconds is not None else ""
    print(f"{PHASE_MARK}{event} {name}{tail}", file=sys.stderr, flush=True)


def build(project_dir: Path, outdir: Path, config_settings: ConfigSettingsType,
          status: Status, installer: Installer) -> dict[str, object]:
    seconds: dict[str, float] = {}
    outdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    status.enter(f"creating the build environment with {installer}")
    phase("start", "environment")
    with DefaultIsolatedEnv(installer=installer) as env, \
            tempfile.TemporaryDirectory(prefix="pypi-publish-build-") as tmp:
        workdir = Path(tmp)
        run = Build(env, workdir, status, config_settings)
        created = time.monotonic() - started
        phase("end", "environment", created)
        mark = time.monotonic()
        phase("start", "sdist")
        sdist = run.distribution("sdist", project_dir, outdir)
        phase("end", "sdist", time.monotonic() - mark)
        seconds["sdist"] = time.monotonic() - mark - run.install_seconds
        mark, installing = time.monotonic(), run.install_seconds
        # The wheel comes from the sdist, as `python -m build` does: a file missing from the
        # sdist fails here rather than in a user's install. Same environment, no second one.
        unpacked = workdir / "sdist"
        unpacked.mkdir()
        phase("start", "wheel")
        wheel = run.distribution("wheel", _unpack_sdist(sdist, unpacked), outdir)
        phase("end", "wheel", time.monotonic() - mark)
        seconds["wheel"] = time.monotonic() - mark - (run.install_seconds - installing)
        seconds["environment"] = created + run.install_seconds
        seconds["total"] = time.monotonic() - started
        versions = run.requirement_versions()
    return {"files": [str(sdist), str(wheel)], "seconds": seconds, "installer": installer,
            "requirements": versions}


def main(request_path: str) -> int:
    # `build` reports its steps (environment, installs) and the installer's errors through logging.
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    request = json.loads(Path(request_path).read_text(encoding="utf-8"))
    status = Status(Path(request["status"]))
    try:
        outcome = build(Path(request["project"]), Path(request["outdir"]),
                        request["config_settings"], status, pick_installer(request["installer"]))
    except BuildBackendException as error:
        print(f"The build backend failed: {error.exception}", file=sys.stderr)
        return 1
    except BuildException as error:
        print(f"The build failed: {error}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as error:  # the installer failed; its output is above
        print(f"The build failed: {error}", file=sys.stderr)
        return 1
    Path(request["result"]).write_text(json.dumps(outcome), encoding="utf-8")
    return 0

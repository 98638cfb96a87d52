"""Build an sdist, then a wheel from that sdist, in one isolated environment (run as a child process).

`python -m pypi_publish.builder PROJECT_DIR OUTDIR RESULT_JSON` writes
`{"files": [...], "seconds": {"sdist": s, "wheel": s, "environment": s}}` to RESULT_JSON.
The parent runs this with the secrets removed from the environment, so no build backend can
print a token, and reads the result file rather than parsing the build's log.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import typing
from pathlib import Path

from build import BuildBackendException, BuildException, DistributionType, ProjectBuilder
from build.env import DefaultIsolatedEnv, Installer


def pick_installer() -> Installer:
    # uv creates the environment and installs the backend several times faster than pip.
    if shutil.which("uv") or importlib.util.find_spec("uv") is not None:
        return "uv"
    return "pip"


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


class HookPair:
    """Requirements and build of one distribution kind in one backend process (see _hook_pair)."""

    def __init__(self, env: DefaultIsolatedEnv, builder: ProjectBuilder, workdir: Path) -> None:
        self.env = env
        self.builder = builder
        self.script = workdir / "hook_pair.py"
        if not self.script.exists():
            shutil.copy(Path(__file__).with_name("_hook_pair.py"), self.script)

    def build(self, kind: DistributionType, outdir: Path, installed: set[str]) -> Path:
        environ = {**os.environ, **(self.env.make_extra_environ() or {}),
                   "_PYPROJECT_HOOKS_BUILD_BACKEND": self.builder._backend}
        with tempfile.TemporaryFile() as log:
            return self._run(kind, outdir, installed, environ, log)

    def _run(self, kind: DistributionType, outdir: Path, installed: set[str],
             environ: dict[str, str], log: typing.IO[bytes]) -> Path:
        with subprocess.Popen(
            [self.env.python_executable, str(self.script), kind, str(outdir)],
            cwd=self.builder.source_dir, env=environ, stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=log, text=True,
        ) as child:
            if child.stdin is None or child.stdout is None:
                raise BuildException("could not talk to the build backend")
            first = child.stdout.readline()
            requires = set(json.loads(first)["requires"]) if first else None
            if requires is None or requires - installed:
                _tell(child.stdin, "stop")
                child.wait()
                _echo(log)
                if requires is None:
                    raise BuildException(f"the build backend failed to start ({kind})")
                # Something new to install: the ordinary one-hook-per-process path.
                self.env.install(requires - installed)
                installed |= requires
                return Path(self.builder.build(kind, outdir))
            _tell(child.stdin, "build")
            answer = child.stdout.readline()
            child.wait()
        _echo(log)
        if child.returncode != 0 or not answer:
            raise BuildException(f"the build backend failed to build the {kind}")
        built: str = json.loads(answer)["built"]
        return outdir / built


def _tell(stdin: typing.IO[str], word: str) -> None:
    try:
        stdin.write(word + "\n")
        stdin.close()
    except BrokenPipeError:  # the backend already died; its log says why
        with contextlib.suppress(OSError):
            stdin.close()


def _echo(log: typing.IO[bytes]) -> None:
    log.seek(0)
    sys.stderr.write(log.read().decode("utf-8", errors="replace"))


def _pairable(builder: ProjectBuilder) -> bool:
    """The one-process path only for backends found on the environment's path (nearly all)."""
    system = getattr(builder, "_build_system", None)
    return isinstance(getattr(builder, "_backend", None), str) and isinstance(system, dict) \
        and not system.get("backend-path")


def _build_kind(kind: DistributionType, builder: ProjectBuilder, env: DefaultIsolatedEnv,
                outdir: Path, installed: set[str], workdir: Path) -> Path:
    if _pairable(builder):
        return HookPair(env, builder, workdir).build(kind, outdir, installed)
    requires = builder.get_requires_for_build(kind) - installed
    if requires:
        env.install(requires)
        installed |= requires
    return Path(builder.build(kind, outdir))


def build(project_dir: Path, outdir: Path) -> dict[str, object]:
    seconds: dict[str, float] = {}
    outdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with DefaultIsolatedEnv(installer=pick_installer()) as env, \
            tempfile.TemporaryDirectory(prefix="pypi-publish-build-") as tmp:
        workdir = Path(tmp)
        builder = ProjectBuilder.from_isolated_env(env, project_dir)
        installed = set(builder.build_system_requires)
        env.install(installed)
        seconds["environment"] = time.monotonic() - started
        mark = time.monotonic()
        sdist = _build_kind("sdist", builder, env, outdir, installed, workdir)
        seconds["sdist"] = time.monotonic() - mark
        mark = time.monotonic()
        # The wheel comes from the sdist, as `python -m build` does: a file missing from the
        # sdist fails here rather than in a user's install. Same environment, no second one.
        unpacked = workdir / "sdist"
        unpacked.mkdir()
        source = _unpack_sdist(sdist, unpacked)
        wheel_builder = ProjectBuilder.from_isolated_env(env, source)
        wheel = _build_kind("wheel", wheel_builder, env, outdir, installed, workdir)
        seconds["wheel"] = time.monotonic() - mark
    return {"files": [str(sdist), str(wheel)], "seconds": seconds}


def main(argv: list[str]) -> int:
    project_dir, outdir, result = (Path(a) for a in argv)
    try:
        outcome = build(project_dir, outdir)
    except BuildBackendException as error:
        print(f"The build backend failed: {error.exception}", file=sys.stderr)
        return 1
    except BuildException as error:
        print(f"The build failed: {error}", file=sys.stderr)
        return 1
    result.write_text(json.dumps(outcome), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

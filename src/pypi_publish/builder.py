"""Build an sdist, then a wheel from that sdist, in one isolated environment (run as a child process).

`python -m pypi_publish.builder PROJECT_DIR OUTDIR RESULT_JSON` writes
`{"files": [...], "seconds": {"sdist": s, "wheel": s, "environment": s}}` to RESULT_JSON.
The parent runs this with the secrets removed from the environment, so no build backend can
print a token, and reads the result file rather than parsing the build's log.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from build import BuildBackendException, BuildException, ProjectBuilder
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


def build(project_dir: Path, outdir: Path) -> dict[str, object]:
    seconds: dict[str, float] = {}
    outdir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with DefaultIsolatedEnv(installer=pick_installer()) as env:
        builder = ProjectBuilder.from_isolated_env(env, project_dir)
        installed = set(builder.build_system_requires)
        env.install(installed)
        sdist_requires = builder.get_requires_for_build("sdist") - installed
        if sdist_requires:
            env.install(sdist_requires)
            installed |= sdist_requires
        seconds["environment"] = time.monotonic() - started
        mark = time.monotonic()
        sdist = Path(builder.build("sdist", outdir))
        seconds["sdist"] = time.monotonic() - mark
        mark = time.monotonic()
        with tempfile.TemporaryDirectory(prefix="pypi-publish-sdist-") as tmp:
            # The wheel comes from the sdist, as `python -m build` does: a file missing from the
            # sdist fails here rather than in a user's install.
            source = _unpack_sdist(sdist, Path(tmp))
            wheel_builder = ProjectBuilder.from_isolated_env(env, source)
            wheel_requires = wheel_builder.get_requires_for_build("wheel") - installed
            if wheel_requires:
                env.install(wheel_requires)
            wheel = Path(wheel_builder.build("wheel", outdir))
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

"""The build child's bounds: stdin is empty, the time bound kills all, floods do not stall, -C arrives."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import textwrap
import zipfile
from pathlib import Path

import pytest

from pypi_publish.building import BuildRequest, build_distributions
from pypi_publish.errors import BuildError
from pypi_publish.gha import Console
from tests.conftest import MakeProject

# An in-tree backend with no requirements (so a build takes a fraction of a second) that does
# what `probe.json` in the project says, and records what it saw into the distributions.
PROBE_BACKEND = textwrap.dedent('''
    """A PEP 517 backend for tests: behaviours from probe.json, observations into the files."""
    import io, json, os, subprocess, sys, tarfile, time, zipfile

    NAME, VERSION = "probe", "1.0.0"
    META = f"Metadata-Version: 2.1\\nName: {NAME}\\nVersion: {VERSION}\\n"

    def _behave(hook):
        with open("probe.json") as handle:
            probe = json.load(handle)
        if probe.get("flood"):
            line = "x" * 99 + "\\n"
            for _ in range(probe["flood"]):
                sys.stdout.write(line)
                sys.stderr.write(line)
            sys.stdout.write("y" * 3_000_000)  # and a long line without a newline
            print("flood done", flush=True)
        if probe.get("sleep_in") == hook:
            sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            with open(probe["pids"], "w") as handle:
                json.dump([os.getpid(), sleeper.pid], handle)
            print(f"{hook} is waiting for something that never comes", flush=True)
            time.sleep(600)

    def _settings_file(kind, config_settings):
        return (f"{NAME}/settings-{kind}.json", json.dumps(config_settings, sort_keys=True))

    def get_requires_for_build_sdist(config_settings=None):
        return []

    def get_requires_for_build_wheel(config_settings=None):
        return []

    def build_sdist(sdist_directory, config_settings=None):
        _behave("build_sdist")
        base = f"{NAME}-{VERSION}"
        path = os.path.join(sdist_directory, base + ".tar.gz")
        with tarfile.open(path, "w:gz") as archive:
            for name in ("pyproject.toml", "probe.json", "_backend/probe_backend.py"):
                archive.add(name, f"{base}/{name}")
            name, text = _settings_file("sdist", config_settings)
            data = text.encode()
            info = tarfile.TarInfo(f"{base}/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo(f"{base}/PKG-INFO")
            info.size = len(META)
            archive.addfile(info, io.BytesIO(META.encode()))
        return base + ".tar.gz"

    def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
        _behave("build_wheel")
        name = f"{NAME}-{VERSION}-py3-none-any.whl"
        info = f"{NAME}-{VERSION}.dist-info"
        with zipfile.ZipFile(os.path.join(wheel_directory, name), "w") as wheel:
            wheel.writestr(f"{NAME}/__init__.py", "")
            wheel.writestr(*_settings_file("wheel", config_settings))
            wheel.writestr(f"{info}/METADATA", META)
            wheel.writestr(f"{info}/WHEEL", "Wheel-Version: 1.0\\nGenerator: probe\\n"
                                             "Root-Is-Purelib: true\\nTag: py3-none-any\\n")
            wheel.writestr(f"{info}/RECORD", "")
        return name
''')


def probe_project(parent: Path, **probe: object) -> Path:
    root = parent / "probe"
    (root / "_backend").mkdir(parents=True)
    (root / "_backend" / "probe_backend.py").write_text(PROBE_BACKEND)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "probe_backend"\nbackend-path = ["_backend"]\n')
    (root / "probe.json").write_text(json.dumps(probe))
    return root


def build(project: Path, timeout: float = 120.0, **fields: object) -> tuple[list[Path], str]:
    out = io.StringIO()
    files = build_distributions(BuildRequest(project, project / "dist", timeout=timeout, verbose=True,
                                             **fields),  # type: ignore[arg-type]
                                Console(out=out, verbose=True))
    return files, out.getvalue()


def running(pid: int) -> bool:
    """Alive and not a zombie (a container's init may never reap what it inherits)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test_a_setup_py_reading_stdin_gets_end_of_file_and_the_build_finishes(
    project: MakeProject, tmp_path: Path
) -> None:
    workspace = project("reads-stdin", "1.0.0")
    seen = tmp_path / "stdin.json"
    (workspace / "setup.py").write_text(
        "import json, sys\nfrom setuptools import setup\n"
        f"open({str(seen)!r}, 'w').write(json.dumps(sys.stdin.readline()))\nsetup()\n")
    files, _ = build(workspace, timeout=120)
    assert [p.name for p in files] == ["reads_stdin-1.0.0.tar.gz", "reads_stdin-1.0.0-py3-none-any.whl"]
    assert json.loads(seen.read_text()) == ""


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="process states read from /proc")
def test_a_build_past_its_time_bound_is_killed_with_all_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids.json"
    workspace = probe_project(tmp_path, sleep_in="build_sdist", pids=str(pids))
    with pytest.raises(BuildError) as caught:
        build(workspace, timeout=4.0, timeout_hint="`--build-timeout`")
    message = caught.value.message
    assert "was stopped at the time bound of 4.0 s: `build_sdist` had been running for " in message
    assert "build_sdist is waiting for something that never comes" in message
    assert "raise `--build-timeout`" in caught.value.hint
    assert [pid for pid in json.loads(pids.read_text()) if running(pid)] == []


def test_a_backend_flooding_both_streams_does_not_stall_the_build(tmp_path: Path) -> None:
    workspace = probe_project(tmp_path, flood=60_000)  # 12 MB over stdout and stderr
    files, log = build(workspace, timeout=120)
    assert [p.name for p in files] == ["probe-1.0.0.tar.gz", "probe-1.0.0-py3-none-any.whl"]
    assert "flood done" in log
    assert max(len(line) for line in log.splitlines()) <= 4000


def _settings_seen(files: list[Path]) -> dict[str, object]:
    sdist, wheel = files
    with tarfile.open(sdist) as archive:
        member = archive.extractfile("probe-1.0.0/probe/settings-sdist.json")
        assert member is not None
        in_sdist = json.loads(member.read())
    with zipfile.ZipFile(wheel) as archive:
        in_wheel = json.loads(archive.read("probe/settings-wheel.json"))
    return {"sdist": in_sdist, "wheel": in_wheel}


def test_config_settings_reach_both_hooks_as_python_m_build_passes_them(tmp_path: Path) -> None:
    workspace = probe_project(tmp_path)
    settings = {"key": "value", "empty": "", "repeated": ["a", "b"]}
    ours = _settings_seen(build(workspace, config_settings=settings)[0])
    reference = tmp_path / "reference"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(reference), "-Ckey=value",
                    "-Cempty=", "-Crepeated=a", "-Crepeated=b", str(workspace)],
                   check=True, capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    theirs = _settings_seen(sorted(reference.iterdir(), key=lambda p: p.suffix != ".gz"))
    assert ours == theirs == {"sdist": settings, "wheel": settings}

"""Host mode: the image's hash-locked requirements in a venv under RUNNER_TEMP, made once per job.

The venv's name holds a digest of everything it is made from (the lock, this Python, the
action's path and this recipe), so every later step of the job that runs this action reuses it,
and a different lock, Python or checkout of the action gets a venv of its own. RUNNER_TEMP is
emptied by the runner after each job.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path, PurePath

from .docker_run import LAUNCHER_NAMES
from .errors import LaunchError

LOCK = Path("docker") / "requirements.lock"
# Bump when the way the venv is made changes, so no job reuses one made the old way.
RECIPE = "1"
READY = "pypi-publish-ready"
PTH = "pypi_publish_action.pth"
MINIMUM = (3, 10)
SETUP_SECONDS = 10 * 60.0


def venv_python(venv: PurePath, os_name: str = os.name) -> PurePath:
    """Where a venv keeps its interpreter: `Scripts\\python.exe` on Windows, `bin/python` elsewhere."""
    if os_name == "nt":
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def venv_key(lock: bytes, action_dir: str, python: str) -> str:
    digest = hashlib.sha256()
    for part in (RECIPE.encode(), lock, action_dir.encode(), python.encode()):
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:20]


def this_python() -> str:
    """What identifies this interpreter for the venv's name: version, build, place and machine."""
    return f"{sys.version} {sys.executable} {platform.machine()}"


def temp_root(env: Mapping[str, str]) -> Path:
    return Path(env.get("RUNNER_TEMP") or tempfile.gettempdir()) / "pypi-publish"


def check_python(version: tuple[int, ...] = tuple(sys.version_info[:3])) -> None:
    if version[:2] < MINIMUM:
        found = ".".join(str(part) for part in version)
        raise LaunchError(
            "Python too old",
            f"Host mode needs Python 3.10 or newer on the runner; this step found {found} at "
            f"`{sys.executable}`. Add `actions/setup-python` with `python-version: \"3.13\"` "
            "before this step.",
        )


def _step(command: list[str], what: str) -> None:
    try:
        result = subprocess.run(command, stdin=subprocess.DEVNULL, timeout=SETUP_SECONDS,
                                check=False)
    except subprocess.TimeoutExpired:
        raise LaunchError("Host set-up failed",
                          f"{what} took longer than {SETUP_SECONDS / 60:.0f} minutes.") from None
    if result.returncode != 0:
        raise LaunchError("Host set-up failed", f"{what} failed (exit code {result.returncode}); "
                          "its output is in the group above.")


def _purelib(python: Path) -> Path:
    answer = subprocess.run([str(python), "-I", "-c",
                             "import sysconfig; print(sysconfig.get_path('purelib'))"],
                            capture_output=True, text=True, timeout=60, check=True)
    return Path(answer.stdout.strip())


def make_venv(venv: Path, action_dir: Path, key: str) -> None:
    """A fresh venv with the locked wheels, their hashes checked, and the action's source on its path."""
    if venv.exists():
        shutil.rmtree(venv)
    venv.parent.mkdir(parents=True, exist_ok=True)
    python = Path(venv_python(venv))
    print("::group::Install pypi-publish's locked requirements", flush=True)
    try:
        started = time.monotonic()
        _step([sys.executable, "-m", "venv", str(venv)],
              "Creating a venv (`python -m venv`; on Debian and Ubuntu it needs `python3-venv`)")
        _step([str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
               "--require-hashes", "--only-binary=:all:", "--no-deps",
               "-r", str(action_dir / LOCK)], "Installing the locked requirements with pip")
        # The action's own package runs from its checkout: a .pth line puts `src` on the path,
        # which `python -I` keeps (it drops PYTHONPATH and the user site, not site-packages).
        (_purelib(python) / PTH).write_text(str(action_dir / "src") + "\n", encoding="utf-8")
        (venv / READY).write_text(key + "\n", encoding="utf-8")
        print(f"Made {venv} in {time.monotonic() - started:.1f} s.", flush=True)
    finally:
        print("::endgroup::", flush=True)


def ready_venv(action_dir: Path, env: Mapping[str, str]) -> Path:
    """The interpreter of this job's venv for this action, made if no earlier step made it."""
    check_python()
    lock = (action_dir / LOCK).read_bytes()
    key = venv_key(lock, str(action_dir), this_python())
    venv = temp_root(env) / f"venv-{key}"
    marker = venv / READY
    if marker.is_file() and marker.read_text(encoding="utf-8").strip() == key:
        print(f"Reusing {venv}, made by an earlier step of this job.", flush=True)
    else:
        make_venv(venv, action_dir, key)
    return Path(venv_python(venv))


def entrypoint_command(python: PurePath, action_dir: PurePath) -> list[str]:
    # The image's flags (-I -B -u), and UTF-8 stdio whatever the runner's code page: the runner
    # reads the log and file commands as UTF-8.
    return [str(python), "-I", "-B", "-u", "-X", "utf8", str(action_dir / "entrypoint.py")]


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """The step's environment as it is (the inputs among it), less the launcher's own variables."""
    return {name: value for name, value in env.items() if name not in LAUNCHER_NAMES}


def prepare(action_dir: Path, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
    python = ready_venv(action_dir, env)
    return entrypoint_command(python, action_dir), child_environment(env)

"""The publishers compared, and the commands each runs for a scenario.

Every tool is asked to do what a release job asks of it, in its documented way: build a project,
upload files to a fresh index, and skip what the index already has on a rerun. Credentials go
through each tool's environment variables, so no secret is in an argv.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.scenarios import Scenario

BIN = Path(sys.executable).parent
PRODUCT = "pypi-publish"


@dataclass(frozen=True)
class Plan:
    """Commands run one after the other (the run's time is their sum); or why it cannot run."""

    steps: list[list[str]] = field(default_factory=list)
    unsupported: str | None = None


@dataclass(frozen=True)
class Tool:
    name: str
    label: str
    executable: str
    build_label: str
    # Added to every publishing command, e.g. ["--parallel", "8"] to try a setting.
    extra_args: tuple[str, ...] = ()

    def path(self) -> str | None:
        local = BIN / self.executable
        return str(local) if local.exists() else shutil.which(self.executable)

    def availability(self) -> str | None:
        """None when the tool runs; otherwise why it does not (reported as n/a)."""
        path = self.path()
        if path is None:
            return f"`{self.executable}` is not installed"
        try:
            done = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=60,
                                  check=False)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"`{self.executable} --help` failed: {error}"
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
            return f"`{self.executable} --help` exited {done.returncode}: {last[0]}"
        return None

    def version(self) -> str:
        if self.name != "uv":
            # Python tools: ask the installed distribution (pypi-publish has no --version).
            try:
                return importlib.metadata.version(self.executable)
            except importlib.metadata.PackageNotFoundError:
                return "n/a"
        path = self.path()
        if path is None:
            return "n/a"
        done = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60,
                              check=False)
        return (done.stdout.strip().splitlines() or ["unknown"])[0].removeprefix("uv ")

    def credentials_env(self, user: str, password: str) -> dict[str, str]:
        if self.name == "uv":
            return {"UV_PUBLISH_USERNAME": user, "UV_PUBLISH_PASSWORD": password}
        return {"TWINE_USERNAME": user, "TWINE_PASSWORD": password}

    def publish(self, scenario: Scenario, url: str) -> Plan:
        """Commands that publish `scenario`'s files to the index at `url`."""
        path = self.path()
        assert path is not None
        upload = f"{url.rstrip('/')}/"
        if self.name == "twine":
            plan = _twine(path, scenario, upload)
        elif self.name == "uv":
            plan = _uv(path, scenario, upload)
        else:
            plan = _product(path, scenario, upload)
        if self.extra_args and plan.steps:
            plan = Plan([*plan.steps[:-1], [*plan.steps[-1], *self.extra_args]])
        return plan

    def build(self, project: Path, dist: Path) -> list[str]:
        path = self.path()
        assert path is not None
        if self.name == "twine":
            return [sys.executable, "-m", "build", "--outdir", str(dist), str(project)]
        if self.name == "uv":
            return [path, "build", "--out-dir", str(dist), str(project)]
        return [path, "--no-upload", "--project-dir", str(project), "--packages-dir", str(dist)]


def _files(scenario: Scenario) -> list[str]:
    return [str(p) for p in scenario.files]


def _twine(path: str, scenario: Scenario, url: str) -> Plan:
    if scenario.preloaded:
        return Plan(unsupported="twine 7 allows --skip-existing only for PyPI and TestPyPI")
    upload = [path, "upload", "--repository-url", url, "--non-interactive"]
    return Plan([[*upload, *_files(scenario)]])


def _uv(path: str, scenario: Scenario, url: str) -> Plan:
    publish = [path, "publish", "--publish-url", url, "--trusted-publishing", "never"]
    if scenario.preloaded:
        # uv's documented way to skip files the index has: ask its simple API first.
        publish += ["--check-url", f"{url}simple/"]
    return Plan([[*publish, *_files(scenario)]])


def _product(path: str, scenario: Scenario, url: str) -> Plan:
    command = [path, "--repository-url", url]
    if scenario.preloaded:
        command.append("--skip-existing")
    folders = {p.parent for p in scenario.files}
    if len(folders) != 1:
        raise ValueError(f"scenario {scenario.name} files must share one directory")
    return Plan([[*command, "--skip-build", "--packages-dir", str(folders.pop())]])


TOOLS = {
    "twine": Tool("twine", "python -m build + twine upload", "twine", "python -m build"),
    "uv": Tool("uv", "uv build + uv publish", "uv", "uv build"),
    PRODUCT: Tool(PRODUCT, "pypi-publish (this project)", PRODUCT, "pypi-publish --no-upload"),
}

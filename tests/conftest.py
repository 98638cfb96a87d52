"""Fixtures: one real pypiserver per session (emptied for each test), sample projects, offline
builds, and runners for the two front doors, in-process (fast) or as the real programs."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.index_server import IndexServer
from tests.support.projects import write_project
from tests.support.secret_sweep import sweep_file

pytest_plugins = ["tests.support.secret_sweep", "tests.fakes.fixtures", "tests.support.devpi_fixtures",
                  "tests.fakes.sigstore.fixtures", "tests.support.tp_runner",
                  "tests.support.sample_release"]

REPO = Path(__file__).resolve().parent.parent
WHEELHOUSE = REPO / ".cache" / "wheelhouse"


@pytest.fixture(scope="session", autouse=True)
def offline_builds() -> Iterator[None]:
    """Isolated builds install their backends from the local wheelhouse, never from the network."""
    if not any(WHEELHOUSE.glob("setuptools-*.whl")):
        pytest.exit(
            f"{WHEELHOUSE} has no build backends; run `bash scripts/dev-env` first", returncode=2
        )
    saved = {k: os.environ.get(k) for k in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "UV_OFFLINE",
                                             "UV_FIND_LINKS", "UV_NO_INDEX")}
    os.environ["PIP_NO_INDEX"] = "1"
    os.environ["PIP_FIND_LINKS"] = str(WHEELHOUSE)
    os.environ["UV_OFFLINE"] = "1"
    os.environ["UV_NO_INDEX"] = "1"
    os.environ["UV_FIND_LINKS"] = str(WHEELHOUSE)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def index_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    server = IndexServer(tmp_path_factory.mktemp("index")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def index(index_server: IndexServer) -> IndexServer:
    """The session's pypiserver, holding no file: it reads its directory on every request."""
    index_server.clear()
    return index_server


@pytest.fixture
def fresh_index(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IndexServer]:
    """A pypiserver of the test's own, for tests that need more than an empty shared one."""
    server = IndexServer(tmp_path_factory.mktemp("own-index")).start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Run:
    """What one run of the product left behind."""

    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str

    @property
    def text(self) -> str:
        return self.stdout + self.stderr


def parse_output_file(text: str) -> dict[str, str]:
    """Read `$GITHUB_OUTPUT` written with heredoc delimiters, as the runner does."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            value: list[str] = []
            for inner in lines:
                if inner == delimiter:
                    break
                value.append(inner)
            outputs[name] = "\n".join(value)
        elif "=" in line:
            name, value_text = line.split("=", 1)
            outputs[name] = value_text
    return outputs


def clean_env(home: Path) -> dict[str, str]:
    """This process's environment without anything of a runner, a token or a CA; HOME is `home`."""
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_",
                                                                     "ACTIONS_", "RUNNER_",
                                                                     "TWINE_"))}
    for key in ("PYPI_API_TOKEN", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
                "GITLAB_CI", "BUILDKITE", "CIRCLECI"):
        keep.pop(key, None)
    keep["HOME"] = str(home)
    return keep


def _finish(returncode: int, stdout: str, stderr: str, output: Path | None,
            summary: Path | None) -> Run:
    # Echo into pytest's capture so the secrets sweep sees everything the product printed.
    sys.stdout.write(stdout)
    sys.stderr.write(stderr)
    outputs = parse_output_file(output.read_text()) if output and output.exists() else {}
    summary_text = summary.read_text() if summary and summary.exists() else ""
    return Run(returncode, stdout, stderr, outputs, summary_text)


RunAction = Callable[..., Run]
RunCli = Callable[..., Run]
BuiltDists = Callable[..., Path]
MakeProject = Callable[..., Path]


def action_env(tmp_path: Path, workspace: Path, inputs: Mapping[str, str],
               env: Mapping[str, str] | None) -> tuple[dict[str, str], Path, Path]:
    """The environment the runner gives a Docker action step, and its output and summary files."""
    commands = tmp_path / "file_commands"
    commands.mkdir(exist_ok=True)
    run_id = uuid.uuid4().hex
    output = sweep_file(commands / f"output_{run_id}")
    summary = sweep_file(commands / f"summary_{run_id}")
    full_env = clean_env(tmp_path / "home")
    full_env.update({
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_REPOSITORY": "octo-org/sample-project",
        "GITHUB_REF": "refs/heads/main",
        "GITHUB_REF_TYPE": "branch",
        "GITHUB_REF_NAME": "main",
    })
    full_env.update({f"INPUT_{k.upper()}": v for k, v in inputs.items()})
    full_env.update(env or {})
    return full_env, output, summary


@pytest.fixture
def run_action(tmp_path: Path) -> RunAction:
    """Run the action as the runner runs a Docker action: INPUT_* env, the workspace mounted.

    In-process by default (`pypi_publish.action.main` with that environment); `process=True`
    runs `python entrypoint.py` as a child, exactly the image's entrypoint.
    """

    def run(workspace: Path, inputs: Mapping[str, str], env: Mapping[str, str] | None = None,
            timeout: float = 300, process: bool = False) -> Run:
        full_env, output, summary = action_env(tmp_path, workspace, inputs, env)
        if process:
            proc = subprocess.run(
                [sys.executable, str(REPO / "entrypoint.py")],
                cwd=workspace, env=full_env, capture_output=True, text=True, timeout=timeout,
                check=False,
            )
            return _finish(proc.returncode, proc.stdout, proc.stderr, output, summary)
        from pypi_publish import action

        out = io.StringIO()
        code = action.main(full_env, out=out)
        return _finish(code, out.getvalue(), "", output, summary)

    return run


@pytest.fixture
def run_cli(tmp_path: Path) -> RunCli:
    """Run the local command outside GitHub Actions: in-process, or `process=True` for
    `scripts/publish_to_pypi.py` as a child."""

    def run(args: list[str], cwd: Path, env: Mapping[str, str] | None = None,
            timeout: float = 300, process: bool = False) -> Run:
        full_env = clean_env(tmp_path / "home")
        full_env.update(env or {})
        if process:
            proc = subprocess.run(
                [sys.executable, str(REPO / "scripts" / "publish_to_pypi.py"), *args],
                cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout, check=False,
            )
            return _finish(proc.returncode, proc.stdout, proc.stderr, None, None)
        from pypi_publish import cli

        out = io.StringIO()
        code = cli.main(args, prog="publish_to_pypi.py", env=full_env, out=out, cwd=cwd)
        return _finish(code, out.getvalue(), "", None, None)

    return run


_BUILT: dict[tuple[str, str, str], Path] = {}


@pytest.fixture
def built_dists(tmp_path: Path, tmp_path_factory: pytest.TempPathFactory) -> BuiltDists:
    """Copy of a real sdist + wheel for (name, version, backend), built once per session."""

    def make(name: str = "sample-project", version: str = "1.2.3",
             backend: str = "setuptools") -> Path:
        key = (name, version, backend)
        if key not in _BUILT:
            where = tmp_path_factory.mktemp("built")
            project = write_project(where, name, version, backend)
            # The backends are installed in the test venv: no isolated environment to set up.
            subprocess.run(
                [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
                 "--outdir", str(where / "dist"), str(project)],
                check=True, capture_output=True, timeout=120,
            )
            _BUILT[key] = where / "dist"
        target = tmp_path / f"dist-{name}-{version}-{backend}"
        shutil.copytree(_BUILT[key], target)
        return target

    return make


@pytest.fixture
def project(tmp_path: Path) -> MakeProject:
    """Write a sample project into the test's temporary directory."""

    def make(name: str = "sample-project", version: str = "1.2.3", backend: str = "setuptools",
             **kwargs: str) -> Path:
        return write_project(tmp_path, name, version, backend, **kwargs)

    return make


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The image's tests are slow tests too: `-m "not slow"` is the product's own suite."""
    for item in items:
        if item.get_closest_marker("container") is not None:
            item.add_marker(pytest.mark.slow)

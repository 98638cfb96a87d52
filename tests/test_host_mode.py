"""The composite action in host mode, run here as the Actions runner runs it (`runner: host`).

tests/support/composite_runner.py plays the runner: the inputs and the step's `env:` as the
runner evaluates them, `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY` files per step, the action's
outputs mapped from its steps. The venv is made from the image's lock, offline, from the locked
wheels `bash .ci/container setup` downloads; one RUNNER_TEMP for the module, as one job.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO, WHEELHOUSE, BuiltDists
from tests.support.composite_runner import CompositeResult, CompositeRunner, machine_env
from tests.support.containers import IMAGE_WHEELS, SETUP_HINT
from tests.support.index_server import IndexServer

SAMPLE_FILES = ["sample_project-1.2.3-py3-none-any.whl", "sample_project-1.2.3.tar.gz"]
GITHUB_ENV = {"GITHUB_REPOSITORY": "octo-org/sample-project", "GITHUB_REF": "refs/heads/main",
              "GITHUB_REF_TYPE": "branch", "GITHUB_REF_NAME": "main"}
START = REPO / "launcher" / "start.sh"


def offline_pip() -> dict[str, str]:
    """The workflow's `env:` that points pip at the locked wheels and the build backends."""
    if not any(IMAGE_WHEELS.glob("pip-*.whl")):
        pytest.skip(f"{IMAGE_WHEELS} has no locked wheels for the venv ({SETUP_HINT})")
    return {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": f"{IMAGE_WHEELS} {WHEELHOUSE}"}


@pytest.fixture(scope="module")
def runner_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runner-temp")


@pytest.fixture
def job(tmp_path: Path, runner_temp: Path) -> CompositeRunner:
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    # The Python that runs the tests: the locked wheels are for its version.
    machine = machine_env({"PYPI_PUBLISH_PYTHON": sys.executable})
    return CompositeRunner(REPO, workspace, runner_temp, machine, github_env=GITHUB_ENV)


def publish_with_a_token(job: CompositeRunner, built_dists: BuiltDists, index: IndexServer,
                         runner: str = "host", **env: str) -> CompositeResult:
    shutil.copytree(built_dists(), job.workspace / "dist")
    return job.run({"repository-url": index.upload_url, "password": index.password,
                    "runner": runner}, env={**offline_pip(), **env})


@pytest.mark.slow
def test_host_mode_publishes_with_a_token(
    job: CompositeRunner, built_dists: BuiltDists, index: IndexServer
) -> None:
    run = publish_with_a_token(job, built_dists, index)
    assert run.returncode == 0, run.text
    assert "pypi-publish runs in host mode (`runner: host`)" in run.stdout
    assert index.files() == SAMPLE_FILES
    assert run.outputs["auth"] == "token"
    assert run.outputs["version"] == "1.2.3"
    assert sorted(json.loads(run.outputs["uploaded"])) == SAMPLE_FILES
    assert all(name in run.summary for name in SAMPLE_FILES)
    assert run.steps["windows"].outcome == "skipped"


@pytest.mark.slow
def test_host_mode_publishes_with_trusted_publishing(
    job: CompositeRunner, built_dists: BuiltDists, request: pytest.FixtureRequest
) -> None:
    from tests.fakes.attestation_check import AttestationCheck

    oidc = request.getfixturevalue("github_oidc")
    warehouse = request.getfixturevalue("warehouse")
    stand_ins = request.getfixturevalue("sigstore_stand_ins")
    # The index checks each attestation as Warehouse does, against the stand-ins' trusted root.
    warehouse.attestations = AttestationCheck(stand_ins.trusted_root, job.workspace.parent / "tuf")
    shutil.copytree(built_dists(), job.workspace / "dist")
    # The runner gives a `run:` step of a job with `id-token: write` these two variables.
    job.github_env.update({"ACTIONS_ID_TOKEN_REQUEST_URL": oidc.request_url,
                           "ACTIONS_ID_TOKEN_REQUEST_TOKEN": oidc.request_token})
    run = job.run({"repository-url": warehouse.upload_url, "runner": "host"},
                  env={**offline_pip(), **stand_ins.env()})
    assert run.returncode == 0, run.text
    assert run.outputs["auth"] == "trusted-publishing"
    assert sorted(json.loads(run.outputs["uploaded"])) == SAMPLE_FILES
    assert warehouse.files() == SAMPLE_FILES
    # The locked venv signs: every file went up with an attestation the index accepted.
    assert sorted(json.loads(run.outputs["attestations"])) == SAMPLE_FILES
    assert sorted(warehouse.attestations.accepted) == [(name, 1) for name in SAMPLE_FILES]


@pytest.mark.slow
def test_later_steps_of_the_job_reuse_the_venv(
    job: CompositeRunner, built_dists: BuiltDists, index: IndexServer
) -> None:
    first = publish_with_a_token(job, built_dists, index)
    again = job.run({"repository-url": index.upload_url, "password": index.password,
                     "runner": "host", "skip-existing": "true"}, env=offline_pip())
    assert first.returncode == 0 and again.returncode == 0, first.text + again.text
    assert "Reusing " in again.stdout
    assert "Install pypi-publish's locked requirements" not in again.stdout
    assert len(list((job.temp / "pypi-publish").glob("venv-*"))) == 1


# -- finding a Python ------------------------------------------------------------------------------

def fake_python(path: Path, fits: bool) -> Path:
    """A `python3` that passes (or fails) the launcher's version probe and says when it runs."""
    path.parent.mkdir(parents=True, exist_ok=True)
    verdict = "exit 0" if fits else "exit 1"
    path.write_text(f'#!/bin/sh\nif [ "$1" = "-c" ]; then {verdict}; fi\necho "started: $0 $*"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def tools(tmp_path: Path) -> Iterator[Path]:
    """A PATH with what start.sh uses and no Python."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("dirname", "sort", "tr"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    yield bin_dir


def start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", str(START)], env=env, capture_output=True, text=True,
                          timeout=60, check=False)


def test_no_python_on_the_runner_fails_naming_setup_python(tools: Path) -> None:
    fake_python(tools / "python3", fits=False)
    proc = start({"PATH": str(tools)})
    assert proc.returncode == 1
    assert proc.stdout.startswith("::error title=No Python 3.10+ on the runner::")
    assert "(too old: python3)" in proc.stdout
    assert "Add actions/setup-python" in proc.stdout


def test_the_python_setup_python_installed_comes_first(tools: Path, tmp_path: Path) -> None:
    fake_python(tools / "python3", fits=True)
    chosen = fake_python(tmp_path / "setup-python" / "bin" / "python", fits=True)
    proc = start({"PATH": str(tools), "pythonLocation": str(tmp_path / "setup-python")})
    assert proc.stdout == f"started: {chosen} -I {REPO / 'launcher' / 'launch.py'}\n"


def test_the_newest_python_of_the_tool_cache_is_used_when_path_has_none(
    tools: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "toolcache"
    for version, fits in (("3.9.19", False), ("3.10.14", True), ("3.12.4", True)):
        fake_python(cache / "Python" / version / "arm64" / "bin" / "python3", fits)
    fake_python(cache / "Python" / "3.13.0" / "x64" / "bin" / "python3", fits=True)
    proc = start({"PATH": str(tools), "RUNNER_TOOL_CACHE": str(cache), "RUNNER_ARCH": "ARM64"})
    assert proc.stdout.startswith(f"started: {cache}/Python/3.12.4/arm64/bin/python3 -I ")


def test_the_launcher_says_which_python_started_it() -> None:
    env = {**machine_env(), "PYPI_PUBLISH_PYTHON": sys.executable, "INPUT_RUNNER": "nonsense"}
    proc = start(env)
    version = ".".join(str(part) for part in sys.version_info[:3])
    assert proc.stdout.splitlines()[0] == f"pypi-publish starts from Python {version} at {sys.executable}."
    assert proc.returncode == 2

"""The workflows' scripts, and the self-test workflow run here, step by step.

The self-test workflow's steps run in the workflow's order, with the same scripts: `LocalJob`
plays the runner's part for the matrix entry of a Linux runner in host mode; the set-up steps
(checkout, setup-python, installing pypiserver) are what this machine already has, and the index
listens on a free port instead of the workflow's fixed one.
"""


from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from passlib.apache import HtpasswdFile

from tests.conftest import REPO, WHEELHOUSE, parse_output_file
from tests.support.composite_runner import CompositeRunner, machine_env
from tests.support.containers import IMAGE_WHEELS, SETUP_HINT
from tests.support.index_server import free_port
from tests.support.secret_sweep import remember_secret
from tests.support.workflows import (
    DEV_VERSION,
    SCRIPTS,
    WORKFLOWS,
    Job,
    Step,
    jobs,
)

# -- the scripts the workflows run ----------------------------------------------------------------




@pytest.mark.parametrize(("current", "expected"), [
    ("0.1.0", "0.1.1.dev42"), ("1.2", "1.3.dev42"), ("2.0.0rc1", "2.0.0rc1.dev42"),
    ("1.0.0.dev3", "1.0.0.dev42"), ("1.0.0.post2", "1.0.1.dev42"),
])
def test_rehearsal_versions_come_after_the_current_release(current: str, expected: str) -> None:
    assert DEV_VERSION.next_dev_version(current, 42) == expected


def test_rehearsal_version_step_works_on_this_repository(tmp_path: Path) -> None:
    step = next(s for s in jobs(WORKFLOWS["testpypi.yml"])["build"]["steps"]
                if s.get("id") == "version")
    args = shlex.split(step["run"].replace('"$GITHUB_RUN_ID"', "987654"))
    assert args[:2] == ["python", ".github/scripts/dev_version.py"]
    files = [a for a in args[2:] if not a.startswith("--") and a != "987654"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / name, tmp_path / name)
    output = tmp_path / "output"
    env = {**os.environ, "GITHUB_OUTPUT": str(output)}
    result = subprocess.run([sys.executable, str(REPO / args[1]), *args[2:]], cwd=tmp_path,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    version = parse_output_file(output.read_text())["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.dev987654", version)
    for name in files:
        assert f'"{version}"' in (tmp_path / name).read_text(), name


def test_rehearsal_version_refuses_a_project_without_a_static_version(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\ndynamic = ["version"]\n')
    result = subprocess.run([sys.executable, str(SCRIPTS / "dev_version.py"), "--number", "1",
                             str(pyproject)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "has no static `version`" in result.stdout


def selftest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, str(SCRIPTS / "selftest.py"), *args],
                            capture_output=True, text=True, check=False, env=env)
    sys.stdout.write(result.stdout + result.stderr)
    return result


@dataclass
class Prepared:
    directory: Path
    outputs: dict[str, str]
    log: str


@pytest.fixture
def prepared(tmp_path: Path) -> Prepared:
    output = tmp_path / "output"
    result = selftest("prepare", "--dir", str(tmp_path / "st"),
                      env={**os.environ, "GITHUB_OUTPUT": str(output)})
    assert result.returncode == 0
    outputs = parse_output_file(output.read_text())
    remember_secret(outputs["token"])
    remember_secret(outputs["wrong-token"])
    return Prepared(tmp_path / "st", outputs, result.stdout)


def test_selftest_credentials_are_masked_before_anything_else(prepared: Prepared) -> None:
    token, wrong = prepared.outputs["token"], prepared.outputs["wrong-token"]
    assert prepared.log.splitlines()[:2] == [f"::add-mask::{token}", f"::add-mask::{wrong}"]
    assert token != wrong


def test_selftest_htpasswd_accepts_the_token_only(prepared: Prepared) -> None:
    directory, outputs = prepared.directory, prepared.outputs
    htpasswd = HtpasswdFile(str(directory / "htpasswd"))
    assert htpasswd.check_password("__token__", outputs["token"])
    assert not htpasswd.check_password("__token__", outputs["wrong-token"])


def test_selftest_checks_fail_with_an_annotation_naming_the_difference() -> None:
    outputs = json.dumps({"files": '["a-1.tar.gz", "a-1-py3-none-any.whl"]', "uploaded": "[]",
                          "skipped": "[]", "auth": "token"})
    result = selftest("assert-outputs", outputs, "--uploaded", "all")
    assert result.returncode == 1
    assert result.stdout.startswith("::error title=Self-test check failed::`uploaded`: expected")
    result = selftest("assert-failed", "success", outputs)
    assert result.returncode == 1
    assert "step outcome: expected 'failure', got 'success'" in result.stdout


# -- the self-test workflow, run here -----------------------------------------------------------


@dataclass
class StepResult:
    outcome: str
    outputs: dict[str, str] = field(default_factory=dict)
    log: str = ""


EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# The matrix entry the local run plays: this machine is a Linux runner, the action in host mode.
LOCAL_MATRIX = {"os": "ubuntu-latest", "runner": "host"}
# Steps of the set-up this machine already has: the checkout (the workspace is a copy), its
# Python, and pypiserver (in the test venv).
SET_UP = ("actions/checkout@", "actions/setup-python@")


@dataclass
class LocalJob:
    """Runs one job's steps in order as the runner would: expressions, env, outputs, outcomes.

    `uses: ./` runs the composite action through tests/support/composite_runner.py, in host mode
    (the matrix entry above), its venv made offline from the locked wheels.
    """

    job: Job
    workspace: Path
    temp: Path
    env: dict[str, str] = field(default_factory=dict)
    results: dict[str, StepResult] = field(default_factory=dict)
    failed: bool = False

    def __post_init__(self) -> None:
        self.env = {k: str(v) for k, v in self.job.get("env", {}).items()}
        assert {"os": LOCAL_MATRIX["os"], "runner": LOCAL_MATRIX["runner"]} in \
            self.job["strategy"]["matrix"]["include"]

    # -- expressions ----------------------------------------------------------------------------
    def value(self, expression: str) -> str:
        if match := re.fullmatch(r"steps\.([\w-]+)\.outputs\.([\w-]+)", expression):
            return self.results[match.group(1)].outputs.get(match.group(2), "")
        if match := re.fullmatch(r"steps\.([\w-]+)\.outcome", expression):
            return self.results[match.group(1)].outcome
        if match := re.fullmatch(r"toJSON\(steps\.([\w-]+)\.outputs\)", expression):
            return json.dumps(self.results[match.group(1)].outputs, indent=2)
        if match := re.fullmatch(r"env\.(\w+)", expression):
            return self.env[match.group(1)]
        if match := re.fullmatch(r"matrix\.(\w+)", expression):
            return LOCAL_MATRIX[match.group(1)]
        raise AssertionError(f"the local run does not know the expression `{expression}`")

    def evaluate(self, text: object) -> str:
        return EXPRESSION.sub(lambda m: self.value(m.group(1)), str(text))

    def condition(self, text: str | None) -> bool:
        if text is None:
            return not self.failed
        result = True
        for term in (t.strip() for t in text.split("&&")):
            if term == "failure()":
                result = result and self.failed
            elif term == "runner.os != 'Linux'":
                result = False
            elif match := re.fullmatch(r"steps\.([\w-]+)\.outcome != '(\w+)'", term):
                result = result and self.results[match.group(1)].outcome != match.group(2)
            else:
                raise AssertionError(f"the local run does not know the condition `{term}`")
        return result

    # -- steps ----------------------------------------------------------------------------------
    def machine_env(self) -> dict[str, str]:
        """This machine's environment less anything of a runner or a credential."""
        env = machine_env()
        # `python` in a step is the Python running the tests.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def step_env(self, step: Step) -> dict[str, str]:
        env = self.machine_env()
        number = len(self.results)
        env.update({
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(self.temp / f"output-{number}"),
            "GITHUB_STEP_SUMMARY": str(self.temp / f"summary-{number}"),
            "RUNNER_TEMP": str(self.temp),
            **GITHUB_REF,
        })
        env.update(self.env)
        env.update({k: self.evaluate(v) for k, v in step.get("env", {}).items()})
        return env

    def run_script(self, step: Step, script: str) -> StepResult:
        env = self.step_env(step)
        # The job's `defaults.run.shell: bash`, started as the runner starts it.
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                              cwd=self.workspace, env=env, capture_output=True, text=True,
                              timeout=300, check=False)
        sys.stdout.write(proc.stdout + proc.stderr)  # into pytest's capture, for the sweep
        output = Path(env["GITHUB_OUTPUT"])
        outputs = parse_output_file(output.read_text()) if output.exists() else {}
        return StepResult("success" if proc.returncode == 0 else "failure", outputs,
                          proc.stdout + proc.stderr)

    def run_action(self, step: Step) -> StepResult:
        assert step["uses"].split()[0] == "./", f"the local run runs only this action, not {step['uses']}"
        runner = CompositeRunner(REPO, self.workspace, self.temp, self.machine_env(),
                                 github_env=dict(GITHUB_REF))
        env = {**self.env, **{k: self.evaluate(v) for k, v in step.get("env", {}).items()},
               **OFFLINE_PIP}
        with_ = {name: self.evaluate(value) for name, value in step.get("with", {}).items()}
        run = runner.run(with_, env=env, timeout=300)
        return StepResult("success" if run.returncode == 0 else "failure", run.outputs, run.text)

    def run(self) -> None:
        for step in self.job["steps"]:
            step_id = step.get("id", f"step-{len(self.results)}")
            if step.get("uses", "").startswith(SET_UP) or "requirements/selftest.txt" in step.get("run", ""):
                continue
            if not self.condition(step.get("if")):
                self.results[step_id] = StepResult("skipped")
                continue
            if step_id == "index":
                # The workflow's fixed port, made a free one: other tests may run servers here.
                result = self.run_script(step, step["run"].replace("--port 8080", f"--port {free_port()}"))
            elif "run" in step:
                result = self.run_script(step, step["run"])
            else:
                result = self.run_action(step)
            self.results[step_id] = result
            if result.outcome == "failure" and not step.get("continue-on-error", False):
                self.failed = True

    def stop(self) -> None:
        if (self.temp / "selftest" / "index.pid").exists():
            selftest("stop-index", "--dir", str(self.temp / "selftest"))


GITHUB_REF = {"GITHUB_REPOSITORY": "octo-org/pypi-publish",
              # As on a release tag push, whose version is not the sample project's.
              "GITHUB_REF": "refs/tags/v0.0.1", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v0.0.1"}
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": f"{IMAGE_WHEELS} {WHEELHOUSE}"}


@pytest.fixture(scope="module")
def self_test_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalJob]:
    if not any(IMAGE_WHEELS.glob("pip-*.whl")):
        pytest.skip(f"{IMAGE_WHEELS} has no locked wheels for host mode's venv ({SETUP_HINT})")
    root = tmp_path_factory.mktemp("self-test")
    workspace = root / "workspace"
    shutil.copytree(REPO / ".github", workspace / ".github")
    temp = root / "runner-temp"
    temp.mkdir()
    job = LocalJob(jobs(WORKFLOWS["self-test.yml"])["action"], workspace, temp)
    try:
        job.run()
        if "credentials" in job.results:
            for name in ("token", "wrong-token"):
                remember_secret(job.results["credentials"].outputs[name])
        yield job
    finally:
        job.stop()


@pytest.mark.slow
def test_self_test_workflow_passes_here(self_test_run: LocalJob) -> None:
    failed = {k: r.log[-3000:] for k, r in self_test_run.results.items()
              if r.outcome == "failure" and k not in ("wrong-token", "wrong-version")}
    assert not failed
    assert not self_test_run.failed
    ran = {k for k, r in self_test_run.results.items() if r.outcome != "skipped"}
    assert {"dry-run", "credentials", "index", "wrong-token", "wrong-version", "upload",
            "rerun"} <= ran


@pytest.mark.slow
def test_self_test_failing_steps_fail_for_the_reason_they_stand_for(
    self_test_run: LocalJob,
) -> None:
    results = self_test_run.results
    assert results["wrong-token"].outcome == "failure"
    assert "::error title=Authentication failed::" in results["wrong-token"].log
    assert results["wrong-version"].outcome == "failure"
    assert "9.9.9" in results["wrong-version"].log


@pytest.mark.slow
def test_self_test_leaves_the_release_on_the_index(self_test_run: LocalJob) -> None:
    packages = self_test_run.temp / "selftest" / "packages"
    files = json.loads(self_test_run.results["upload"].outputs["files"])
    assert sorted(p.name for p in packages.iterdir()) == sorted(files)
    assert json.loads(self_test_run.results["rerun"].outputs["skipped"]) == files

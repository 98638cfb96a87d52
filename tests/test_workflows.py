"""The workflows and the action's metadata: least privilege, pinned actions, and release rules.

The self-test workflow's steps run here too, in the workflow's order, with the same scripts:
`LocalJob` plays the runner's part, and only the step that starts the index in the service
container is replaced by the same index as a local process behind a TLS relay.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from passlib.apache import HtpasswdFile

from tests.conftest import REPO, parse_output_file
from tests.support.index_server import free_port, wait_until_healthy
from tests.support.secret_sweep import remember_secret, sweep_file
from tests.support.tls_proxy import TlsRelay

WORKFLOWS_DIR = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS_DIR.glob("*.yml"))
SCRIPTS = REPO / ".github" / "scripts"
SHA_PIN = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<sha>[0-9a-f]{40})$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?:#\s*(?P<comment>.*))?$")
VERSION_COMMENT = re.compile(r"^v\d+\.\d+\.\d+\b")
# What a privileged (id-token) job may run: nothing but these, and the action itself.
PUBLISH_JOB_ACTIONS = {"actions/checkout", "actions/download-artifact", "./"}

Workflow = dict[str, Any]
Job = dict[str, Any]
Step = dict[str, Any]


def load(path: Path) -> Workflow:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict), path
    # YAML 1.1 reads the key `on` as a boolean.
    if True in data:
        data["on"] = data.pop(True)
    return data


WORKFLOWS = {path.name: load(path) for path in WORKFLOW_FILES}
ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def jobs(workflow: Workflow) -> dict[str, Job]:
    result: dict[str, Job] = workflow["jobs"]
    return result


def all_jobs() -> Iterator[tuple[str, str, Job]]:
    for name, workflow in WORKFLOWS.items():
        for job_id, job in jobs(workflow).items():
            yield name, job_id, job


def action_name(step: Step) -> str:
    uses: str = step.get("uses", "")
    return uses.split("@")[0]


def triggers(workflow: Workflow) -> dict[str, Any]:
    on = workflow["on"]
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    assert isinstance(on, dict)
    return on


# -- every workflow ---------------------------------------------------------------------------------


def test_the_workflows_of_the_release_process_exist() -> None:
    assert {"ci.yml", "publish.yml", "testpypi.yml", "self-test.yml"} <= set(WORKFLOWS)


# Each rule returns what is wrong with one workflow (parsed, and its text for comments).
Rule = Callable[[Workflow, str], list[str]]
SECRETS_CONTEXT = re.compile(r"(?<![\w.-])secrets\.")


def workflow_jobs(workflow: Workflow) -> Iterator[tuple[str, Job]]:
    yield from jobs(workflow).items()


def workflow_steps(workflow: Workflow) -> Iterator[tuple[str, Step]]:
    for job_id, job in workflow_jobs(workflow):
        for step in job.get("steps", []):
            yield job_id, step


def foreign_code_triggers(workflow: Workflow, text: str) -> list[str]:
    """Triggers that run with the base repository's token and secrets for a fork's code."""
    return sorted({"pull_request_target", "workflow_run"} & set(triggers(workflow)))


def default_permissions(workflow: Workflow, text: str) -> list[str]:
    permissions = workflow.get("permissions")
    return [] if permissions == {} else [f"workflow-level permissions: {permissions!r}"]


def job_permissions(workflow: Workflow, text: str) -> list[str]:
    problems = []
    for job_id, job in workflow_jobs(workflow):
        permissions = job.get("permissions")
        if not isinstance(permissions, dict):
            problems.append(f"{job_id}: declares no permissions of its own")
            continue
        for scope, level in permissions.items():
            allowed = {"read", "none", "write"} if scope == "id-token" else {"read", "none"}
            if level not in allowed:
                problems.append(f"{job_id}: {scope}: {level}")
    return problems


def id_token_jobs(workflow: Workflow, text: str) -> list[str]:
    """A job that can mint a token has an environment, publishes a build job's files, runs no script."""
    problems = []
    for job_id, job in workflow_jobs(workflow):
        if (job.get("permissions") or {}).get("id-token") != "write":
            continue
        environment = job.get("environment")
        if not (environment.get("name") if isinstance(environment, dict) else environment):
            problems.append(f"{job_id}: id-token without an environment")
        if not job.get("needs"):
            problems.append(f"{job_id}: id-token in a job that builds what it publishes")
        for step in job.get("steps", []):
            if "run" in step:
                problems.append(f"{job_id}: runs a script next to an id-token")
            elif action_name(step) not in PUBLISH_JOB_ACTIONS:
                problems.append(f"{job_id}: runs {step['uses']} next to an id-token")
    return problems


def run_expressions(workflow: Workflow, text: str) -> list[str]:
    """Values reach scripts through `env:`, so no context can inject shell code."""
    return [f"{job_id}: {step.get('name', step['run'][:40])}"
            for job_id, step in workflow_steps(workflow) if "${{" in step.get("run", "")]


def secrets_outside_the_action(workflow: Workflow, text: str) -> list[str]:
    problems = []
    for job_id, job in workflow_jobs(workflow):
        if not SECRETS_CONTEXT.search(yaml.safe_dump(job)):
            continue
        if not job.get("environment"):
            problems.append(f"{job_id}: a secret in a job without an environment")
        outside_steps = {k: v for k, v in job.items() if k != "steps"}
        if SECRETS_CONTEXT.search(yaml.safe_dump(outside_steps)):
            problems.append(f"{job_id}: a secret in the job's own settings")
        for step in job.get("steps", []):
            for key, value in step.items():
                if key == "with":
                    problems += [f"{job_id}: a secret as input `{name}` of {step['uses']}"
                                 for name, given in value.items()
                                 if SECRETS_CONTEXT.search(str(given))
                                 and (action_name(step), name) != ("./", "password")]
                elif SECRETS_CONTEXT.search(yaml.safe_dump(value)):
                    problems.append(f"{job_id}: a secret in a step's `{key}`")
    return problems


def unpinned_actions(workflow: Workflow, text: str) -> list[str]:
    problems = []
    for number, line in enumerate(text.splitlines(), 1):
        match = USES_LINE.match(line)
        if not match or match.group("ref") == "./":
            continue
        ref = match.group("ref")
        if not SHA_PIN.match(ref):
            problems.append(f"line {number}: {ref} is not pinned by a full commit SHA")
        elif not VERSION_COMMENT.match(match.group("comment") or ""):
            problems.append(f"line {number}: say which release {ref} is, e.g. `# v1.2.3`")
    return problems


def persisted_credentials(workflow: Workflow, text: str) -> list[str]:
    return [f"{job_id}: checkout keeps the token in .git/config"
            for job_id, step in workflow_steps(workflow)
            if action_name(step) == "actions/checkout"
            and (step.get("with") or {}).get("persist-credentials") is not False]


RULES: dict[str, Rule] = {rule.__name__: rule for rule in (
    foreign_code_triggers, default_permissions, job_permissions, id_token_jobs, run_expressions,
    secrets_outside_the_action, unpinned_actions, persisted_credentials)}

PIN = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1"
BREAKS = {
    "foreign_code_triggers": "on: pull_request_target\npermissions: {}\njobs: {}\n",
    "default_permissions": "on: push\njobs: {}\n",
    "job_permissions": "on: push\npermissions: {}\njobs:\n  a:\n    permissions:\n"
                       "      contents: write\n    steps: []\n",
    "id_token_jobs": "on: push\npermissions: {}\njobs:\n  a:\n    needs: b\n    environment: pypi\n"
                     "    permissions:\n      id-token: write\n    steps:\n"
                     "      - run: python -m build\n",
    "run_expressions": "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n"
                       "      - run: echo \"${{ github.event.head_commit.message }}\"\n",
    "secrets_outside_the_action": "on: push\npermissions: {}\njobs:\n  a:\n    environment: pypi\n"
                                  "    steps:\n      - run: twine upload dist/*\n        env:\n"
                                  "          TWINE_PASSWORD: ${{ secrets.PYPI_API_TOKEN }}\n",
    "unpinned_actions": "on: push\npermissions: {}\njobs:\n  a:\n    steps:\n"
                        "      - uses: actions/checkout@v4\n"
                        f"      - uses: {PIN}\n",
    "persisted_credentials": f"on: push\npermissions: {{}}\njobs:\n  a:\n    steps:\n      - uses: {PIN}"
                             " # v7.0.1\n",
}


@pytest.mark.parametrize("rule", sorted(RULES))
@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_every_workflow_keeps_every_rule(rule: str, name: str) -> None:
    assert RULES[rule](WORKFLOWS[name], (WORKFLOWS_DIR / name).read_text()) == []


@pytest.mark.parametrize("rule", sorted(RULES))
def test_each_rule_catches_what_it_is_for(rule: str, tmp_path: Path) -> None:
    path = tmp_path / "bad.yml"
    path.write_text(BREAKS[rule])
    problems = RULES[rule](load(path), BREAKS[rule])
    assert problems
    if rule == "unpinned_actions":
        assert len(problems) == 2  # a tag, and a SHA without its version


def test_only_the_publish_jobs_can_mint_a_token() -> None:
    privileged = {(name, job_id) for name, job_id, job in all_jobs()
                  if job["permissions"].get("id-token") == "write"}
    assert privileged == {("publish.yml", "publish"), ("testpypi.yml", "publish")}
    for name, _ in privileged:
        assert "id-token" not in jobs(WORKFLOWS[name])["build"]["permissions"]


def test_each_action_is_pinned_to_the_same_release_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOW_FILES:
        for line in path.read_text().splitlines():
            match = USES_LINE.match(line)
            if match and match.group("ref") != "./":
                action, sha = match.group("ref").split("@")
                pins.setdefault(action, set()).add(f"{sha} {match.group('comment')}")
    assert {action: len(versions) for action, versions in pins.items()} == dict.fromkeys(pins, 1)


def test_every_job_has_a_timeout() -> None:
    for name, job_id, job in all_jobs():
        assert 0 < job["timeout-minutes"] <= 60, f"{name}:{job_id}"


# -- the release ----------------------------------------------------------------------------------


def github_filter_matches(pattern: str, ref: str) -> bool:
    """GitHub's filter pattern subset the workflows use: `*`, `[0-9]` and `+` (one or more)."""
    regex = ""
    for token in re.findall(r"\[[^\]]+\]\+?|\*|.\+?", pattern):
        if token == "*":
            regex += "[^/]*"
        elif token.startswith("["):
            regex += token
        else:
            regex += re.escape(token[0]) + ("+" if token.endswith("+") and len(token) == 2 else "")
    return re.fullmatch(regex, ref) is not None


def runs_for_tag(patterns: list[str], tag: str) -> bool:
    result = False
    for pattern in patterns:
        if pattern.startswith("!"):
            result = result and not github_filter_matches(pattern[1:], tag)
        else:
            result = result or github_filter_matches(pattern, tag)
    return result


@pytest.mark.parametrize(("tag", "publishes"), [
    ("v1.2.3", True), ("v0.1.0rc1", True), ("v10.0.0", True),
    ("v1", False), ("v12", False), ("1.2.3", False), ("release-1.2.3", False),
])
def test_publish_runs_for_release_tags_and_not_for_the_moving_major_tag(
    tag: str, publishes: bool
) -> None:
    on = triggers(WORKFLOWS["publish.yml"])
    assert set(on) == {"push"}
    assert set(on["push"]) == {"tags"}
    assert runs_for_tag(on["push"]["tags"], tag) is publishes


def test_publish_runs_once_per_tag_and_is_never_cancelled_half_way() -> None:
    concurrency = WORKFLOWS["publish.yml"]["concurrency"]
    assert "github.ref" in concurrency["group"]
    assert concurrency["cancel-in-progress"] is False


def test_publish_builds_in_one_job_and_uploads_in_another_from_the_pypi_environment() -> None:
    build, publish = (jobs(WORKFLOWS["publish.yml"])[j] for j in ("build", "publish"))
    scripts = " ".join(step.get("run", "") for step in build["steps"])
    assert "python -m build --sdist --wheel" in scripts
    assert "--require-hashes" in scripts
    assert publish["environment"]["name"] == "pypi"
    assert publish["permissions"] == {"contents": "read", "id-token": "write"}
    action = next(step for step in publish["steps"] if action_name(step) == "./")
    # The token when the secret exists, Trusted Publishing when it does not.
    assert action["with"]["password"] == "${{ secrets.PYPI_API_TOKEN }}"
    assert action["with"]["build"] == "false"
    assert "expected-version" not in action["with"]  # the pushed tag's version


def test_testpypi_rehearsal_publishes_a_fresh_dev_version_and_tolerates_reruns() -> None:
    workflow = WORKFLOWS["testpypi.yml"]
    assert set(triggers(workflow)) <= {"workflow_dispatch", "push"}
    build, publish = jobs(workflow)["build"], jobs(workflow)["publish"]
    version_step = next(step for step in build["steps"] if step.get("id") == "version")
    assert "dev_version.py" in version_step["run"]
    assert build["outputs"]["version"] == "${{ steps.version.outputs.version }}"
    assert publish["environment"]["name"] == "testpypi"
    action = next(step for step in publish["steps"] if action_name(step) == "./")
    assert action["with"]["repository"] == "testpypi"
    assert action["with"]["skip-existing"] == "true"
    assert action["with"]["expected-version"] == "${{ needs.build.outputs.version }}"


def test_build_tools_are_locked_with_hashes() -> None:
    lock = (REPO / ".github" / "requirements" / "build.txt").read_text()
    requirements = re.findall(r"^([A-Za-z0-9_.-]+)==\S+", lock, flags=re.M)
    assert "build" in requirements
    assert lock.count("--hash=sha256:") >= len(requirements)


def test_ci_runs_the_ci_script_on_every_supported_python() -> None:
    job = jobs(WORKFLOWS["ci.yml"])["test"]
    versions = job["strategy"]["matrix"]["python"]
    pyproject = (REPO / "pyproject.toml").read_text()
    minimum = re.search(r'requires-python = ">=(3\.\d+)"', pyproject)
    assert minimum is not None
    assert versions[0] == minimum.group(1)
    assert [int(v.split(".")[1]) for v in versions] == list(
        range(int(versions[0].split(".")[1]), int(versions[-1].split(".")[1]) + 1))
    assert any(step.get("run") == "bash .ci/run" for step in job["steps"])
    assert "bash .ci/lint" in (REPO / ".ci" / "run").read_text()


def test_self_test_runs_on_every_push_and_pull_request() -> None:
    assert triggers(WORKFLOWS["self-test.yml"]) == {"push": None, "pull_request": None}


def test_dependabot_keeps_pip_docker_and_actions_current() -> None:
    config = yaml.safe_load((REPO / ".github" / "dependabot.yml").read_text())
    updates = {u["package-ecosystem"]: u for u in config["updates"]}
    assert set(updates) == {"pip", "docker", "github-actions"}
    for update in updates.values():
        for directory in update.get("directories", [update.get("directory")]):
            assert (REPO / directory.lstrip("/")).is_dir(), directory
        assert update["cooldown"]["default-days"] >= 7
    assert "/.github/requirements" in updates["pip"]["directories"]


# -- the action's metadata ------------------------------------------------------------------------


def test_the_action_runs_its_own_image_built_or_pinned_by_digest() -> None:
    runs = ACTION["runs"]
    assert runs["using"] == "docker"
    image = runs["image"]
    assert image == "Dockerfile" or re.fullmatch(r"docker://[^@\s]+@sha256:[0-9a-f]{64}", image)
    assert "args" not in runs  # inputs reach the container as INPUT_* only, never as argv


def test_the_action_asks_for_no_secret_it_is_not_given() -> None:
    for name, spec in ACTION["inputs"].items():
        assert "${{" not in str(spec.get("default", "")), name
        assert spec.get("required", False) is False, name
    assert ACTION["inputs"]["password"]["default"] == ""


def test_the_action_has_the_documented_outputs() -> None:
    assert list(ACTION["outputs"]) == ["version", "files", "uploaded", "skipped",
                                       "repository-url", "auth"]


# -- the scripts the workflows run ----------------------------------------------------------------


def script_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEV_VERSION = script_module("dev_version")


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
    result = selftest("prepare", "--dir", str(tmp_path / "st"), "--host", "pypiserver",
                      "--host", "localhost", env={**os.environ, "GITHUB_OUTPUT": str(output)})
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


@pytest.mark.parametrize("host", ["pypiserver", "localhost"])
def test_selftest_certificate_passes_strict_verification_for_each_host(
    prepared: Prepared, host: str
) -> None:
    directory, outputs = prepared.directory, prepared.outputs
    assert outputs["ca-file"] == str(directory / "ca.pem")
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(directory / "server.pem", directory / "server.key")
    client = ssl.create_default_context(cafile=outputs["ca-file"])
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    back_in, back_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client_side = client.wrap_bio(incoming, outgoing, server_hostname=host)
    server_side = server.wrap_bio(back_in, back_out, server_side=True)
    for _ in range(10):  # a handshake takes a few round trips
        for side in (client_side, server_side):
            with contextlib.suppress(ssl.SSLWantReadError):
                side.do_handshake()
        back_in.write(outgoing.read())
        incoming.write(back_out.read())
    client_side.do_handshake()
    assert client_side.getpeercert() is not None


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


@dataclass
class LocalJob:
    """Runs one job's steps in order as the runner would: expressions, env, outputs, outcomes."""

    job: Job
    workspace: Path
    temp: Path
    env: dict[str, str] = field(default_factory=dict)
    results: dict[str, StepResult] = field(default_factory=dict)
    failed: bool = False
    server: subprocess.Popen[bytes] | None = None
    relay: TlsRelay | None = None

    def __post_init__(self) -> None:
        self.env = {k: str(v) for k, v in self.job.get("env", {}).items()}

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
        if expression == "runner.temp":
            return str(self.temp)
        if expression == "job.services.pypiserver.id":
            return "local"
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
            elif match := re.fullmatch(r"steps\.([\w-]+)\.outcome != '(\w+)'", term):
                result = result and self.results[match.group(1)].outcome != match.group(2)
            else:
                raise AssertionError(f"the local run does not know the condition `{term}`")
        return result

    # -- steps ----------------------------------------------------------------------------------
    def step_env(self, step: Step) -> dict[str, str]:
        """This machine's environment less anything of a runner or a credential, and the step's."""
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_"))
               and k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE",
                             "PYPI_API_TOKEN", "TWINE_USERNAME", "TWINE_PASSWORD")}
        # `python3` in a step is the Python running the tests.
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        number = len(self.results)
        env.update({
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(self.temp / f"output-{number}"),
            "GITHUB_STEP_SUMMARY": str(self.temp / f"summary-{number}"),
            "RUNNER_TEMP": str(self.temp),
            # As on a release tag push, whose version is not the sample project's.
            "GITHUB_REF": "refs/tags/v0.0.1", "GITHUB_REF_TYPE": "tag", "GITHUB_REF_NAME": "v0.0.1",
        })
        env.update(self.env)
        env.update({k: self.evaluate(v) for k, v in step.get("env", {}).items()})
        return env

    def execute(self, command: list[str], env: dict[str, str]) -> StepResult:
        proc = subprocess.run(command, cwd=self.workspace, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        # Into pytest's capture, where the secrets sweep reads it.
        sys.stdout.write(proc.stdout + proc.stderr)
        output = Path(env["GITHUB_OUTPUT"])
        outputs = parse_output_file(output.read_text()) if output.exists() else {}
        return StepResult("success" if proc.returncode == 0 else "failure", outputs,
                          proc.stdout + proc.stderr)

    def run_script(self, step: Step, script: str) -> StepResult:
        # The runner's `bash` shell.
        return self.execute(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                            self.step_env(step))

    def run_action(self, step: Step) -> StepResult:
        """A Docker action step: the inputs as INPUT_<NAME> (hyphens kept), the entrypoint run."""
        assert step["uses"] == "./", f"the local run runs only this action, not {step['uses']}"
        env = self.step_env(step)
        # The credentials step outputs the token by design; the action's files must never.
        sweep_file(Path(env["GITHUB_OUTPUT"]))
        sweep_file(Path(env["GITHUB_STEP_SUMMARY"]))
        env.update({f"INPUT_{name.upper()}": self.evaluate(value)
                    for name, value in step.get("with", {}).items()})
        return self.execute([sys.executable, str(REPO / "entrypoint.py")], env)

    def start_index_here(self, step: Step) -> StepResult:
        """The `index` step without docker: the same index as a process, TLS by a relay."""
        args = shlex.split(step["run"].replace("$RUNNER_TEMP", str(self.temp)))
        directory = Path(args[args.index("--dir") + 1])
        port = free_port()
        with (self.temp / "index.log").open("wb") as log:
            self.server = subprocess.Popen(
                [sys.executable, str(self.workspace / ".github/scripts/selftest.py"), "serve",
                 "--dir", str(directory), "--port", str(port)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until_healthy(f"http://127.0.0.1:{port}/health", self.server)
        self.relay = TlsRelay(port, directory / "server.pem", directory / "server.key").__enter__()
        url = f"https://localhost:{self.relay.port}/"
        self.env.update({"INDEX_URL": url, "HOST_INDEX_URL": url})
        # What start-index does once the server runs, through the relay.
        return self.run_script(step, shlex.join(
            ["python3", ".github/scripts/selftest.py", "wait-index", url + "health",
             "--ca", str(directory / "ca.pem"), "--timeout", "30"]))

    def run(self) -> None:
        for step in self.job["steps"]:
            step_id = step.get("id", f"step-{len(self.results)}")
            if step.get("uses", "").startswith("actions/checkout@"):
                continue  # the workspace is already a copy of the checkout
            if not self.condition(step.get("if")):
                self.results[step_id] = StepResult("skipped")
                continue
            if step_id == "index":
                result = self.start_index_here(step)
            elif "job.services.pypiserver.id" in yaml.safe_dump(step):
                log = self.temp / "index.log"
                result = StepResult("success", log=log.read_text() if log.exists() else "")
            elif "run" in step:
                result = self.run_script(step, step["run"])
            else:
                result = self.run_action(step)
            self.results[step_id] = result
            if result.outcome == "failure" and not step.get("continue-on-error", False):
                self.failed = True

    def stop(self) -> None:
        if self.relay is not None:
            self.relay.__exit__(None, None, None)
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=10)


@pytest.fixture(scope="module")
def self_test_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalJob]:
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


def test_self_test_workflow_passes_here(self_test_run: LocalJob) -> None:
    failed = {k: r.log[-3000:] for k, r in self_test_run.results.items()
              if r.outcome == "failure" and k not in ("wrong-token", "wrong-version")}
    assert not failed
    assert not self_test_run.failed
    ran = {k for k, r in self_test_run.results.items() if r.outcome != "skipped"}
    assert {"dry-run", "credentials", "index", "wrong-token", "wrong-version", "upload",
            "rerun"} <= ran


def test_self_test_failing_steps_fail_for_the_reason_they_stand_for(
    self_test_run: LocalJob,
) -> None:
    results = self_test_run.results
    assert results["wrong-token"].outcome == "failure"
    assert "::error title=Authentication failed::" in results["wrong-token"].log
    assert results["wrong-version"].outcome == "failure"
    assert "9.9.9" in results["wrong-version"].log


def test_self_test_leaves_the_release_on_the_index(self_test_run: LocalJob) -> None:
    packages = self_test_run.temp / "selftest" / "packages"
    files = json.loads(self_test_run.results["upload"].outputs["files"])
    assert sorted(p.name for p in packages.iterdir()) == sorted(files)
    assert json.loads(self_test_run.results["rerun"].outputs["skipped"]) == files


# -- release engineering ------------------------------------------------------------------------


def test_the_package_states_one_version() -> None:
    pyproject_version = DEV_VERSION.project_version((REPO / "pyproject.toml").read_text())
    init = (REPO / "src" / "pypi_publish" / "__init__.py").read_text()
    assert f'__version__ = "{pyproject_version}"' in init


def test_the_changelog_leads_with_unreleased_changes_or_the_current_version() -> None:
    headings = re.findall(r"^## (.+)$", (REPO / "CHANGELOG.md").read_text(), flags=re.M)
    version = DEV_VERSION.project_version((REPO / "pyproject.toml").read_text())
    assert headings
    assert headings[0] == "Unreleased" or headings[0].startswith(f"{version} - ")
    for heading in headings[1:]:
        assert re.fullmatch(r"\d+\.\d+\.\d+\S* - \d{4}-\d{2}-\d{2}", heading), heading


@pytest.mark.parametrize("document", ["RELEASING.md", "README.md"])
def test_the_release_documents_name_files_that_exist(document: str) -> None:
    text = (REPO / document).read_text()
    paths = set(re.findall(r"`((?:\.github|\.ci|scripts|src|tests|docker)/[\w./-]+)`", text))
    paths |= set(re.findall(r"`(\w+\.(?:yml|md|toml))`", text)) - {"dependabot.yml"}
    assert paths
    for path in sorted(paths):
        exists = (REPO / path).exists() or (WORKFLOWS_DIR / path).exists()
        assert exists, f"{document} names `{path}`, which does not exist"


# pypa/gh-action-pypi-publish's defaults as of its v1.14.0, which the README compares with.
PYPA_DEFAULTS = {"user": "__token__", "repository-url": "https://upload.pypi.org/legacy/",
                 "packages-dir": "dist", "verify-metadata": "true", "skip-existing": "false",
                 "verbose": "true", "print-hash": "true"}


def test_the_migration_notes_name_every_default_that_differs_from_the_pypa_action() -> None:
    differing = sorted(name for name, default in PYPA_DEFAULTS.items()
                       if ACTION["inputs"][name].get("default", "") != default)
    notes = (REPO / "README.md").read_text()
    named = re.search(r"same names, meanings and defaults, except\s+`([\w-]+)`", notes)
    assert named is not None
    assert differing == [named.group(1)]

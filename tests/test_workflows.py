"""The workflows: least privilege, pinned actions, and the rules of the release."""


from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.support.workflows import (
    PUBLISH_JOB_ACTIONS,
    SHA_PIN,
    USES_LINE,
    VERSION_COMMENT,
    WORKFLOW_FILES,
    WORKFLOWS,
    WORKFLOWS_DIR,
    Job,
    Step,
    Workflow,
    action_name,
    all_jobs,
    jobs,
    load,
    triggers,
)

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

"""What the workflow tests share: the parsed workflows and action.yml, and the workflows' scripts."""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from tests.conftest import REPO

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



def script_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEV_VERSION = script_module("dev_version")

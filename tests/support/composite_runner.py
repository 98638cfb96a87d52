"""Runs action.yml's composite steps the way the Actions runner runs them, on this machine.

What it repeats of actions/runner (src/Runner.Worker/Handlers/CompositeActionHandler.cs): each
embedded step's `env` context is the job's environment merged with the calling step's `env:`,
then the step's own `env:` evaluated against it; `if:` is evaluated per step (a false one is
skipped); `GITHUB_ACTION_PATH` is the action's directory; the action's `outputs.*.value`
expressions are evaluated against the steps' outputs at the end. A script step
(Handlers/ScriptHandler.cs) runs with the machine's environment plus that `env` context and the
`github`/`runner` contexts' variables, its script in a file under RUNNER_TEMP, and its own
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files under `_runner_file_commands`. Expressions are
evaluated once: a value that contains `${{` is data, never evaluated again.

Only the expression forms action.yml uses are known; anything else fails the test loudly.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import Run, parse_output_file
from tests.support.secret_sweep import sweep_file

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)
TOKEN = re.compile(r"\s*(?:(\|\||==|!=|\(|\))|'((?:[^']|'')*)'|([A-Za-z_][A-Za-z0-9_.-]*))")
# How the runner starts each shell (ScriptHandlerHelpers.GetScriptArgumentsFormat).
SHELLS = {"sh": ["sh", "-e"], "bash": ["bash", "--noprofile", "--norc", "-eo", "pipefail"]}


class Unknown(AssertionError):
    """An expression form or context the harness does not know: extend it, or change action.yml."""


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens, position = [], 0
    while position < len(text.rstrip()):
        match = TOKEN.match(text, position)
        if not match:
            raise Unknown(f"cannot read the expression `{text}` at {position}")
        operator, literal, name = match.groups()
        if operator:
            tokens.append(("op", operator))
        elif literal is not None:
            tokens.append(("str", literal.replace("''", "'")))
        else:
            tokens.append(("name", name))
        position = match.end()
    return tokens


def truthy(value: Any) -> bool:
    return value not in ("", None, False, 0)


@dataclass
class Evaluator:
    """The runner's expression language, as far as action.yml uses it."""

    contexts: Mapping[str, Any]

    def evaluate(self, text: str) -> Any:
        self.tokens = _tokens(text)
        self.position = 0
        value = self._or()
        if self.position != len(self.tokens):
            raise Unknown(f"unexpected `{self.tokens[self.position][1]}` in `{text}`")
        return value

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _take(self) -> tuple[str, str]:
        token = self.tokens[self.position]
        self.position += 1
        return token

    def _or(self) -> Any:
        value = self._compare()
        while self._peek() == ("op", "||"):
            self._take()
            other = self._compare()
            value = value if truthy(value) else other
        return value

    def _compare(self) -> Any:
        left = self._primary()
        token = self._peek()
        if token in (("op", "=="), ("op", "!=")):
            self._take()
            right = self._primary()
            # The runner compares strings ignoring case.
            same = str(left).casefold() == str(right).casefold()
            return same if token[1] == "==" else not same
        return left

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return text
        if kind == "name" and self._peek() == ("op", "("):
            self._take()
            argument = self._or()
            if self._take() != ("op", ")"):
                raise Unknown(f"`{text}(` is not closed")
            if text.lower() != "tojson":
                raise Unknown(f"the function `{text}`")
            return json.dumps(argument, indent=2)
        if kind == "name":
            return self._lookup(text)
        raise Unknown(f"`{text}` where a value belongs")

    def _lookup(self, path: str) -> Any:
        head, *rest = path.split(".")
        if head not in self.contexts:
            raise Unknown(f"the context `{head}`")
        value: Any = self.contexts[head]
        for part in rest:
            # A missing property is null, which reads as an empty string.
            value = value.get(part, "") if isinstance(value, Mapping) else ""
        return "" if value is None else value

    def interpolate(self, text: object) -> str:
        """A template's `${{ }}` parts replaced by their values, each evaluated once."""
        def value(match: re.Match[str]) -> str:
            result = self.evaluate(match.group(1))
            if isinstance(result, bool):
                return "true" if result else "false"
            return str(result)
        return EXPRESSION.sub(value, str(text))


@dataclass
class StepRun:
    outcome: str
    returncode: int = 0
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class CompositeResult(Run):
    steps: dict[str, StepRun] = field(default_factory=dict)


@dataclass
class CompositeRunner:
    """One job on this machine: its workspace, RUNNER_TEMP, the machine's environment and OS."""

    action_dir: Path
    workspace: Path
    temp: Path
    machine_env: dict[str, str]
    runner_os: str = "Linux"
    job_network: str = ""
    job_container: str = ""
    # The `github` context's variables besides the paths (GITHUB_REF, GITHUB_REPOSITORY, ...).
    github_env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.action = yaml.safe_load((self.action_dir / "action.yml").read_text())
        self.commands = self.temp / "_runner_file_commands"
        self.workflow = self.temp / "_github_workflow"
        for directory in (self.commands, self.workflow):
            directory.mkdir(parents=True, exist_ok=True)
        event = self.workflow / "event.json"
        if not event.exists():
            event.write_text("{}")

    def inputs(self, given: Mapping[str, str]) -> dict[str, str]:
        declared = self.action["inputs"]
        unknown = set(given) - set(declared)
        if unknown:
            raise Unknown(f"inputs action.yml does not declare: {sorted(unknown)}")
        return {name: str(given.get(name, spec.get("default", ""))) for name, spec in declared.items()}

    def runtime_env(self, step_id: str) -> dict[str, str]:
        """The `github` and `runner` contexts' variables for one step (new file commands each)."""
        output = sweep_file(self.commands / f"set_output_{uuid.uuid4()}")
        summary = sweep_file(self.commands / f"step_summary_{uuid.uuid4()}")
        output.touch()
        summary.touch()
        return {
            "GITHUB_ACTIONS": "true", "CI": "true",
            "GITHUB_ACTION": step_id, "GITHUB_ACTION_PATH": str(self.action_dir),
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_OUTPUT": str(output), "GITHUB_STEP_SUMMARY": str(summary),
            "GITHUB_EVENT_PATH": str(self.workflow / "event.json"),
            "RUNNER_TEMP": str(self.temp), "RUNNER_OS": self.runner_os,
            **self.github_env,
        }

    def run(self, given: Mapping[str, str], env: Mapping[str, str] | None = None,
            timeout: float = 600) -> CompositeResult:
        """The action as one step of a job: `with:` is `given`, the step's `env:` is `env`."""
        inputs = self.inputs(given)
        env_context = dict(env or {})
        contexts: dict[str, Any] = {
            "inputs": inputs, "env": env_context,
            "runner": {"os": self.runner_os, "temp": str(self.temp)},
            "job": {"container": {"network": self.job_network, "id": self.job_container}},
            "github": {"action_path": str(self.action_dir), "workspace": str(self.workspace)},
            "steps": {},
        }
        result = CompositeResult(0, "", "", {}, "")
        failed = False
        for number, step in enumerate(self.action["runs"]["steps"]):
            step_id = step.get("id", f"__{number}")
            evaluator = Evaluator(contexts)
            if not truthy(evaluator.evaluate(step["if"]) if "if" in step else not failed):
                result.steps[step_id] = StepRun("skipped")
                contexts["steps"][step_id] = {"outputs": {}, "outcome": "skipped"}
                continue
            step_env = {name: evaluator.interpolate(value) for name, value in step.get("env", {}).items()}
            ran = self.script(step_id, step, {**env_context, **step_env}, result, timeout)
            result.steps[step_id] = ran
            contexts["steps"][step_id] = {"outputs": ran.outputs, "outcome": ran.outcome}
            if ran.outcome == "failure":
                failed = True
                result.returncode = result.returncode or ran.returncode
        final = Evaluator(contexts)
        result.outputs = {name: final.interpolate(spec["value"])
                          for name, spec in self.action.get("outputs", {}).items()}
        return result

    def script(self, step_id: str, step: Mapping[str, Any], env: Mapping[str, str],
               result: CompositeResult, timeout: float) -> StepRun:
        shell = step["shell"]
        if shell not in SHELLS:
            raise Unknown(f"the shell `{shell}` (this machine runs {sorted(SHELLS)})")
        script = self.temp / f"{uuid.uuid4()}.sh"
        script.write_text(step["run"])
        runtime = self.runtime_env(step_id)
        process_env = {**self.machine_env, **env, **runtime}
        proc = subprocess.run([*SHELLS[shell], str(script)], cwd=self.workspace, env=process_env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        # Into pytest's capture, so the secrets sweep sees everything the step printed.
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        result.stdout += proc.stdout
        result.stderr += proc.stderr
        summary = Path(runtime["GITHUB_STEP_SUMMARY"])
        result.summary += summary.read_text() if summary.exists() else ""
        outputs = parse_output_file(Path(runtime["GITHUB_OUTPUT"]).read_text())
        return StepRun("success" if proc.returncode == 0 else "failure", proc.returncode, outputs)


def machine_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This machine's environment as a runner's would be: nothing of a runner or a credential."""
    keep = {k: v for k, v in os.environ.items()
            if not k.startswith(("GITHUB_", "INPUT_", "ACTIONS_", "RUNNER_", "PYPI_PUBLISH_"))
            and k not in ("PYPI_API_TOKEN", "TWINE_USERNAME", "TWINE_PASSWORD",
                          "TWINE_REPOSITORY_URL", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
                          "SSL_CERT_FILE", "VIRTUAL_ENV", "pythonLocation")}
    keep.update(extra or {})
    return keep

"""The runner stand-in for composite actions: its expressions, conditions, env and outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.composite_runner import CompositeRunner, Evaluator, Unknown, machine_env

CONTEXTS = {"inputs": {"repository-url": "u", "empty": ""}, "runner": {"os": "Linux"},
            "steps": {"a": {"outputs": {"x": ""}}, "b": {"outputs": {"x": "from b"}}},
            "env": {"A": "1"}, "job": {"container": {"network": ""}}}


@pytest.mark.parametrize(("expression", "value"), [
    ("inputs.repository-url", "u"),
    ("runner.os == 'linux'", True),  # the runner compares strings ignoring case
    ("runner.os != 'Windows'", True),
    ("steps.a.outputs.x || steps.b.outputs.x", "from b"),
    ("steps.missing.outputs.x", ""),
    ("'it''s'", "it's"),
])
def test_the_expressions_action_yml_uses_evaluate_as_on_the_runner(expression: str, value: object) -> None:
    assert Evaluator(CONTEXTS).evaluate(expression) == value


def test_to_json_gives_the_context_as_json() -> None:
    assert json.loads(Evaluator(CONTEXTS).evaluate("toJSON(env)")) == {"A": "1"}


def test_a_value_holding_an_expression_is_not_evaluated_again() -> None:
    contexts = {**CONTEXTS, "inputs": {"x": "${{ runner.os }}"}}
    assert Evaluator(contexts).interpolate("<${{ inputs.x }}>") == "<${{ runner.os }}>"


def test_an_unknown_context_or_function_fails_loudly() -> None:
    with pytest.raises(Unknown):
        Evaluator(CONTEXTS).evaluate("secrets.TOKEN")
    with pytest.raises(Unknown):
        Evaluator(CONTEXTS).evaluate("hashFiles('x')")


ACTION = """\
inputs:
  name:
    default: "world"
outputs:
  greeting:
    value: ${{ steps.first.outputs.greeting || steps.second.outputs.greeting }}
runs:
  using: composite
  steps:
    - id: first
      if: runner.os != 'Windows'
      shell: sh
      env:
        NAME: ${{ inputs.name }}
        SEEN: ${{ toJSON(env) }}
      run: |
        printf 'greeting=hello %s\\n' "$NAME" >> "$GITHUB_OUTPUT"
        printf '%s' "$SEEN" > seen.json
    - id: second
      if: runner.os == 'Windows'
      shell: sh
      run: exit 1
"""


@pytest.fixture
def runner(tmp_path: Path) -> CompositeRunner:
    action = tmp_path / "action"
    action.mkdir()
    (action / "action.yml").write_text(ACTION)
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    return CompositeRunner(action, workspace, tmp_path / "temp", machine_env())


def test_steps_run_or_skip_by_their_condition_and_outputs_are_mapped(runner: CompositeRunner) -> None:
    run = runner.run({"name": "octocat"})
    assert run.returncode == 0, run.text
    assert run.outputs == {"greeting": "hello octocat"}
    assert {k: v.outcome for k, v in run.steps.items()} == {"first": "success", "second": "skipped"}


def test_defaults_fill_inputs_not_given(runner: CompositeRunner) -> None:
    assert runner.run({}).outputs == {"greeting": "hello world"}


def test_the_env_context_is_the_calling_steps_env(runner: CompositeRunner) -> None:
    runner.run({}, env={"FROM_THE_WORKFLOW": "yes"})
    assert json.loads((runner.workspace / "seen.json").read_text()) == {"FROM_THE_WORKFLOW": "yes"}


def test_an_input_the_action_does_not_declare_is_refused(runner: CompositeRunner) -> None:
    with pytest.raises(Unknown):
        runner.run({"nmae": "typo"})

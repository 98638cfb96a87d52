"""The README tells the truth: set-up commands, --help text, examples, inputs and outputs tables."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pypi_publish.config import ACTION_INPUTS, build_parser

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
ACTION = yaml.safe_load((REPO / "action.yml").read_text())


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_first_two_commands_run_the_product_and_the_tests() -> None:
    first_block = code_blocks("bash")[0].strip().splitlines()
    assert first_block == [
        "python3 -m pip install . && python3 scripts/publish_to_pypi.py --dry-run",
        "bash scripts/dev-env && .venv/bin/python -m pytest",
    ]
    assert first_block[1] in (REPO / ".ci" / "run").read_text()


def test_help_text_in_readme_matches_the_program() -> None:
    block = next(b for b in code_blocks("text") if b.startswith("$ pypi-publish --help"))
    expected = block.split("\n", 1)[1].rstrip("\n")
    env = {**os.environ, "COLUMNS": "100"}
    actual = subprocess.run(
        [sys.executable, "-c", "import sys; from pypi_publish.cli import main; sys.exit(main())",
         "--help"], capture_output=True, text=True, env=env, check=True,
    ).stdout.rstrip("\n")
    assert expected == actual


def test_readme_examples_parse() -> None:
    parser = build_parser()
    examples = [line.split("#")[0].strip() for line in code_blocks("bash")[1].splitlines()]
    assert examples
    for line in filter(None, examples):
        words = shlex.split(line)
        args = words[words.index("pypi-publish") + 1:]
        parser.parse_args(args)


def table_rows(heading: str) -> dict[str, str]:
    section = README.split(heading, 1)[1].split("\n#", 1)[0]
    rows = re.findall(r"^\| `([a-z-]+)` \| ([^|]*) \|", section, flags=re.M)
    return {name: default.strip() for name, default in rows}


def test_inputs_table_matches_action_yml() -> None:
    rows = table_rows("### Inputs")
    assert list(rows) == list(ACTION["inputs"]) == list(ACTION_INPUTS)
    for name, spec in ACTION["inputs"].items():
        default = spec.get("default", "")
        shown = rows[name]
        if default:
            assert shown == f"`{default}`", name
        else:
            assert shown in ("empty", "from the tag"), name


def test_outputs_table_matches_action_yml() -> None:
    assert list(table_rows("### Outputs")) == list(ACTION["outputs"])


@pytest.mark.parametrize("flag", ["--dry-run", "--no-upload", "--skip-build", "--repository",
                                  "--repository-url", "--tag", "--packages-dir", "--project-dir",
                                  "--skip-existing"])
def test_every_seed_flag_is_documented(flag: str) -> None:
    assert flag in README

"""The README matches the code: its set-up commands, the --help text, the tables of inputs,
outputs and messages."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from pypi_publish.action import INPUTS
from pypi_publish.cli import build_parser

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text()
ACTION = yaml.safe_load((REPO / "action.yml").read_text())
# What the product prints: its own words, and the index's, which it quotes (Warehouse's catalogue).
SOURCE = " ".join(p.read_text() for p in [*(REPO / "src" / "pypi_publish").glob("*.py"),
                                          REPO / "tests" / "fakes" / "warehouse_answers.py"])


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def section(heading: str) -> str:
    return README.split(f"\n{heading}\n", 1)[1].split("\n#", 1)[0]


def table(heading: str) -> list[list[str]]:
    """The rows of the first table under `heading`, as cells, the header row left out."""
    rows = [line for line in section(heading).splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[2:]]


def test_the_set_up_commands_are_the_ones_ci_runs() -> None:
    commands = code_blocks("bash")[-1].strip().splitlines()
    assert len(commands) == 2
    product, tests = commands
    # The product's own dry run, in a venv: nothing goes into the system Python.
    assert product.startswith("python3 -m venv .venv && .venv/bin/pip install")
    assert product.endswith(".venv/bin/pypi-publish --dry-run")
    assert tests in (REPO / ".ci" / "run").read_text()
    assert all(" pip install" not in c or ".venv/bin/pip" in c for c in commands)


def test_the_help_text_is_the_programs() -> None:
    block = next(b for b in code_blocks("text") if b.startswith("$ pypi-publish --help"))
    expected = block.split("\n", 1)[1].rstrip("\n")
    env = {**os.environ, "COLUMNS": "100"}
    actual = subprocess.run(
        [sys.executable, "-c", "import sys; from pypi_publish.cli import main; sys.exit(main())",
         "--help"], capture_output=True, text=True, env=env, check=True, timeout=60,
    ).stdout.rstrip("\n")
    assert expected == actual


def test_the_help_texts_examples_parse() -> None:
    parser = build_parser()
    block = next(b for b in code_blocks("text") if b.startswith("$ pypi-publish --help"))
    examples = block.split("examples:", 1)[1].strip().splitlines()
    assert examples
    for line in examples:
        command = re.split(r"\s{2,}", line.strip())[0]  # what follows is the explanation
        words = shlex.split(command)
        parser.parse_args(words[words.index("pypi-publish") + 1:])


def test_the_inputs_table_is_action_yml() -> None:
    rows = {cells[0].strip("`"): cells[1] for cells in table("### Inputs")}
    assert set(rows) == set(ACTION["inputs"]) == set(INPUTS)
    for name, spec in ACTION["inputs"].items():
        default = spec.get("default", "")
        shown = rows[name]
        if default:
            assert shown == f"`{default}`", name
        else:
            assert shown in ("empty", "from the tag", "derived"), name


def test_the_outputs_table_is_action_yml() -> None:
    assert {cells[0].strip("`") for cells in table("### Outputs")} == set(ACTION["outputs"])


def test_each_troubleshooting_message_is_one_the_product_prints() -> None:
    rows = table("## Troubleshooting")
    assert rows
    for cells in rows:
        cell = cells[0]
        span = re.fullmatch(r"(``?) ?(.*?) ?\1(?: \(warning\))?", cell)
        assert span, cell
        message = span.group(2)
        # The fixed words of a message, around placeholders (`…`, X, Y) and the names the product
        # fills in (`PYPI_API_TOKEN`, a file name), must stand in the source as they are.
        for fragment in re.split(r"`[^`]*`|…|\bX\b|\bY\b", message):
            fragment = fragment.strip()
            if len(fragment) > 6:
                assert fragment in SOURCE, (message, fragment)

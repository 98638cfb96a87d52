"""The facts of the run that are not the user's choices: environment, front door, runner, notes."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .wording import Wording


@dataclass(frozen=True)
class Context:
    wording: Wording
    env: Mapping[str, str] = field(repr=False)
    workspace: Path
    in_github_actions: bool = False
    run_attempt: int = 1
    # Notes for the log that the front door found but that are not errors (a tag with no version).
    notices: tuple[str, ...] = ()
    # The action's input names: runners built on act's code also export each one bare.
    input_names: frozenset[str] = frozenset()

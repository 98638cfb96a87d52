"""A project's pyproject.toml, read as data (an absent file reads as an empty table)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any


def load(project: Path) -> Mapping[str, Any]:
    path = project / "pyproject.toml"
    if not path.is_file():
        return {}
    # tomllib from 3.11; before that tomli, which `build` itself requires there.
    module = importlib.import_module("tomllib" if sys.version_info >= (3, 11) else "tomli")
    try:
        table: Mapping[str, Any] = module.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):  # `build` reports a broken file in its own words
        return {}
    return table


def table(data: Mapping[str, Any], *keys: str) -> Mapping[str, Any]:
    """`data[k1][k2]...`, or an empty table where a key is missing or not a table."""
    for key in keys:
        value = data.get(key)
        data = value if isinstance(value, Mapping) else {}
    return data

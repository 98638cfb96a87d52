"""Give the project a development version of its next release, unique to one workflow run.

The TestPyPI rehearsal publishes `<next release>.dev<run id>` (`0.1.0` -> `0.1.1.dev12345678`): a
version no release and no other rehearsal ever takes, and that pip does not install without
`--pre`. It is written into every file that states the version, and set as the step output
`version`, which the publish job passes to the action as `expected-version`.

    python .github/scripts/dev_version.py --number "$GITHUB_RUN_ID" pyproject.toml src/pkg/__init__.py
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from packaging.version import InvalidVersion, Version

# `version = "1.2.3"` in pyproject.toml's [project] table, `__version__ = "1.2.3"` in a module.
ASSIGNMENT = re.compile(r"""^(?P<head>(?:__version__|version)\s*=\s*)(?P<q>["'])(?P<v>[^"']+)(?P=q)""",
                        re.MULTILINE)
PROJECT_TABLE = re.compile(r"^\[project\]\s*$(?P<body>.*?)(?=^\[|\Z)", re.MULTILINE | re.DOTALL)


class VersionError(Exception):
    """The project's version cannot be found or turned into a development version."""


def next_dev_version(current: str, number: int) -> str:
    """The development version of the release after `current`, numbered `number`."""
    try:
        version = Version(current)
    except InvalidVersion:
        raise VersionError(f"`{current}` is not a PEP 440 version.") from None
    if number < 0:
        raise VersionError(f"The development number must not be negative, not {number}.")
    release = ".".join(str(part) for part in version.release)
    if version.pre is not None:
        # 2.0.0rc1 is not out yet: rehearse it, not the release after it.
        return f"{release}{version.pre[0]}{version.pre[1]}.dev{number}"
    if version.dev is not None and version.post is None:
        return f"{release}.dev{number}"
    *head, last = version.release
    return ".".join(str(part) for part in (*head, last + 1)) + f".dev{number}"


def project_version(pyproject_text: str) -> str:
    table = PROJECT_TABLE.search(pyproject_text)
    if table is None:
        raise VersionError("pyproject.toml has no [project] table.")
    match = ASSIGNMENT.search(table.group("body"))
    if match is None:
        raise VersionError("pyproject.toml's [project] table has no static `version`; with a "
                           "dynamic version, set the version through the build backend instead "
                           "(e.g. SETUPTOOLS_SCM_PRETEND_VERSION).")
    return match.group("v")


def replace_version(text: str, current: str, new: str, path: Path) -> str:
    found = [m for m in ASSIGNMENT.finditer(text) if m.group("v") == current]
    if not found:
        raise VersionError(f"{path} states no version `{current}`.")
    return ASSIGNMENT.sub(
        lambda m: m.group("head") + m.group("q") + new + m.group("q") if m.group("v") == current
        else m.group(0),
        text,
    )


def set_dev_version(files: Sequence[Path], number: int) -> str:
    texts = {path: path.read_text(encoding="utf-8") for path in files}
    current = project_version(texts[files[0]])
    new = next_dev_version(current, number)
    updated = {path: replace_version(text, current, new, path) for path, text in texts.items()}
    for path, text in updated.items():
        path.write_text(text, encoding="utf-8")
    return new


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev_version.py", description=__doc__.split("\n")[0])
    parser.add_argument("--number", type=int, required=True, help="e.g. the workflow's run id")
    parser.add_argument("files", nargs="+", type=Path,
                        help="pyproject.toml first, then every other file that states the version")
    args = parser.parse_args(argv)
    try:
        version = set_dev_version(args.files, args.number)
    except (VersionError, OSError) as error:
        print(f"::error title=No development version::{error}")
        return 1
    print(f"Version {version} in {', '.join(str(f) for f in args.files)}.")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with Path(output).open("a", encoding="utf-8") as handle:
            handle.write(f"version={version}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

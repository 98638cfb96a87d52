"""Read-only questions to git about the project's checkout: its commit time, its depth, its tags.

git runs as the build runs (the project's owner when root builds another user's checkout): the
checkout's configuration belongs to the project, and is trusted as far as its build code is and no
further. Every call is bounded in time and reads nothing from stdin.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

TIMEOUT = 30.0


def run_git(project: Path, args: Sequence[str], env: Mapping[str, str],
            owner: tuple[int, int] | None) -> str | None:
    """git's output for `args` in `project`, or None when git is missing or says no."""
    git = shutil.which("git", path=env.get("PATH"))
    if git is None:
        return None
    try:
        done = subprocess.run(
            # A signed HEAD must not make git run the checkout's configured gpg program.
            [git, "-C", str(project), "-c", "log.showSignature=false", *args],
            env=dict(env), stdin=subprocess.DEVNULL, capture_output=True, text=True,
            timeout=TIMEOUT, check=False,
            # An owner is set only when root builds another user's checkout (POSIX alone).
            user=owner[0] if owner else None, group=owner[1] if owner else None,  # posix-only: root
            extra_groups=[] if owner else None,  # posix-only: root only
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def installed(env: Mapping[str, str]) -> bool:
    return shutil.which("git", path=env.get("PATH")) is not None


def commit_time(project: Path, env: Mapping[str, str], owner: tuple[int, int] | None) -> int | None:
    """The committer time of HEAD when `project` is in a git checkout."""
    text = run_git(project, ["log", "-1", "--format=%ct", "HEAD"], env, owner)
    return int(text) if text and text.isascii() and text.isdigit() else None


def is_checkout(project: Path, env: Mapping[str, str], owner: tuple[int, int] | None) -> bool:
    return run_git(project, ["rev-parse", "--is-inside-work-tree"], env, owner) == "true"


def is_shallow(project: Path, env: Mapping[str, str], owner: tuple[int, int] | None) -> bool:
    return run_git(project, ["rev-parse", "--is-shallow-repository"], env, owner) == "true"


def nearest_tag(project: Path, env: Mapping[str, str], owner: tuple[int, int] | None) -> str | None:
    """The closest tag HEAD descends from, or None when no tag is reachable."""
    return run_git(project, ["describe", "--tags", "--abbrev=0", "HEAD"], env, owner)

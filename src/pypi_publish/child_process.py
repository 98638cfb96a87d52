"""Run a command as the leader of its own process group: stdin /dev/null, output streamed, time-bounded.

Whatever the command starts (a build backend, a compiler, an installer) stays in its group, so
one signal at the time bound ends all of it, and whatever it left running is ended when it exits.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# A line longer than this is cut: a backend printing megabytes without a newline must not
# make the parent hold them.
MAX_LINE = 4000
_READ_SIZE = 64 * 1024
# After the command exits, how long its output may still arrive (from what it started).
_DRAIN_SECONDS = 5.0


@dataclass(frozen=True)
class Outcome:
    """How the command ended: its exit code, or None when it was killed at the time bound."""

    returncode: int | None
    seconds: float
    tail: tuple[str, ...]

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


class _Lines:
    """Splits the output into lines for `on_line` and keeps the last few."""

    def __init__(self, on_line: Callable[[str], None], keep: int) -> None:
        self.on_line = on_line
        self.tail: deque[str] = deque(maxlen=keep)
        self._partial = b""

    def feed(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for line in lines:
            self._emit(line)
        if len(self._partial) > MAX_LINE:
            self._emit(self._partial)
            self._partial = b""

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = b""

    def _emit(self, raw: bytes) -> None:
        line = raw[:MAX_LINE].decode("utf-8", errors="replace").rstrip("\r")
        self.tail.append(line)
        self.on_line(line)


def _pump(fd: int, lines: _Lines) -> None:
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, _READ_SIZE):
            lines.feed(chunk)
    lines.close()


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    """End the command and everything in its process group (on Windows: its process tree)."""
    if os.name == "nt":  # pragma: no cover - exercised on Windows runners only
        subprocess.run(["taskkill", "/F", "/T", "/PID", str(child.pid)], capture_output=True,
                       stdin=subprocess.DEVNULL, timeout=30, check=False)
        return
    # The group keeps the leader's id while any member lives, so this reaches only them.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)


def run_bounded(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,
    on_line: Callable[[str], None],
    keep: int = 40,
    user: int | None = None,
    group: int | None = None,
) -> Outcome:
    """Run `command` to its end or to `timeout` seconds, whichever comes first."""
    started = time.monotonic()
    lines = _Lines(on_line, keep)
    posix = os.name != "nt"
    child = subprocess.Popen(
        list(command), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        start_new_session=posix,
        creationflags=0 if posix else getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
        # Set only when root builds another user's checkout, which happens on POSIX alone.
        user=user, group=group, extra_groups=[] if user is not None else None,  # posix-only: root only
    )
    if child.stdout is None:  # cannot happen with stdout=PIPE; keeps the type checker honest
        raise RuntimeError("no output pipe")
    reader = threading.Thread(target=_pump, args=(child.stdout.fileno(), lines), daemon=True,
                              name="child-output")
    reader.start()
    returncode: int | None
    try:
        returncode = child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        returncode = None
    finally:
        _kill_group(child)
        child.wait()
    # A process that left the group may still hold the pipe; do not wait for it forever (and
    # leave the pipe open then: closing it under the blocked reader could hand it another file).
    reader.join(_DRAIN_SECONDS)
    if not reader.is_alive():
        child.stdout.close()
    return Outcome(returncode, time.monotonic() - started, tuple(lines.tail))

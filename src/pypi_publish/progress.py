"""Progress of the local command: live status lines in a terminal, plain phase lines elsewhere.

Live progress (a status block redrawn in place on stderr, as twine and uv draw theirs) is shown
only when stdout and stderr are both terminals, `TERM` is not `dumb`, and the run is neither in
CI (`CI` set) nor in GitHub Actions: a log that is read later gets plain lines only. On Windows,
only in a terminal that says it understands escape sequences (Windows Terminal, or `TERM` set). The log
itself stays on stdout; every line written to it first erases the status block and then redraws
it below, so the two never mix. `NO_COLOR` removes the colours, not the progress.
"""

from __future__ import annotations

import io
import os
import threading
import time
import typing
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TextIO

from .gha import Console

# The builder child marks where its phases start and end with lines that begin with this;
# the parent turns them into progress and never shows them.
PHASE_MARK = "::pypi-publish-phase::"
LARGE_FILE = 1_000_000  # bytes; a smaller file uploads too fast for progress to say anything
REDRAW_INTERVAL = 0.1  # seconds between two redraws caused by bytes sent
TICK = 0.5  # seconds between redraws of a running phase's clock
BAR_WIDTH = 20
_UP = "\x1b[{}A"
_ERASE_DOWN = "\x1b[J"
_CYAN, _GREEN, _RESET = "\x1b[36m", "\x1b[32m", "\x1b[0m"
_OFF_VALUES = ("", "0", "false", "no")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


def live_wanted(env: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> bool:
    """True when progress may be drawn in place: a person is watching a terminal."""
    if env.get("GITHUB_ACTIONS") == "true" or env.get("CI", "").strip().lower() not in _OFF_VALUES:
        return False
    if os.name == "nt" and not (env.get("WT_SESSION") or env.get("TERM")):
        return False  # the classic Windows console shows escape sequences as text
    return env.get("TERM", "") != "dumb" and _isatty(stdout) and _isatty(stderr)


def terminal_out(env: Mapping[str, str], stdout: TextIO, stderr: TextIO) -> TextIO | None:
    """The stream the command's Console should write to for live progress; None when not wanted."""
    if not live_wanted(env, stdout, stderr):
        return None
    colour = "NO_COLOR" not in env or env["NO_COLOR"] == ""  # no-color.org: present and non-empty
    return typing.cast(TextIO, LiveTerminal(stdout, stderr, colour))


def size_text(size: float) -> str:
    """Decimal units, as the log's "Uploaded … (3.1 MB in …)" lines."""
    if size < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def elapsed_text(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes} min {rest:02d} s" if minutes else f"{seconds:.1f} s"


class LiveTerminal(io.TextIOBase):
    """The log (stdout) with a status block kept below it on stderr, both on one terminal.

    One lock orders every write to either stream; status rows are callables that render
    their line when the block is drawn.
    """

    def __init__(self, log: TextIO, status: TextIO, colour: bool,
                 width: Callable[[], int] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.log = log
        self.status = status
        self.colour = colour
        self.clock = clock
        self._width = width or self._terminal_width
        self._lock = threading.RLock()
        self._rows: dict[object, Callable[[], str]] = {}
        self._drawn = 0  # lines of the block now on screen
        self._at_line_start = True
        self._last_draw = float("-inf")
        self._ticker: threading.Thread | None = None
        self._closing = threading.Event()

    # -- the log ---------------------------------------------------------------------------------
    def write(self, text: str) -> int:
        with self._lock:
            self._erase()
            self.log.write(text)
            self.log.flush()
            if text:
                self._at_line_start = text.endswith("\n")
            self._draw()
        return len(text)

    def flush(self) -> None:
        with self._lock:
            self.log.flush()

    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.log.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.log, "encoding", "utf-8") or "utf-8"

    def close(self) -> None:
        self._closing.set()
        with self._lock:
            self._rows.clear()
            self._erase()
        super().close()

    # -- the status block ------------------------------------------------------------------------
    def show(self, key: object, render: Callable[[], str], ticking: bool = False) -> None:
        with self._lock:
            self._rows[key] = render
            self._redraw()
            if ticking and self._ticker is None and not self._closing.is_set():
                self._ticker = threading.Thread(target=self._tick, name="progress", daemon=True)
                self._ticker.start()

    def hide(self, key: object) -> None:
        with self._lock:
            if self._rows.pop(key, None) is not None:
                self._redraw()

    def update(self, force: bool = False) -> None:
        with self._lock:
            if force or self.clock() - self._last_draw >= REDRAW_INTERVAL:
                self._redraw()

    def paint(self, text: str, colour: str) -> str:
        return f"{colour}{text}{_RESET}" if self.colour and text else text

    def _tick(self) -> None:
        # Redraws a running phase's clock; ends with the last row, and within TICK of close().
        while not self._closing.wait(TICK):
            with self._lock:
                if not self._rows:
                    self._ticker = None
                    return
                self._redraw()

    def _redraw(self) -> None:
        self._erase()
        self._draw()

    def _erase(self) -> None:
        if self._drawn:
            up = _UP.format(self._drawn - 1) if self._drawn > 1 else ""
            self.status.write("\r" + up + _ERASE_DOWN)
            self.status.flush()
            self._drawn = 0

    def _draw(self) -> None:
        if not self._rows or not self._at_line_start or self._closing.is_set():
            return
        width = max(20, self._width() - 1)  # a full-width line would wrap and break the block
        lines = [_fit(render(), width) for render in self._rows.values()]
        self.status.write("\r" + "\n".join(lines))
        self.status.flush()
        self._drawn = len(lines)
        self._last_draw = self.clock()

    def _terminal_width(self) -> int:
        try:
            columns = os.get_terminal_size(self.status.fileno()).columns
        except (OSError, ValueError, AttributeError):
            columns = 0
        return columns or 80  # a terminal that does not say its size (a fresh pty says 0)


def _fit(line: str, width: int) -> str:
    """Cut a line to `width` visible characters; colour codes count for nothing."""
    visible = 0
    out = []
    index = 0
    while index < len(line):
        if line.startswith("\x1b[", index):
            end = line.index("m", index) + 1
            out.append(line[index:end])
            index = end
            continue
        if visible == width:
            # Cut inside a coloured part: end the colour with the line.
            return "".join(out) + (_RESET if "\x1b[" in line else "")
        out.append(line[index])
        visible += 1
        index += 1
    return "".join(out)


class Transfer:
    """One file's upload on the status block: bytes sent, rate, time left."""

    def __init__(self, terminal: LiveTerminal, name: str, total: int) -> None:
        self.terminal = terminal
        self.name = name
        self.total = total
        self.sent = 0
        self.started = terminal.clock()
        terminal.show(self, self.render)

    def advance(self, count: int) -> None:
        """`count` more bytes of the file went out (MultipartBody's read hook)."""
        self.sent = min(self.total, self.sent + count)
        # The first and the last state are always drawn, whatever the rate limit.
        self.terminal.update(force=self.sent >= self.total)

    def close(self) -> None:
        self.terminal.hide(self)

    def render(self) -> str:
        fraction = self.sent / self.total if self.total else 1.0
        seconds = max(self.terminal.clock() - self.started, 1e-6)
        rate = self.sent / seconds
        left = (self.total - self.sent) / rate if rate > 0 else None
        filled = round(fraction * BAR_WIDTH)
        bar = self.terminal.paint("#" * filled, _GREEN if fraction >= 1 else _CYAN) \
            + "-" * (BAR_WIDTH - filled)
        eta = "ETA --" if left is None else f"ETA {elapsed_text(left)}"
        return (f"Uploading {self.name} [{bar}] {fraction * 100:3.0f}% "
                f"{size_text(self.sent)}/{size_text(self.total)} {size_text(rate)}/s {eta}")


class Phase:
    """A running step (a build phase): its clock on the status block, then one plain line."""

    def __init__(self, progress: Progress, name: str, label: str) -> None:
        self.progress = progress
        self.name = name
        self.label = label
        self.started = time.monotonic()
        self.ended = False
        if progress.terminal is not None:
            progress.terminal.show(self, self.render, ticking=True)

    def render(self) -> str:
        return f"{self.label}: {self.name} ... {elapsed_text(time.monotonic() - self.started)}"

    def end(self, seconds: float | None = None) -> None:
        """Done: `seconds` when the phase was timed elsewhere (a build child), else since start."""
        self._finish(f"{elapsed_text(time.monotonic() - self.started if seconds is None else seconds)}")

    def fail(self) -> None:
        self._finish(f"failed after {elapsed_text(time.monotonic() - self.started)}")

    def _finish(self, how: str) -> None:
        if self.ended:
            return
        self.ended = True
        if self.progress.terminal is not None:
            self.progress.terminal.hide(self)
        if self.progress.lines:
            self.progress.console.info(f"{self.label}: {self.name} {how}")


class Progress:
    """What a stage may report while it works; `Progress.of(console)` gives the run's own.

    In the action nothing is reported (its log stays as it is); in the command, phases end
    with a plain line ("Build: wheel 2.3 s"), and in a terminal they and large uploads are
    also shown live.
    """

    def __init__(self, console: Console, terminal: LiveTerminal | None, lines: bool) -> None:
        self.console = console
        self.terminal = terminal
        self.lines = lines

    @classmethod
    def of(cls, console: Console) -> Progress:
        terminal = console.out if isinstance(console.out, LiveTerminal) else None
        if console.actions:
            terminal = None
        return cls(console, terminal, lines=not console.actions)

    def transfer(self, name: str, size: int) -> Transfer | None:
        """A live transfer for a file over LARGE_FILE bytes; None when nothing is drawn."""
        if self.terminal is None or size <= LARGE_FILE:
            return None
        return Transfer(self.terminal, name, size)

    def start(self, name: str, label: str = "Build") -> Phase:
        return Phase(self, name, label)

    @contextmanager
    def phase(self, name: str, label: str = "Build") -> Iterator[Phase]:
        """`with progress.phase("wheel"):` shows the clock, then "Build: wheel 2.3 s"."""
        running = self.start(name, label)
        try:
            yield running
        except BaseException:
            running.fail()
            raise
        running.end()

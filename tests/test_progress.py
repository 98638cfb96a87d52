"""Progress: live upload progress and phase clocks in a terminal; plain lines or nothing elsewhere.

The end-to-end tests run the real command on a pseudo-terminal and read what the terminal got;
the rest drive the progress module with a terminal emulator (pyte) standing in for the screen.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pyte
import pytest

from pypi_publish.gha import Console
from pypi_publish.progress import LiveTerminal, Progress, live_wanted
from tests.conftest import REPO, BuiltDists, RunAction, RunCli, clean_env
from tests.support.index_server import IndexServer
from tests.support.pty_run import TerminalRun, run_in_terminal

WHEEL = "sample_project-1.2.3-py3-none-any.whl"
SDIST = "sample_project-1.2.3.tar.gz"
BIG = 3_000_000  # bytes of incompressible data added to the wheel: over the 1 MB threshold
COLOUR = re.compile(r"\x1b\[\d+m")


def workspace(built_dists: BuiltDists, tmp_path: Path, extra: int = 0) -> Path:
    """A workspace with `dist/` holding the sample sdist and wheel, the wheel `extra` bytes larger."""
    dist = tmp_path / "ws" / "dist"
    shutil.copytree(built_dists(), dist)
    if extra:
        # Stored, not deflated: the file's size on disk is what the progress counts.
        with zipfile.ZipFile(dist / WHEEL, "a", compression=zipfile.ZIP_STORED) as wheel:
            wheel.writestr("sample_project/blob.bin", os.urandom(extra))
    return dist.parent


def terminal_env(tmp_path: Path, index: IndexServer, **extra: str) -> dict[str, str]:
    env = clean_env(tmp_path / "home")
    for name in ("CI", "NO_COLOR", "TERM"):
        env.pop(name, None)
    env.update({"TERM": "xterm-256color", "TWINE_USERNAME": index.user,
                "TWINE_PASSWORD": index.password, **extra})
    return env


def publish_in_terminal(root: Path, index: IndexServer, env: Mapping[str, str]) -> TerminalRun:
    run = run_in_terminal([sys.executable, str(REPO / "scripts" / "publish_to_pypi.py"),
                           "--skip-build", "--repository-url", index.url], root, env)
    sys.stdout.write(run.output)  # into pytest's capture, for the secrets sweep
    return run


def progress_lines(output: str, name: str) -> list[str]:
    """Every state of `name`'s progress line the terminal was shown."""
    return [piece for piece in re.split(r"[\r\n]", COLOUR.sub("", output))
            if piece.startswith(f"Uploading {name} ")]


# -- the command on a terminal ---------------------------------------------------------------------


def test_large_upload_in_a_terminal_shows_progress_up_to_100_percent(
    index: IndexServer, built_dists: BuiltDists, tmp_path: Path
) -> None:
    root = workspace(built_dists, tmp_path, extra=BIG)
    size = (root / "dist" / WHEEL).stat().st_size
    run = publish_in_terminal(root, index, terminal_env(tmp_path, index))
    assert run.returncode == 0, run.output
    states = progress_lines(run.output, WHEEL)
    assert states, run.output
    shown = f"{size / 1e6:.1f} MB"
    assert re.fullmatch(rf"Uploading {re.escape(WHEEL)} \[#{{20}}\] 100% {shown}/{shown} "
                        r"[\d.]+ [kMG]?B/s ETA 0\.0 s", states[-1].rstrip()), states[-1]
    assert f"Uploaded {WHEEL}" in run.output


def test_small_file_in_a_terminal_has_no_progress_line(
    index: IndexServer, built_dists: BuiltDists, tmp_path: Path
) -> None:
    root = workspace(built_dists, tmp_path)
    run = publish_in_terminal(root, index, terminal_env(tmp_path, index))
    assert run.returncode == 0, run.output
    assert progress_lines(run.output, WHEEL) == []
    assert progress_lines(run.output, SDIST) == []


def test_progress_has_no_colour_with_no_color(
    index: IndexServer, built_dists: BuiltDists, tmp_path: Path
) -> None:
    root = workspace(built_dists, tmp_path, extra=BIG)
    run = publish_in_terminal(root, index, terminal_env(tmp_path, index, NO_COLOR="1"))
    assert run.returncode == 0, run.output
    assert progress_lines(run.output, WHEEL)
    assert COLOUR.search(run.output) is None


def test_progress_is_coloured_without_no_color(
    index: IndexServer, built_dists: BuiltDists, tmp_path: Path
) -> None:
    root = workspace(built_dists, tmp_path, extra=BIG)
    run = publish_in_terminal(root, index, terminal_env(tmp_path, index))
    assert run.returncode == 0, run.output
    assert "\x1b[32m" in run.output  # the finished bar, green


@pytest.mark.parametrize("setting", [{"CI": "true"}, {"TERM": "dumb"}])
def test_no_progress_in_a_terminal_of_ci_or_a_dumb_terminal(
    setting: dict[str, str], index: IndexServer, built_dists: BuiltDists, tmp_path: Path
) -> None:
    root = workspace(built_dists, tmp_path, extra=BIG)
    run = publish_in_terminal(root, index, terminal_env(tmp_path, index, **setting))
    assert run.returncode == 0, run.output
    assert progress_lines(run.output, WHEEL) == []
    assert "\x1b[" not in run.output


def test_no_progress_when_stdout_is_not_a_terminal(
    index: IndexServer, built_dists: BuiltDists, tmp_path: Path, run_cli: RunCli
) -> None:
    root = workspace(built_dists, tmp_path, extra=BIG)
    run = run_cli(["--skip-build", "--repository-url", index.url], root,
                  {"TWINE_PASSWORD": index.password, "TERM": "xterm"}, process=True)
    assert run.returncode == 0, run.text
    assert f"Uploaded {WHEEL}" in run.stdout
    assert "Uploading " not in run.text
    assert "\r" not in run.text and "\x1b[" not in run.text


# -- the display -----------------------------------------------------------------------------------


class Screen:
    """A terminal of 100 x 10 that both streams of a LiveTerminal write to."""

    def __init__(self) -> None:
        self.screen = pyte.Screen(100, 10)
        self.stream = pyte.Stream(self.screen)
        self.now = 0.0

    def write(self, text: str) -> int:
        # A terminal's line discipline turns "\n" into "\r\n".
        self.stream.feed(text.replace("\n", "\r\n"))
        return len(text)

    def flush(self) -> None:
        pass

    def rows(self) -> list[str]:
        return [row.rstrip() for row in self.screen.display if row.strip()]

    def terminal(self) -> LiveTerminal:
        stream: io.TextIOBase = self  # type: ignore[assignment]
        return LiveTerminal(stream, stream, colour=False, width=lambda: 100,  # type: ignore[arg-type]
                            clock=lambda: self.now)


def live_console(screen: Screen) -> tuple[Console, LiveTerminal]:
    terminal = screen.terminal()
    return Console(out=terminal), terminal  # type: ignore[arg-type]


def test_log_lines_print_above_the_progress_never_through_it() -> None:
    screen = Screen()
    console, _ = live_console(screen)
    transfer = Progress.of(console).transfer("big.whl", 4_000_000)
    assert transfer is not None
    screen.now = 1.0
    transfer.advance(1_000_000)
    console.info("Uploaded small.tar.gz (2.1 kB in 0.01 s)")
    console.info("Skipped other.whl: identical file already on the index")
    rows = screen.rows()
    assert rows[:2] == ["Uploaded small.tar.gz (2.1 kB in 0.01 s)",
                        "Skipped other.whl: identical file already on the index"]
    assert rows[2].startswith("Uploading big.whl [#####---------------]  25% 1.0 MB/4.0 MB")
    assert len(rows) == 3


def test_progress_line_gives_rate_and_time_left() -> None:
    screen = Screen()
    console, terminal = live_console(screen)
    transfer = Progress.of(console).transfer("big.whl", 4_000_000)
    assert transfer is not None
    screen.now = 2.0
    transfer.advance(1_000_000)
    terminal.update(force=True)
    assert screen.rows() == ["Uploading big.whl [#####---------------]  25% 1.0 MB/4.0 MB "
                             "500.0 kB/s ETA 6.0 s"]


def test_a_finished_transfer_leaves_no_line_behind() -> None:
    screen = Screen()
    console, _ = live_console(screen)
    transfer = Progress.of(console).transfer("big.whl", 2_000_000)
    assert transfer is not None
    transfer.advance(2_000_000)
    transfer.close()
    console.info("Uploaded big.whl (2.0 MB in 0.50 s)")
    assert screen.rows() == ["Uploaded big.whl (2.0 MB in 0.50 s)"]


def test_parallel_transfers_each_have_a_line() -> None:
    screen = Screen()
    console, _ = live_console(screen)
    first = Progress.of(console).transfer("one.whl", 2_000_000)
    second = Progress.of(console).transfer("two.whl", 3_000_000)
    assert first is not None and second is not None
    screen.now = 1.0
    first.advance(1_000_000)
    second.advance(3_000_000)
    rows = screen.rows()
    assert [row.split(" [")[0] for row in rows] == ["Uploading one.whl", "Uploading two.whl"]
    assert " 100% " in rows[1]


def test_a_line_wider_than_the_terminal_is_cut_not_wrapped() -> None:
    screen = Screen()
    console, _ = live_console(screen)
    transfer = Progress.of(console).transfer("x" * 150 + ".whl", 2_000_000)
    assert transfer is not None
    console.info("Uploaded small.tar.gz (2.1 kB in 0.01 s)")
    rows = screen.rows()
    assert len(rows) == 2
    assert rows[1] == "Uploading " + "x" * 89  # 99 of the 100 columns: the last stays free


def test_files_up_to_1_mb_get_no_transfer() -> None:
    console, _ = live_console(Screen())
    assert Progress.of(console).transfer("small.whl", 1_000_000) is None


def test_a_phase_ends_with_a_line_naming_its_time() -> None:
    out = io.StringIO()
    with Progress.of(Console(out=out)).phase("environment") as phase:
        phase.end(2.34)
    assert out.getvalue() == "Build: environment 2.3 s\n"


def test_a_failing_phase_says_it_failed() -> None:
    out = io.StringIO()
    with pytest.raises(RuntimeError), Progress.of(Console(out=out)).phase("wheel"):
        raise RuntimeError("the backend failed")
    assert out.getvalue().startswith("Build: wheel failed after ")


def test_a_running_phase_shows_its_clock_in_a_terminal() -> None:
    screen = Screen()
    console, _ = live_console(screen)
    phase = Progress.of(console).start("requirements")
    assert screen.rows()[0].startswith("Build: requirements ... ")
    phase.end(61.0)
    assert screen.rows() == ["Build: requirements 1 min 01 s"]


def test_the_action_reports_no_phase_and_no_transfer() -> None:
    out = io.StringIO()
    progress = Progress.of(Console(actions=True, out=out))
    with progress.phase("sdist"):
        pass
    assert progress.transfer("big.whl", 50_000_000) is None
    assert out.getvalue() == ""


@pytest.mark.parametrize(("env", "wanted"), [
    ({"TERM": "xterm"}, True),
    ({"TERM": "xterm", "CI": "true"}, False),
    ({"TERM": "xterm", "CI": "false"}, True),
    ({"TERM": "xterm", "GITHUB_ACTIONS": "true"}, False),
    ({"TERM": "dumb"}, False),
])
def test_live_progress_only_for_a_person_at_a_terminal(env: dict[str, str], wanted: bool) -> None:
    master, slave = os.openpty()
    try:
        with open(slave, "w", closefd=False) as tty:
            assert live_wanted(env, tty, tty) is wanted
            assert live_wanted(env, tty, io.StringIO()) is False
    finally:
        os.close(master)
        os.close(slave)


def test_a_build_in_the_command_says_each_phase_with_its_time(tmp_path: Path, run_cli: RunCli) -> None:
    from tests.support.projects import write_project

    project = write_project(tmp_path, "phased", "1.0.0", "flit")
    run = run_cli(["--no-upload"], project)
    assert run.returncode == 0, run.text
    phases = re.findall(r"^Build: (\w+) [0-9.]+ s$", run.stdout, flags=re.M)
    assert phases[0] == "environment"
    assert phases.index("sdist") < phases.index("wheel")
    assert "::pypi-publish-phase::" not in run.text


def test_a_build_in_the_action_adds_no_phase_lines(tmp_path: Path, run_action: RunAction) -> None:
    from tests.support.projects import write_project

    project = write_project(tmp_path, "phased", "1.0.0", "flit")
    run = run_action(project, {"dry-run": "true"})
    assert run.returncode == 0, run.text
    assert not re.search(r"^Build: \w+ [0-9.]+ s$", run.stdout, flags=re.M)
    assert "::pypi-publish-phase::" not in run.text

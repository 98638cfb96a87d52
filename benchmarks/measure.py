"""Run one command as its own process group; measure its wall time and peak memory.

Peak RSS comes from `wait4`: the kernel's high-water mark of the tool and of every descendant it
waited for, so it is the uploader's own peak and never the benchmark's. A sampler also sums the
RSS of the whole process group every few milliseconds, which is what a build tool that runs a
backend beside itself costs at once; being sampled, it can miss short peaks.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

SAMPLE_INTERVAL = 0.05
_PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class Measurement:
    wall: float
    started: float  # time.monotonic() at the start, to place the proxy's timeline
    peak_rss: int  # bytes, the largest single process of the tree
    group_rss: int  # bytes, the largest sampled sum over the process group
    returncode: int
    output_tail: str


def _session_rss(session: int) -> int:
    """Sum of the resident memory of every process whose session id is `session`."""
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue  # the process ended between listing and reading
        fields = stat[stat.rindex(")") + 2:].split()
        # Fields after the command name start at field 3 (state); session is 6, rss is 24.
        if int(fields[3]) == session:
            total += int(fields[21]) * _PAGE
    return total


class _Sampler(threading.Thread):
    def __init__(self, session: int) -> None:
        super().__init__(name="rss-sampler", daemon=True)
        self.session = session
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(SAMPLE_INTERVAL):
            self.peak = max(self.peak, _session_rss(self.session))


def run_measured(
    argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout: float,
) -> Measurement:
    """Run `argv` to completion (or `timeout`, then kill its group); output goes to `log`."""
    with log.open("ab") as out:
        started = time.perf_counter()
        started_monotonic = time.monotonic()
        process = subprocess.Popen(argv, env=dict(env), cwd=cwd, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        sampler = _Sampler(process.pid)
        sampler.start()
        killer = threading.Timer(timeout, _kill_group, (process.pid,))
        killer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        except BaseException:
            # Interrupted (Ctrl-C, SIGTERM): the tool must not outlive the benchmark.
            _kill_group(process.pid)
            process.wait()
            raise
        finally:
            wall = time.perf_counter() - started
            killer.cancel()
            sampler.done.set()
            sampler.join()
        process.returncode = os.waitstatus_to_exitcode(status)
    # Anything the tool left running in its group goes too; nothing outlives its run.
    _kill_group(process.pid)
    tail = log.read_text(errors="replace")[-2000:]
    peak = usage.ru_maxrss * 1024
    # A run shorter than one sampling interval has no sample; its largest process is the floor.
    return Measurement(wall, started_monotonic, peak, max(peak, sampler.peak),
                       process.returncode, tail)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)

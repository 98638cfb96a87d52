"""How long the command takes before it does anything: `--help` wall time and import time."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import TypedDict

CLI_MODULE = "pypi_publish.cli"


class ImportCost(TypedDict):
    module: str
    cumulative_ms: float


class Startup(TypedDict, total=False):
    status: str
    reason: str
    help_s: float
    help_runs: list[float]
    import_ms: float
    heaviest_imports: list[ImportCost]


def help_times(executable: str, env: Mapping[str, str], runs: int) -> list[float]:
    """Wall time of `executable --help`, once per run, after one untimed run to warm the disk."""
    times: list[float] = []
    for index in range(runs + 1):
        started = time.perf_counter()
        subprocess.run([executable, "--help"], env=dict(env), capture_output=True, timeout=60,
                       check=True)
        if index:
            times.append(time.perf_counter() - started)
    return times


def import_costs(env: Mapping[str, str]) -> tuple[float, list[ImportCost]]:
    """Cumulative import time of the CLI module, and the five heaviest imports beneath it."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {CLI_MODULE}"],
                          env=dict(env), capture_output=True, text=True, timeout=60, check=True)
    subtree: list[tuple[int, ImportCost]] = []
    for line in done.stderr.splitlines():
        # "import time: self [us] | cumulative | imported package"; children come before their
        # parent, indented two spaces a level under a one-space top level.
        if not line.startswith("import time:") or "imported package" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        depth = (len(name) - len(name.lstrip()) - 1) // 2
        cost: ImportCost = {"module": name.strip(), "cumulative_ms": int(cumulative) / 1000}
        if depth == 0 and cost["module"] == CLI_MODULE:
            beneath = sorted((c for d, c in subtree if d <= 2),
                             key=lambda c: c["cumulative_ms"], reverse=True)
            return cost["cumulative_ms"], beneath[:5]
        subtree = [] if depth == 0 else [*subtree, (depth, cost)]
    raise subprocess.SubprocessError(f"`{CLI_MODULE}` not in the -X importtime output")


def measure_startup(executable: str, env: Mapping[str, str], runs: int) -> Startup:
    try:
        times = help_times(executable, env, runs)
        import_ms, heaviest = import_costs(env)
    except (OSError, subprocess.SubprocessError) as error:
        return {"status": "failed", "reason": str(error)}
    return {"status": "ok", "help_s": statistics.median(times), "help_runs": times,
            "import_ms": import_ms, "heaviest_imports": heaviest}

"""Publish the same releases with twine, uv and pypi-publish through one WAN-shaped link; compare.

Every run gets a fresh pypiserver (so each tool uploads to an empty index), a fresh proxy in
front of it, fresh tool caches and a fresh copy of the sample project; the tools take turns within
each round so that drift on the machine spreads over all of them. See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import signal
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as `python benchmarks/run.py`: import the sibling modules as the package they are.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import report
from benchmarks.index import USER, Index, free_port
from benchmarks.link import LinkShape, Stats
from benchmarks.measure import Measurement, run_measured
from benchmarks.options import EXTRAS, parse_args
from benchmarks.scenarios import (
    MB,
    SCENARIO_NAMES,
    Scenario,
    Sizes,
    make_scenarios,
    write_project,
)
from benchmarks.startup import measure_startup
from benchmarks.tools import BIN, PRODUCT, TOOLS, Tool
from benchmarks.wan_proxy import WanProxy

_DROPPED_ENV = ("GITHUB_", "INPUT_", "ACTIONS_", "RUNNER_", "TWINE_", "UV_", "PIP_")


def _base_env(wheelhouse: Path) -> dict[str, str]:
    """The caller's environment without anything that would steer a tool elsewhere."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(_DROPPED_ENV) and k not in ("PYPI_API_TOKEN", "VIRTUAL_ENV")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON"] = sys.executable
    env["UV_PYTHON_DOWNLOADS"] = "never"
    if any(wheelhouse.glob("setuptools-*.whl")):
        # Builds install their backend from local wheels: the same bytes for every tool, and no
        # network time in a benchmark about the network we simulate.
        # (Not UV_OFFLINE: `uv publish` refuses to run in offline mode.)
        env.update({"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheelhouse),
                    "UV_NO_INDEX": "1", "UV_FIND_LINKS": str(wheelhouse)})
    return env


def _fresh_caches(run_dir: Path) -> dict[str, str]:
    """A release job starts with cold caches; so does every run."""
    cache = run_dir / "cache"
    return {"XDG_CACHE_HOME": str(cache), "PIP_CACHE_DIR": str(cache / "pip"),
            "UV_CACHE_DIR": str(cache / "uv")}


class Bench:
    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        self.args = args
        self.work = work
        self.shape = LinkShape(args.rtt_ms / 1000, args.conn_mbps * MB, args.total_mbps * MB,
                               args.handshake_rtts)
        self.env = _base_env(args.wheelhouse)
        self.timeout = args.timeout or (120.0 if args.quick else 900.0)
        extra = {k: tuple(shlex.split(v)) for k, _, v in
                 (item.partition("=") for item in args.extra_args)}
        self.tools = [replace(TOOLS[name], extra_args=extra.get(name, ()))
                      for name in args.tools.split(",")]
        self.missing = {tool.name: tool.availability() for tool in self.tools}
        self._run_no = 0

    def _run_dir(self, label: str) -> Path:
        self._run_no += 1
        path = self.work / "runs" / f"{self._run_no:03d}-{label}"
        path.mkdir(parents=True)
        return path

    def progress(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    # -- publishing scenarios -------------------------------------------------------------------

    def _rounds(
        self, label: str, once: Callable[[Tool, report.ToolResult], None]
    ) -> dict[str, report.ToolResult]:
        """`runs` rounds, each tool once a round; a tool drops out at its first failure."""
        results: dict[str, report.ToolResult] = {}
        for tool in self.tools:
            reason = self.missing[tool.name]
            results[tool.name] = ({"status": "n/a", "reason": reason} if reason
                                  else {"status": "ok", "runs": []})
        for round_no in range(self.args.runs):
            for tool in self.tools:
                result = results[tool.name]
                if result["status"] != "ok":
                    continue
                once(tool, result)
                if result["status"] == "ok":
                    last = result["runs"][-1]
                    self.progress(f"{label} {tool.name} run {round_no + 1}: "
                                  f"{last['wall_s']:.2f} s, {last['requests']} requests")
        for result in results.values():
            if result["status"] == "ok":
                report.summarise(result)
        return results

    def scenario(self, scenario: Scenario) -> dict[str, Any]:
        limit = report.physical_limit(scenario, self.shape)
        results = self._rounds(scenario.name,
                               lambda tool, result: self._publish_once(tool, scenario, result))
        report.add_ratios(results, limit)
        return {"name": scenario.name, "title": scenario.title,
                "files": [p.name for p in scenario.files], "bytes": scenario.upload_bytes,
                "limit_s": limit, "results": results}

    def _publish_once(self, tool: Tool, scenario: Scenario, result: report.ToolResult) -> None:
        run_dir = self._run_dir(f"{scenario.name}-{tool.name}")
        preload = scenario.files if scenario.preloaded else []
        with Index(run_dir / "index", preload) as index, \
                WanProxy(index.port, self.shape) as proxy:
            plan = tool.publish(scenario, proxy.url)
            if plan.unsupported:
                result.update({"status": "unsupported", "reason": plan.unsupported})
                return
            result["commands"] = plan.steps
            env = {**self.env, **_fresh_caches(run_dir),
                   **tool.credentials_env(USER, index.password)}
            measured = self._steps(plan.steps, env, run_dir)
            stats = proxy.stats()
            problem = _failure(measured, index.password) or _missing_files(
                scenario, index.files())
        if problem:
            result.update({"status": "failed", "reason": problem})
            return
        result["runs"].append(_run_record(measured, stats))

    def _steps(self, steps: list[list[str]], env: Mapping[str, str],
               run_dir: Path) -> list[Measurement]:
        """Run the steps in order, stopping at the first that fails."""
        measured: list[Measurement] = []
        for argv in steps:
            measured.append(run_measured(argv, env, run_dir, run_dir / "output.log",
                                         self.timeout))
            if measured[-1].returncode != 0:
                break
        return measured

    # -- build and startup --------------------------------------------------------------------

    def build(self, project: Path) -> dict[str, report.ToolResult]:
        results = self._rounds("build",
                               lambda tool, result: self._build_once(tool, project, result))
        report.add_ratios(results, None)
        return results

    def _build_once(self, tool: Tool, project: Path, result: report.ToolResult) -> None:
        run_dir = self._run_dir(f"build-{tool.name}")
        copy = run_dir / project.name
        shutil.copytree(project, copy)
        dist = run_dir / "dist"
        argv = tool.build(copy, dist)
        result["commands"] = [argv]
        measured = run_measured(argv, {**self.env, **_fresh_caches(run_dir)}, run_dir,
                                run_dir / "output.log", self.timeout)
        built = sorted(p.name for p in dist.glob("*")) if dist.is_dir() else []
        problem = _failure([measured], "")
        if not problem and not (any(n.endswith(".whl") for n in built)
                                and any(n.endswith(".tar.gz") for n in built)):
            problem = f"expected an sdist and a wheel in the output folder, found {built}"
        if problem:
            result.update({"status": "failed", "reason": problem})
            return
        result["runs"].append(_run_record([measured]))

    def refused(self, scenario: Scenario) -> dict[str, report.ToolResult]:
        """Each tool uploading to a port nothing listens on: how long until it gives up."""
        url = f"http://127.0.0.1:{free_port()}/"
        results = self._rounds("refused",
                               lambda tool, result: self._refused_once(tool, scenario, url, result))
        report.add_ratios(results, None)
        return results

    def _refused_once(self, tool: Tool, scenario: Scenario, url: str,
                      result: report.ToolResult) -> None:
        run_dir = self._run_dir(f"refused-{tool.name}")
        plan = tool.publish(scenario, url)
        result["commands"] = plan.steps
        env = {**self.env, **_fresh_caches(run_dir), **tool.credentials_env(USER, "unused")}
        measured = self._steps(plan.steps, env, run_dir)
        if measured[-1].returncode == 0:
            result.update({"status": "failed", "reason": "exited 0 with nothing listening"})
            return
        result["runs"].append(_run_record(measured))

    def startup(self) -> dict[str, Any]:
        product = TOOLS[PRODUCT]
        reason = self.missing.get(PRODUCT, product.availability())
        path = product.path()
        if reason or path is None:
            return {"status": "n/a", "reason": reason or "not installed"}
        return dict(measure_startup(path, self.env, runs=max(10, self.args.runs)))


def _run_record(measured: list[Measurement], stats: Stats | None = None) -> report.RunRecord:
    """One run's numbers: its steps' times summed, the largest process, what the proxy saw."""
    record: report.RunRecord = {
        "wall_s": sum(m.wall for m in measured),
        "peak_rss_mb": max(m.peak_rss for m in measured) / MB,
        "group_rss_mb": max(m.group_rss for m in measured) / MB,
        "returncode": measured[-1].returncode, "requests": 0, "connections": 0, "turns": 0,
        "bytes_up": 0, "request_summary": {}, "timeline": []}
    if stats is not None:
        record.update({
            "requests": stats.requests, "connections": stats.connections, "turns": stats.turns,
            "bytes_up": stats.bytes_up, "request_summary": stats.request_summary(),
            "timeline": [(round(t - measured[0].started, 4), conn, what)
                         for t, conn, what in stats.timeline]})
    return record


def _failure(measured: list[Measurement], secret: str) -> str | None:
    last = measured[-1]
    if last.returncode == 0:
        return None
    tail = last.output_tail.replace(secret, "***") if secret else last.output_tail
    lines = [line for line in tail.strip().splitlines() if line.strip()][-3:]
    return f"exit {last.returncode}: " + " / ".join(lines)


def _missing_files(scenario: Scenario, on_index: list[str]) -> str | None:
    """A run only counts if the index ends up holding the whole release."""
    missing = sorted({p.name for p in scenario.files} - set(on_index))
    return f"the index lacks {', '.join(missing)}" if missing else None


def _machine() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "machine": platform.machine()}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    bench = Bench(args, work)
    wanted = args.scenario or [*SCENARIO_NAMES, *EXTRAS]
    sizes = Sizes.quick() if args.quick else Sizes.full()
    publishing = [name for name in SCENARIO_NAMES if name in wanted]
    result: dict[str, Any] = {
        "name": args.name or ("quick" if args.quick else "full"),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "config": {"rtt_ms": args.rtt_ms, "conn_mbps": args.conn_mbps,
                   "total_mbps": args.total_mbps, "handshake_rtts": args.handshake_rtts,
                   "runs": args.runs, "quick": args.quick, "extra_args": args.extra_args,
                   "offline_builds": "PIP_NO_INDEX" in bench.env},
        "tools": {t.name: {"label": t.label, "version": t.version(),
                           "available": bench.missing[t.name] is None,
                           "reason": bench.missing[t.name]} for t in bench.tools},
        "scenarios": [],
    }
    for scenario in make_scenarios(work / "files", publishing, sizes):
        bench.progress(f"== {scenario.name}: {scenario.title}")
        result["scenarios"].append(bench.scenario(scenario))
    if "build" in wanted:
        bench.progress("== build")
        project = write_project(work / "build-project")
        result["build"] = bench.build(project)
    if "refused" in wanted:
        bench.progress("== refused: uploading to a port nothing listens on")
        small = make_scenarios(work / "refused-files", ["small"], sizes)[0]
        result["refused"] = bench.refused(small)
    if "startup" in wanted:
        bench.progress("== startup")
        result["startup"] = bench.startup()
    result["goals"] = report.goals(result, PRODUCT)
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so every index, proxy and tool started so far is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    work = Path(tempfile.mkdtemp(prefix="pypi-publish-bench-"))
    try:
        result = run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{result['name']}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report.render(result, {name: tool.build_label for name, tool in TOOLS.items()}))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Turn runs into medians, ratios, the physical limit and goal verdicts; render Markdown."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any, TypedDict

from benchmarks.scenarios import MB, Scenario
from benchmarks.wan_proxy import LinkShape


class RunRecord(TypedDict):
    wall_s: float
    peak_rss_mb: float
    group_rss_mb: float
    returncode: int
    requests: int
    connections: int
    turns: int
    bytes_up: int
    request_summary: dict[str, int]
    # Seconds since the tool started, connection number, event (see wan_proxy.Stats.timeline).
    timeline: list[tuple[float, int, str]]


class ToolResult(TypedDict, total=False):
    status: str  # "ok", "failed", "n/a" (tool missing), "unsupported" (tool cannot do this)
    reason: str
    commands: list[list[str]]
    runs: list[RunRecord]
    wall_s: float
    peak_rss_mb: float
    group_rss_mb: float
    requests: float
    connections: float
    ratio_to_best_alternative: float
    ratio_to_limit: float


class Goal(TypedDict):
    goal: str
    value: float | None
    target: str
    met: bool | None


def physical_limit(scenario: Scenario, shape: LinkShape) -> float:
    """Seconds no publisher can beat on this link, leaving out building and the index's work.

    One connection's handshake plus one request/response round trip, plus the bytes at the
    better of the total cap and what the largest file alone allows on one connection (a file is
    one POST, so it cannot be spread over connections). A rerun only has to ask what exists.
    """
    fixed = (shape.handshake_rtts + 1) * shape.rtt
    if scenario.preloaded:
        return fixed
    transfer = max(scenario.upload_bytes / shape.total_rate,
                   scenario.largest_file / shape.conn_rate)
    return fixed + transfer


def summarise(result: ToolResult) -> None:
    """Fill the medians of an ok result from its runs."""
    runs = result.get("runs", [])
    if not runs:
        return
    result["wall_s"] = statistics.median(r["wall_s"] for r in runs)
    result["peak_rss_mb"] = statistics.median(r["peak_rss_mb"] for r in runs)
    result["group_rss_mb"] = statistics.median(r["group_rss_mb"] for r in runs)
    result["requests"] = statistics.median(r["requests"] for r in runs)
    result["connections"] = statistics.median(r["connections"] for r in runs)


def add_ratios(results: dict[str, ToolResult], limit: float | None) -> None:
    """Each tool's median against the best median of the *other* tools, and against the limit."""
    times = {name: r["wall_s"] for name, r in results.items() if "wall_s" in r}
    for name, result in results.items():
        if name not in times:
            continue
        others = [t for other, t in times.items() if other != name]
        if others:
            result["ratio_to_best_alternative"] = times[name] / min(others)
        if limit:
            result["ratio_to_limit"] = times[name] / limit


def _cell(value: float | None, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def scenario_table(scenarios: Iterable[dict[str, Any]]) -> str:
    lines = [
        "| scenario | tool | wall (median) | ratio to best other | peak RSS | requests | connections"
        " | physical limit | ratio to limit |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for scenario in scenarios:
        for tool, result in scenario["results"].items():
            if result["status"] != "ok":
                reason = result.get("reason", "")
                lines.append(f"| {scenario['name']} | {tool} | {result['status']}: {reason} "
                             "| | | | | | |")
                continue
            lines.append(
                f"| {scenario['name']} | {tool} | {result['wall_s']:.2f} s"
                f" | {_cell(result.get('ratio_to_best_alternative'), '.2f')}"
                f" | {result['peak_rss_mb']:.0f} MB | {result['requests']:g}"
                f" | {result['connections']:g} | {scenario['limit_s']:.2f} s"
                f" | {_cell(result.get('ratio_to_limit'), '.2f')} |"
            )
    return "\n".join(lines)


def build_table(build: dict[str, ToolResult], labels: dict[str, str]) -> str:
    lines = ["| build of a small setuptools project | wall (median) | ratio to best other | peak RSS"
             " (process tree) |", "|---|---:|---:|---:|"]
    for name, result in build.items():
        tool = labels.get(name, name)
        if result["status"] != "ok":
            lines.append(f"| {tool} | {result['status']}: {result.get('reason', '')} | | |")
            continue
        lines.append(f"| {tool} | {result['wall_s']:.2f} s"
                     f" | {_cell(result.get('ratio_to_best_alternative'), '.2f')}"
                     f" | {result['group_rss_mb']:.0f} MB |")
    return "\n".join(lines)


def _wall(results: dict[str, ToolResult], tool: str) -> float | None:
    result = results.get(tool)
    return result.get("wall_s") if result else None


def _speedup(results: dict[str, ToolResult], product: str, other: str) -> float | None:
    mine, theirs = _wall(results, product), _wall(results, other)
    return theirs / mine if mine and theirs else None


def _goal(goal: str, value: float | None, target: str, met: bool | None) -> Goal:
    return {"goal": goal, "value": value, "target": target,
            "met": None if value is None else met}


def goals(report: dict[str, Any], product: str) -> list[Goal]:
    """The issue's goals, each with the measured value; `met` is None where it was not measured."""
    by_name = {s["name"]: s for s in report["scenarios"]}
    made: list[Goal] = []
    matrix = by_name.get("matrix", {}).get("results", {})
    vs_twine = _speedup(matrix, product, "twine")
    vs_uv = _speedup(matrix, product, "uv")
    made.append(_goal("matrix: speedup vs twine", vs_twine, ">= 2.5",
                      vs_twine is not None and vs_twine >= 2.5))
    made.append(_goal("matrix: speedup vs uv publish", vs_uv, ">= 1.5",
                      vs_uv is not None and vs_uv >= 1.5))
    to_limit = matrix.get(product, {}).get("ratio_to_limit")
    made.append(_goal("matrix: time / physical limit", to_limit, "<= 1.3",
                      to_limit is not None and to_limit <= 1.3))
    rerun = by_name.get("rerun", {}).get("results", {}).get(product, {})
    requests = rerun.get("requests")
    made.append(_goal("rerun: requests to the index", requests, "<= 2",
                      requests is not None and requests <= 2))
    big = by_name.get("big", {}).get("results", {}).get(product, {})
    rss = big.get("peak_rss_mb")
    made.append(_goal("big: peak RSS (MB)", rss, "<= 80", rss is not None and rss <= 80))
    help_s = report.get("startup", {}).get("help_s")
    made.append(_goal("`--help` (s)", help_s, "<= 0.150", help_s is not None and help_s <= 0.150))
    build = report.get("build", {})
    build_speedup = _speedup(build, product, "twine")
    made.append(_goal("build: speedup vs python -m build", build_speedup, ">= 1.5",
                      build_speedup is not None and build_speedup >= 1.5))
    return made


def goals_table(made: list[Goal]) -> str:
    lines = ["| goal | measured | target | met |", "|---|---:|---|---|"]
    for goal in made:
        verdict = {True: "yes", False: "**no**", None: "n/a"}[goal["met"]]
        lines.append(f"| {goal['goal']} | {_cell(goal['value'], '.3g')} | {goal['target']}"
                     f" | {verdict} |")
    return "\n".join(lines)


def mb(size: int) -> float:
    return size / MB

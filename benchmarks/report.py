"""Turn runs into medians, ratios, the physical limit and goal verdicts; render Markdown."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from typing import Any, TypedDict

from benchmarks.link import LinkShape
from benchmarks.scenarios import MB, Scenario


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


def _result(report: dict[str, Any], scenario: str, tool: str) -> ToolResult:
    by_name = {s["name"]: s for s in report["scenarios"]}
    found: ToolResult = by_name.get(scenario, {}).get("results", {}).get(tool, {})
    return found


def _goal(goal: str, value: float | None, target: str, met: bool) -> Goal:
    return {"goal": goal, "value": value, "target": target,
            "met": None if value is None else met}


def goals(report: dict[str, Any], product: str) -> list[Goal]:
    """The performance issue's goals, each with the measured value; `met` is None where unmeasured."""
    made: list[Goal] = []
    for name, most in (("small", 2.0), ("matrix", 1.3), ("big", 1.1)):
        ratio = _result(report, name, product).get("ratio_to_limit")
        made.append(_goal(f"{name}: time / link limit", ratio, f"<= {most:g}",
                          ratio is not None and ratio <= most))
    mine = _result(report, "small", product).get("wall_s")
    uv = _result(report, "small", "uv").get("wall_s")
    versus = mine / uv if mine and uv else None
    made.append(_goal("small: time / uv's time", versus, "< 1", versus is not None and versus < 1))
    rss = _result(report, "big", product).get("peak_rss_mb")
    made.append(_goal("big: peak RSS (MB)", rss, "<= 40", rss is not None and rss <= 40))
    rerun = _result(report, "rerun", product)
    wall, requests = rerun.get("wall_s"), rerun.get("requests")
    made.append(_goal("rerun: time (s)", wall, "<= 0.3", wall is not None and wall <= 0.3))
    made.append(_goal("rerun: requests to the index", requests, "<= 2",
                      requests is not None and requests <= 2))
    help_s = report.get("startup", {}).get("help_s")
    made.append(_goal("`--help` (s)", help_s, "<= 0.100", help_s is not None and help_s <= 0.100))
    refused = report.get("refused", {}).get(product, {}).get("wall_s")
    made.append(_goal("refused connection: time to fail (s)", refused, "<= 2",
                      refused is not None and refused <= 2))
    return made


def refused_table(refused: dict[str, ToolResult]) -> str:
    lines = ["| upload to a port nothing listens on | time to fail (median) | exit code |",
             "|---|---:|---:|"]
    for name, result in refused.items():
        if result["status"] != "ok":
            lines.append(f"| {name} | {result['status']}: {result.get('reason', '')} | |")
            continue
        lines.append(f"| {name} | {result['wall_s']:.2f} s | {result['runs'][-1]['returncode']} |")
    return "\n".join(lines)


def render(result: dict[str, Any], build_labels: dict[str, str]) -> str:
    """The run as Markdown: the link, the tools, then one table per part measured."""
    config = result["config"]
    parts = [f"Link: RTT {config['rtt_ms']:g} ms, {config['conn_mbps']:g} MB/s per connection, "
             f"{config['total_mbps']:g} MB/s in total, {config['handshake_rtts']} round trips per "
             f"new connection; median of {config['runs']} run(s); "
             f"{result['machine']['cpus']} CPUs.",
             "Tools: " + ", ".join(f"{name} {tool['version']}"
                                   for name, tool in result["tools"].items()) + ".", ""]
    if result["scenarios"]:
        parts += [scenario_table(result["scenarios"]), ""]
    if "build" in result:
        parts += [build_table(result["build"], build_labels), ""]
    if "refused" in result:
        parts += [refused_table(result["refused"]), ""]
    startup = result.get("startup")
    if startup:
        if startup["status"] == "ok":
            parts += [f"`pypi-publish --help`: {startup['help_s'] * 1000:.0f} ms (median); "
                      f"import of the CLI: {startup['import_ms']:.0f} ms", ""]
        else:
            parts += [f"startup: {startup['status']}: {startup.get('reason', '')}", ""]
    parts.append(goals_table(result["goals"]))
    return "\n".join(parts)


def goals_table(made: list[Goal]) -> str:
    lines = ["| goal | measured | target | met |", "|---|---:|---|---|"]
    for goal in made:
        verdict = {True: "yes", False: "**no**", None: "n/a"}[goal["met"]]
        lines.append(f"| {goal['goal']} | {_cell(goal['value'], '.3g')} | {goal['target']}"
                     f" | {verdict} |")
    return "\n".join(lines)


def mb(size: int) -> float:
    return size / MB

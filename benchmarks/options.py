"""The benchmark's command line: which scenarios and tools, the link's shape, where results go."""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.scenarios import SCENARIO_NAMES
from benchmarks.tools import TOOLS

REPO = Path(__file__).resolve().parent.parent
# Measured per tool beside the publishing scenarios: building, start-up, a refused connection.
EXTRAS = ("build", "startup", "refused")
DESCRIPTION = ("Publish the same releases with twine, uv and pypi-publish through one WAN-shaped "
               "link; compare.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=DESCRIPTION)
    parser.add_argument("--scenario", action="append", choices=[*SCENARIO_NAMES, *EXTRAS],
                        help="repeat to pick several (default: all)")
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help=f"comma-separated, from {', '.join(TOOLS)} (default: all)")
    parser.add_argument("--runs", type=int, default=3, help="runs per tool and scenario")
    parser.add_argument("--rtt-ms", type=float, default=60.0)
    parser.add_argument("--conn-mbps", type=float, default=8.0, help="MB/s per connection")
    parser.add_argument("--total-mbps", type=float, default=40.0, help="MB/s, all connections")
    parser.add_argument("--handshake-rtts", type=int, default=2,
                        help="round trips a new connection costs (TCP + TLS 1.3: 2)")
    parser.add_argument("--quick", action="store_true", help="small files, for a smoke run")
    parser.add_argument("--name", help="results file name (default: quick or full)")
    parser.add_argument("--results-dir", type=Path, default=REPO / "benchmarks" / "results")
    parser.add_argument("--wheelhouse", type=Path, default=REPO / ".cache" / "wheelhouse",
                        help="build backends for offline builds (made by scripts/dev-env)")
    parser.add_argument("--extra-args", action="append", default=[], metavar="TOOL=ARGS",
                        help="more arguments for a tool's upload command, e.g. "
                             "'pypi-publish=--parallel 8' (repeatable)")
    parser.add_argument("--timeout", type=float, help="seconds per command (default 120/900)")
    args = parser.parse_args(argv)
    unknown = set(args.tools.split(",")) - set(TOOLS)
    if unknown:
        parser.error(f"unknown tool(s) {', '.join(sorted(unknown))}; choose from {', '.join(TOOLS)}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    for item in args.extra_args:
        tool, sep, _ = item.partition("=")
        if not sep or tool not in TOOLS:
            parser.error(f"--extra-args takes TOOL=ARGS with TOOL one of {', '.join(TOOLS)}")
    return args

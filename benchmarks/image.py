"""The action's image: what it adds over its base, a cold build, container start to first log line,
and a two-file token publish to a loopback pypiserver run as the runner runs it, against the same
run outside the container. Needs buildah and podman (`bash .ci/container setup`); see the README,
"The action's image".

    .venv/bin/python benchmarks/image.py [--runs 5] [--base IMAGE] [--online]

Prints a Markdown table and writes every measurement to benchmarks/results/image.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TypedDict

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.index import USER, Index
from benchmarks.scenarios import write_project

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000
RUNNER_UID = 1001
WORKSPACE = "/github/workspace"
TIMEOUT = 300.0


class Timing(TypedDict):
    median_s: float
    runs_s: list[float]


class Results(TypedDict, total=False):
    base: str
    image: str
    machine: str
    base_bytes: int
    image_bytes: int
    added_bytes: int
    venv_top: list[tuple[str, int]]
    uv_would_add_bytes: int | None
    cold_build_s: float
    bare_container_start_s: Timing
    container_first_line_s: Timing
    host_first_line_s: Timing
    container_publish_s: Timing
    host_publish_s: Timing


def podman(*args: str) -> list[str]:
    runc = shutil.which("runc") or "/usr/sbin/runc"
    return ["podman", "--runtime", runc, "--cgroup-manager=cgroupfs", *args]


def podman_run(*args: str) -> list[str]:
    return podman("run", "--rm", "--ulimit", "nofile=20000:20000", "--ulimit",
                  "nproc=20000:20000", *args)


def timing(runs: list[float]) -> Timing:
    return {"median_s": statistics.median(runs), "runs_s": runs}


# -- image --------------------------------------------------------------------------------------------


def build_image(base: str, tag: str, wheelhouse: Path | None) -> float:
    """Seconds for a build with no layer cache (the base image is present, as on a runner)."""
    subprocess.run(["podman", "rmi", "--force", tag], capture_output=True, check=False)
    command = ["buildah", "bud", "--quiet", "--layers=false", "--isolation", "chroot",
               "--network", "host", "--build-arg", f"BASE={base}", "-t", tag]
    if wheelhouse is not None:
        command += ["-v", f"{wheelhouse}:/wheels:ro", "--build-arg", "WHEELHOUSE=/wheels"]
    elif Path("/etc/ssl/certs/ca-certificates.crt").is_file():
        command += ["-v", "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"]
    started = time.perf_counter()
    subprocess.run([*command, str(REPO)], capture_output=True, check=True, timeout=TIMEOUT)
    return time.perf_counter() - started


def image_bytes(ref: str) -> int:
    done = subprocess.run(["podman", "image", "inspect", "--format", "{{.Size}}", ref],
                          capture_output=True, text=True, check=True)
    return int(done.stdout.strip())


VENV_SIZES = """
import json, pathlib, site
def size(p):
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file() and not f.is_symlink()) \\
        if p.is_dir() else p.stat().st_size
root = pathlib.Path(site.getsitepackages()[0])
sizes = {p.name: size(p) for p in root.iterdir() if not p.name.endswith(".dist-info")}
print(json.dumps(sorted(sizes.items(), key=lambda kv: -kv[1])[:8]))
"""


def venv_top(image: str) -> list[tuple[str, int]]:
    done = subprocess.run(podman_run("--network", "none", "--entrypoint", "/opt/venv/bin/python",
                                     image, "-c", VENV_SIZES),
                          capture_output=True, text=True, check=True, timeout=60)
    return [(name, int(size)) for name, size in json.loads(done.stdout)]


def uv_would_add() -> int | None:
    """What installing uv (as `build`'s faster installer) would add: its files in this venv."""
    try:
        files = metadata.distribution("uv").files or []
    except metadata.PackageNotFoundError:
        return None
    return sum(Path(str(f.locate())).stat().st_size for f in files if Path(str(f.locate())).is_file())


# -- runs -----------------------------------------------------------------------------------------------


def built_release(work: Path) -> Path:
    """An sdist and a wheel of a tiny project, built once, offline from the test wheelhouse."""
    project = write_project(work / "src")
    dist = work / "dist"
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(REPO / ".cache" / "wheelhouse")}
    subprocess.run([sys.executable, "-m", "build", "--sdist", "--wheel", "--outdir", str(dist),
                    str(project)], env=env, capture_output=True, check=True, timeout=TIMEOUT)
    return dist


def runner_env(commands: str, index_url: str, password: str, extra: Mapping[str, str]) -> dict[str, str]:
    step = uuid.uuid4().hex
    return {
        "HOME": "/github/home", "CI": "true", "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": WORKSPACE,
        "GITHUB_OUTPUT": f"{commands}/set_output_{step}",
        "GITHUB_STEP_SUMMARY": f"{commands}/step_summary_{step}",
        "GITHUB_REPOSITORY": "octo-org/bench-release", "GITHUB_REF": "refs/heads/main",
        "INPUT_REPOSITORY-URL": index_url, "INPUT_PASSWORD": password, "INPUT_USER": USER,
        **extra,
    }


class Stage:
    """A workspace with the release in dist/, the runner's side directories, and how to start the
    action on it: in the image (as the runner does) or with this checkout's Python."""

    def __init__(self, root: Path, release: Path) -> None:
        self.workspace = root / "workspace"
        shutil.copytree(release, self.workspace / "dist")
        self.home = root / "home"
        self.commands = root / "file_commands"
        self.home.mkdir()
        self.commands.mkdir()
        # As on a runner: the checkout belongs to the runner's user, the container runs as root.
        for path in (self.workspace, *self.workspace.rglob("*"), self.home, self.commands):
            os.lchown(path, RUNNER_UID, RUNNER_UID)

    def container(self, image: str, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        command = podman_run(
            "--network", "host", "--workdir", WORKSPACE,
            "-v", f"{self.workspace}:{WORKSPACE}", "-v", f"{self.home}:/github/home",
            "-v", f"{self.commands}:/github/file_commands",
            *[arg for key in env for arg in ("-e", key)], image)
        return command, {**os.environ, **env}

    def host(self, env: Mapping[str, str]) -> tuple[list[str], dict[str, str]]:
        local = {**env, "GITHUB_WORKSPACE": str(self.workspace), "HOME": str(self.home),
                 "GITHUB_OUTPUT": env["GITHUB_OUTPUT"].replace("/github/file_commands",
                                                               str(self.commands)),
                 "GITHUB_STEP_SUMMARY": env["GITHUB_STEP_SUMMARY"].replace(
                     "/github/file_commands", str(self.commands))}
        clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "INPUT_"))}
        return [sys.executable, str(REPO / "entrypoint.py")], {**clean, **local}


def first_line_and_exit(command: Sequence[str], env: Mapping[str, str], cwd: Path | None,
                        skip_masks: bool = True) -> tuple[float, float, int]:
    """Seconds to the first line printed (not counting `::add-mask::`), seconds to exit, status."""
    started = time.perf_counter()
    with subprocess.Popen(list(command), env=dict(env), cwd=cwd, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True) as process:
        assert process.stdout is not None
        first = float("nan")
        for line in process.stdout:
            if skip_masks and line.startswith("::add-mask::"):
                continue
            first = time.perf_counter() - started
            break
        process.stdout.read()
        try:
            status = process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            status = process.wait()
    return first, time.perf_counter() - started, status


def measure_runs(image: str, release: Path, runs: int) -> dict[str, list[float]]:
    found: dict[str, list[float]] = {k: [] for k in (
        "bare", "container_first", "host_first", "container_publish", "host_publish")}
    bare = podman_run("--network", "none", "--entrypoint", "/opt/venv/bin/python", image,
                      "-c", "print('up')")
    for round_number in range(runs + 1):  # round 0 warms the caches and is not kept
        with tempfile.TemporaryDirectory(prefix="pypi-publish-image-bench-") as tmp:
            timings: dict[str, float] = {}
            timings["bare"] = first_line_and_exit(bare, os.environ, None, False)[0]
            for where in ("container", "host"):
                stage = Stage(Path(tmp) / where, release)
                with Index(Path(tmp) / f"index-{where}") as index:
                    env = runner_env("/github/file_commands", index.url, index.password, {})
                    command, full_env = (stage.container(image, env) if where == "container"
                                         else stage.host(env))
                    first, total, status = first_line_and_exit(
                        command, full_env, stage.workspace if where == "host" else None)
                    if status != 0 or len(index.files()) != 2:
                        raise RuntimeError(f"the {where} publish failed (exit {status}, "
                                           f"index has {index.files()})")
                    timings[f"{where}_first"], timings[f"{where}_publish"] = first, total
        if round_number:
            for key, value in timings.items():
                found[key].append(value)
    return found


# -- report -----------------------------------------------------------------------------------------------


def table(results: Results) -> str:
    def mb(n: int | None) -> str:
        return "n/a" if n is None else f"{n / MB:.1f} MB"

    def s(t: Timing) -> str:
        return f"{t['median_s']:.2f} s"

    rows = [
        ("image adds over its base", mb(results["added_bytes"])),
        (f"base ({results['base']})", mb(results["base_bytes"])),
        ("image total on that base", mb(results["image_bytes"])),
        ("uv would add (binary + metadata)", mb(results.get("uv_would_add_bytes"))),
        ("cold build (base present, no layer cache)", f"{results['cold_build_s']:.1f} s"),
        ("bare container start to `print` (python -c)", s(results["bare_container_start_s"])),
        ("container start to first log line", s(results["container_first_line_s"])),
        ("same, outside the container", s(results["host_first_line_s"])),
        ("2-file token publish, in the container", s(results["container_publish_s"])),
        ("same, outside the container", s(results["host_publish_s"])),
    ]
    lines = ["| measure | value |", "|---|---|", *[f"| {a} | {b} |" for a, b in rows]]
    lines += ["", "Largest parts of /opt/venv:", "",
              ", ".join(f"{name} {size / MB:.1f} MB" for name, size in results["venv_top"])]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--base", default="localhost/python-slim-like:3.11")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--online", action="store_true",
                        help="build from PyPI instead of .cache/container/wheels")
    parser.add_argument("--results", type=Path, default=REPO / "benchmarks" / "results" / "image.json")
    args = parser.parse_args(argv)
    for tool in ("buildah", "podman"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: run `bash .ci/container setup`", file=sys.stderr)
            return 2
    image = f"localhost/pypi-publish:bench-{uuid.uuid4().hex[:8]}"
    wheelhouse = None if args.online else REPO / ".cache" / "container" / "wheels"
    results: Results = {"base": args.base, "image": image,
                        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs"}
    try:
        results["cold_build_s"] = build_image(args.base, image, wheelhouse)
        results["base_bytes"] = image_bytes(args.base)
        results["image_bytes"] = image_bytes(image)
        results["added_bytes"] = results["image_bytes"] - results["base_bytes"]
        results["venv_top"] = venv_top(image)
        results["uv_would_add_bytes"] = uv_would_add()
        with tempfile.TemporaryDirectory(prefix="pypi-publish-image-release-") as tmp:
            found = measure_runs(image, built_release(Path(tmp)), args.runs)
        results["bare_container_start_s"] = timing(found["bare"])
        results["container_first_line_s"] = timing(found["container_first"])
        results["host_first_line_s"] = timing(found["host_first"])
        results["container_publish_s"] = timing(found["container_publish"])
        results["host_publish_s"] = timing(found["host_publish"])
    finally:
        subprocess.run(["podman", "rmi", "--force", image], capture_output=True, check=False)
    print(table(results))
    args.results.parent.mkdir(parents=True, exist_ok=True)
    args.results.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{args.results.relative_to(REPO) if args.results.is_relative_to(REPO) else args.results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

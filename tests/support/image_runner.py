"""Runs the action's image exactly as the Actions runner runs a Docker action (podman here).

The runner starts a Docker action as root with `--workdir /github/workspace`, the checkout mounted
there, `/github/home` and `/github/file_commands` mounted, the inputs as `INPUT_<NAME>` variables
(passed by name, so no value is on a command line) and `GITHUB_OUTPUT`/`GITHUB_STEP_SUMMARY`
pointing into `/github/file_commands`; the image's ENTRYPOINT does the rest. The workspace belongs
to the runner's user (uid 1001), not to root. `--network host` stands in for the runner's network
so the container reaches the loopback index.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests.conftest import BuiltDists, Run, parse_output_file
from tests.support.containers import podman, podman_run
from tests.support.index_server import IndexServer
from tests.support.secret_sweep import sweep_file

RUNNER_UID = 1001
WORKSPACE = "/github/workspace"


@dataclass
class Mounts:
    """What the runner mounts, and extras a test adds (as `-v host:container[:options]`)."""

    workspace: Path | None
    read_only: bool = False
    extra: list[str] = field(default_factory=list)


RunImage = Callable[..., Run]


def image_runner(image: str, tmp_path: Path) -> RunImage:
    """Run the image the way the runner runs a Docker action; return what it left behind."""
    home = tmp_path / "github_home"
    commands = tmp_path / "file_commands"
    for directory in (home, commands):
        directory.mkdir(exist_ok=True)
        os.chown(directory, RUNNER_UID, RUNNER_UID)

    def run(
        mounts: Mounts,
        inputs: Mapping[str, str],
        env: Mapping[str, str] | None = None,
        workdir: str = WORKSPACE,
        options: Sequence[str] = (),
        timeout: float = 240,
    ) -> Run:
        step = uuid.uuid4().hex
        output = sweep_file(commands / f"set_output_{step}")
        summary = sweep_file(commands / f"step_summary_{step}")
        values = {
            "HOME": "/github/home",
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": WORKSPACE,
            "GITHUB_OUTPUT": f"/github/file_commands/{output.name}",
            "GITHUB_STEP_SUMMARY": f"/github/file_commands/{summary.name}",
            "GITHUB_REPOSITORY": "octo-org/sample-project",
            "GITHUB_REF": "refs/heads/main",
            "GITHUB_REF_TYPE": "branch",
            "GITHUB_REF_NAME": "main",
            "RUNNER_OS": "Linux",
            **{f"INPUT_{name.upper()}": value for name, value in inputs.items()},
            **(env or {}),
        }
        volumes = ["-v", f"{home}:/github/home", "-v", f"{commands}:/github/file_commands"]
        if mounts.workspace is not None:
            volumes += ["-v", f"{mounts.workspace}:{WORKSPACE}" + (":ro" if mounts.read_only else "")]
        for extra in mounts.extra:
            volumes += ["-v", extra]
        name = f"pypi-publish-test-{step[:12]}"
        command = podman_run(
            "--name", name, "--network", "host", "--workdir", workdir, *volumes, *options,
            # By name, as the runner does: the values (a token among them) stay off the command line.
            *[arg for key in values for arg in ("-e", key)],
            image,
        )
        try:
            proc = subprocess.run(command, env={**os.environ, **values}, capture_output=True,
                                  text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            subprocess.run(podman("rm", "--force", "--time", "0", name), capture_output=True,
                           check=False)
            raise
        # Into pytest's capture, so the secrets sweep sees everything the container printed.
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
        outputs = parse_output_file(output.read_text()) if output.exists() else {}
        summary_text = summary.read_text() if summary.exists() else ""
        return Run(proc.returncode, proc.stdout, proc.stderr, outputs, summary_text)

    return run


def runner_owned(path: Path) -> Path:
    """Hand `path` and everything in it to the runner's user, as a checkout on a runner is."""
    for item in [path, *path.rglob("*")]:
        os.lchown(item, RUNNER_UID, RUNNER_UID)
    return path


def with_dists(workspace: Path, built_dists: BuiltDists) -> Path:
    shutil.copytree(built_dists(), workspace / "dist")
    return runner_owned(workspace)


def token_inputs(index: IndexServer) -> dict[str, str]:
    return {"repository-url": index.upload_url, "password": index.password}

"""The release's multi-arch image: one manifest list for amd64 and arm64, the arm64 one run under qemu.

`scripts/release-image --no-push` builds both platforms as a release does, here offline on the
local bases (one manifest list, as the public base is) with buildah; the arm64 build and run go
through Debian's qemu-user-static registered with binfmt_misc (`bash .ci/container setup`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BuiltDists
from tests.support.containers import IMAGE_WHEELS, REPO, SETUP_HINT, podman_run, tools_missing

pytestmark = [pytest.mark.container, pytest.mark.slow]

BASE_MULTI = "localhost/python-slim-like:3.11-multi"
REFERENCE = "ghcr.io/pypi-publish-test/pypi-publish:v0.0.0"
BINFMT = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
BUILD_SECONDS = 1200


def unavailable() -> str | None:
    reason = tools_missing()
    if reason:
        return reason
    if not BINFMT.exists() or "enabled" not in BINFMT.read_text():
        return ("qemu-aarch64 is not registered with binfmt_misc (this sandbox may not allow it; "
                f"{SETUP_HINT})")
    if subprocess.run(["buildah", "manifest", "exists", BASE_MULTI], capture_output=True,
                      check=False).returncode != 0:
        return f"the local multi-arch base {BASE_MULTI} does not exist ({SETUP_HINT})"
    if not any(IMAGE_WHEELS.glob("*aarch64*.whl")) or not any(IMAGE_WHEELS.glob("git_*_arm64.deb")):
        return f"{IMAGE_WHEELS} has no arm64 wheels or git ({SETUP_HINT})"
    return None


@pytest.fixture(scope="module")
def manifest() -> Iterator[dict[str, str]]:
    """The rehearsed release's manifest list: {architecture: instance digest}."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    proc = subprocess.run(
        [str(REPO / "scripts" / "release-image"), "v0.0.0", "--owner", "pypi-publish-test",
         "--no-push", "--platforms", "linux/amd64,linux/arm64", "--base", BASE_MULTI,
         "--wheelhouse", str(IMAGE_WHEELS)],
        capture_output=True, text=True, timeout=BUILD_SECONDS, check=False)
    if proc.returncode != 0:
        pytest.fail(f"release-image failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    listing = subprocess.run(["buildah", "manifest", "inspect", REFERENCE], capture_output=True,
                             text=True, timeout=60, check=True)
    instances = {entry["platform"]["architecture"]: entry["digest"]
                 for entry in json.loads(listing.stdout)["manifests"]}
    try:
        yield instances
    finally:
        subprocess.run(["buildah", "manifest", "rm", REFERENCE], capture_output=True, timeout=120,
                       check=False)
        for digest in instances.values():
            subprocess.run(["podman", "rmi", "--force", f"{REFERENCE.split(':')[0]}@{digest}"],
                           capture_output=True, timeout=120, check=False)


def arm64(manifest: dict[str, str]) -> str:
    return f"{REFERENCE.rsplit(':', 1)[0]}@{manifest['arm64']}"


def test_release_image_makes_one_manifest_list_for_amd64_and_arm64(manifest: dict[str, str]) -> None:
    assert sorted(manifest) == ["amd64", "arm64"]


def test_the_arm64_image_runs_arm64_code(manifest: dict[str, str]) -> None:
    proc = subprocess.run(
        podman_run("--network", "none", "--entrypoint", "/opt/venv/bin/python", arm64(manifest),
                   "-c", "import platform, pypi_publish.action; print(platform.machine())"),
        capture_output=True, text=True, timeout=300, check=False)
    assert (proc.returncode, proc.stdout.strip()) == (0, "aarch64"), proc.stderr


def test_the_arm64_image_answers_help(manifest: dict[str, str]) -> None:
    proc = subprocess.run(podman_run("--network", "none", arm64(manifest), "--help"),
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "repository-url" in proc.stdout


def test_the_arm64_image_does_a_dry_run(
    manifest: dict[str, str], tmp_path: Path, built_dists: BuiltDists
) -> None:
    workspace = tmp_path / "workspace"
    shutil.copytree(built_dists(), workspace / "dist")
    commands = tmp_path / "file_commands"
    commands.mkdir()
    env = {"GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": "/github/workspace",
           "GITHUB_OUTPUT": "/github/file_commands/output", "INPUT_DRY-RUN": "true",
           "INPUT_REPOSITORY-URL": "https://upload.pypi.org/legacy/"}
    proc = subprocess.run(
        podman_run("--network", "none", "-v", f"{workspace}:/github/workspace",
                   "-v", f"{commands}:/github/file_commands", "--workdir", "/github/workspace",
                   *[arg for key, value in env.items() for arg in ("-e", f"{key}={value}")],
                   arm64(manifest)),
        capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "version<<" in (commands / "output").read_text()
    assert "1.2.3" in (commands / "output").read_text()

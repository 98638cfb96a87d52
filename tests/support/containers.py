"""The action's image built with buildah, podman run as the runner runs it, and podman's Docker API.

Set up by `bash .ci/container setup`: podman, buildah, runc, the local base image (a Debian stand-in
for the public python:*-slim) and the locked wheels, so the image builds offline. Everything here
skips with a reason where that set-up could not be made.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent.parent
BASE = os.environ.get("PYPI_PUBLISH_TEST_BASE", "localhost/python-slim-like:3.11")
# An image built elsewhere (a release candidate, another base) to test instead of building one.
GIVEN_IMAGE = os.environ.get("PYPI_PUBLISH_TEST_IMAGE", "")
# The locked wheels and the base release's git package, for offline builds (.ci/container).
IMAGE_WHEELS = REPO / ".cache" / "container" / "wheels"
SCM_WHEELS = REPO / ".cache" / "container" / "scm-wheels"
SETUP_HINT = "run `bash .ci/container setup`"
BUILD_SECONDS = 900


def runc() -> str | None:
    return shutil.which("runc") or next(
        (p for p in ("/usr/sbin/runc", "/usr/bin/runc") if Path(p).is_file()), None)


def podman(*args: str) -> list[str]:
    # runc rather than crun, and cgroupfs: what works in an unprivileged CI sandbox without systemd.
    return ["podman", "--runtime", runc() or "runc", "--cgroup-manager=cgroupfs", *args]


def podman_run(*args: str) -> list[str]:
    # Explicit limits: raising the defaults needs a capability such sandboxes lack.
    return podman("run", "--rm", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=20000:20000",
                  *args)


def tools_missing() -> str | None:
    """Why podman and buildah cannot run images here, or None."""
    if os.geteuid() != 0:
        return "needs root, as the runner runs the image (rootful podman, workspaces owned by uid 1001)"
    for tool in ("podman", "buildah"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed ({SETUP_HINT})"
    if runc() is None:
        return f"runc is not installed ({SETUP_HINT})"
    return None


def image_exists(name: str) -> bool:
    return subprocess.run(["podman", "image", "exists", name], check=False).returncode == 0


def unavailable() -> str | None:
    """Why the image cannot be built and run here, or None."""
    reason = tools_missing()
    if reason:
        return reason
    if GIVEN_IMAGE:
        return None if image_exists(GIVEN_IMAGE) else f"PYPI_PUBLISH_TEST_IMAGE={GIVEN_IMAGE} does not exist"
    if not image_exists(BASE):
        return f"the local base image {BASE} does not exist ({SETUP_HINT})"
    if not any(IMAGE_WHEELS.glob("pip-*.whl")) or not any(IMAGE_WHEELS.glob("git_*_amd64.deb")):
        return f"{IMAGE_WHEELS} lacks the locked wheels or git to build the image offline ({SETUP_HINT})"
    return None


def build(context: Path, tag: str, base: str, wheels: Path, platform: str | None = None,
          timeout: float = BUILD_SECONDS) -> None:
    """`buildah bud` of `context`'s Dockerfile on `base`, offline: wheels and git from `wheels`."""
    command = ["buildah", "bud", "--quiet", "--isolation", "chroot", "--network", "host",
               "-v", f"{wheels}:/wheels:ro", "--build-arg", f"BASE={base}",
               "--build-arg", "WHEELHOUSE=/wheels", "--build-arg", "DEBS=/wheels", "-t", tag]
    if platform:
        command += ["--platform", platform]
    proc = subprocess.run([*command, str(context)], capture_output=True, text=True,
                          timeout=timeout, check=False)
    if proc.returncode != 0:
        pytest.fail(f"buildah bud failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")


_BUILT: dict[str, str] = {}


def action_image(request: pytest.FixtureRequest) -> str:
    """The action's image from this checkout, built once per test session (or PYPI_PUBLISH_TEST_IMAGE)."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    if GIVEN_IMAGE:
        return GIVEN_IMAGE
    if "image" not in _BUILT:
        tag = f"localhost/pypi-publish:test-{uuid.uuid4().hex[:12]}"
        build(REPO, tag, BASE, IMAGE_WHEELS)
        _BUILT["image"] = tag
        request.session.addfinalizer(lambda: remove_image(tag))
    return _BUILT["image"]


def remove_image(tag: str) -> None:
    subprocess.run(["podman", "rmi", "--force", tag], capture_output=True, timeout=120, check=False)


# -- podman's Docker-compatible API ---------------------------------------------------------------

# podman reads these for every container it starts through the API, which has no runtime or
# ulimit flags of its own: the same choices as `podman()` and `podman_run()` above.
CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=20000:20000"]
[engine]
runtime = "{runtime}"
cgroup_manager = "cgroupfs"
"""


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


def ping(socket_path: Path, timeout: float = 2.0) -> bool:
    """The Docker API's health check, `GET /_ping` answering `OK`."""
    connection = _UnixConnection(str(socket_path), timeout)
    try:
        connection.request("GET", "/_ping")
        answer = connection.getresponse()
        return answer.status == 200 and answer.read().strip() == b"OK"
    except OSError:
        return False
    finally:
        connection.close()


class DockerApi:
    """`podman system service` on a unix socket in `directory`: what `docker` and act talk to."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.socket = directory / "podman.sock"
        self.conf = directory / "containers.conf"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 30.0) -> DockerApi:
        self.conf.write_text(CONTAINERS_CONF.format(runtime=runc() or "runc"))
        env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        with (self.directory / "service.log").open("wb") as log:
            self.process = subprocess.Popen(
                podman("system", "service", "--time", "0", self.host),
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"podman system service exited: {self.log()}")
            if self.socket.exists() and ping(self.socket):
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"podman system service did not answer within {timeout:.0f} s")

    def log(self) -> str:
        path = self.directory / "service.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


_API: dict[str, DockerApi] = {}


def docker_api(request: pytest.FixtureRequest,
               factory: pytest.TempPathFactory) -> DockerApi:
    """One podman API service per test session; skips where podman or a `docker` CLI is missing."""
    reason = tools_missing()
    if reason:
        pytest.skip(reason)
    if shutil.which("docker") is None:
        pytest.skip(f"no `docker` command to talk to the engine ({SETUP_HINT})")
    if "api" not in _API:
        api = DockerApi(factory.mktemp("docker-api")).start()
        _API["api"] = api
        request.session.addfinalizer(api.stop)
    return _API["api"]


def docker_env(api: DockerApi) -> dict[str, str]:
    """What `docker` needs to reach the service, and no leftover of another engine."""
    return {"DOCKER_HOST": api.host, "DOCKER_CONFIG": str(api.directory / "docker-config")}


# -- the action as a release has it ---------------------------------------------------------------

# What `uses: <org>/pypi-publish@<tag>` fetches and the action needs: the composite, the launcher,
# the source and lock host mode installs, and what docker mode builds from.
ACTION_FILES = ("action.yml", "entrypoint.py", "Dockerfile", ".dockerignore", "pyproject.toml",
                "README.md", "launcher", "src", "docker")


def copy_action(target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ACTION_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=ignore)
        else:
            shutil.copy2(source, target / name)
    return target


def digest_reference(image: str) -> str:
    """`docker://NAME@sha256:…` for a local image, the form a release names its image in."""
    digest = subprocess.run(["podman", "image", "inspect", "--format", "{{.Digest}}", image],
                            capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    return f"docker://{image.rsplit(':', 1)[0]}@{digest}"


def point_at(action_dir: Path, reference: str) -> None:
    """What the release does to action.yml (scripts/release-image --point-at)."""
    subprocess.run([str(REPO / "scripts" / "release-image"), "--point-at", reference,
                    "--action-yml", str(action_dir / "action.yml")],
                   capture_output=True, text=True, timeout=60, check=True)


def released_action(target: Path, image: str) -> Path:
    """A copy of this checkout's action with docker mode pointed at `image` by digest."""
    point_at(copy_action(target), digest_reference(image))
    return target

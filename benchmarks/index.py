"""A real pypiserver on loopback for one benchmark run: fresh package root, htpasswd, waitress."""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from passlib.apache import HtpasswdFile  # type: ignore[import-untyped,unused-ignore]

USER = "__token__"
START_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback port nothing listens on now: pypiserver is started on it, and connecting to it
    while nothing is started there is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Index:
    """pypiserver serving `root/packages`; uploads need `USER` and a password made per index.

    Reads are not authenticated, as on PyPI, so "what is already there" costs what it costs there.
    `--server auto` picks waitress when it is installed (pypiserver 2.4 does not accept the
    name); without it pypiserver would serve one request at a time and hide parallel uploads.
    """

    def __init__(self, root: Path, preload: list[Path] | None = None) -> None:
        self.root = root
        self.packages = root / "packages"
        self.password = "pypi-" + secrets.token_urlsafe(24)
        self.preload = preload or []
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> Index:
        self.packages.mkdir(parents=True, exist_ok=True)
        for path in self.preload:
            # A hard link is instant and pypiserver only reads the file.
            target = self.packages / path.name
            try:
                os.link(path, target)
            except OSError:
                target.write_bytes(path.read_bytes())
        htpasswd = HtpasswdFile(str(self.root / "htpasswd"), new=True)
        htpasswd.set_password(USER, self.password)
        htpasswd.save()
        self.port = free_port()
        with (self.root / "server.log").open("wb") as log:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "pypiserver", "run", "-i", "127.0.0.1",
                 "-p", str(self.port), "--server", "auto", "-P", str(self.root / "htpasswd"),
                 "-a", "update", "--disable-fallback", "--hash-algo", "sha256",
                 str(self.packages)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        assert self._process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                log = (self.root / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"pypiserver exited with {self._process.returncode}:\n{log}")
            try:
                with urllib.request.urlopen(self.url + "health", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            # Polling pace while the server imports; the loop itself is bounded by the deadline.
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"pypiserver not healthy at {self.url} after {START_TIMEOUT} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def files(self) -> list[str]:
        return sorted(p.name for p in self.packages.iterdir() if p.is_file())

    def __enter__(self) -> Index:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

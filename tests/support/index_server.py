"""A real pypiserver on a free loopback port, with htpasswd auth and a fresh package root."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from passlib.apache import HtpasswdFile

from .secret_sweep import new_secret


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited early with code {process.returncode}")
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"server at {url} not healthy after {timeout}s")


@dataclass
class IndexServer:
    """pypiserver serving `root`; uploads need `user`/`password` (an API-token-shaped secret)."""

    root: Path
    user: str = "__token__"
    password: str = field(default_factory=lambda: new_secret("pypi-"))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def upload_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> IndexServer:
        packages = self.root / "packages"
        packages.mkdir(parents=True, exist_ok=True)
        htpasswd = HtpasswdFile(str(self.root / "htpasswd"), new=True)
        htpasswd.set_password(self.user, self.password)
        htpasswd.save()
        self.port = free_port()
        self.log_path = self.root / "server.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable, "-m", "pypiserver", "run",
                    "-i", "127.0.0.1", "-p", str(self.port),
                    "--server", "auto",
                    "-P", str(self.root / "htpasswd"), "-a", "update",
                    "--disable-fallback", "--hash-algo", "sha256",
                    # Read the directory on every request, so emptying it empties the index.
                    "--backend", "simple-dir",
                    str(packages),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_until_healthy(self.url + "health", self.process)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.process = None

    def clear(self) -> None:
        """Remove every file the index holds (between tests that share the server)."""
        for path in (self.root / "packages").iterdir():
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()

    def files(self) -> list[str]:
        """Names of the files the index holds, sorted."""
        return sorted(p.name for p in (self.root / "packages").iterdir() if p.is_file())

    def file_bytes(self, name: str) -> bytes:
        return (self.root / "packages" / name).read_bytes()

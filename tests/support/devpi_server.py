"""A real devpi-server on a free loopback port: one user, a volatile and a non-volatile index.

devpi lays its URLs out per user and index: uploads go to `/{user}/{index}/`, the simple API is
`/{user}/{index}/+simple/`, and `/{user}/{index}/{project}` answers JSON when asked for it. Nothing
here reaches the network: the server is initialised without the `root/pypi` mirror and runs in
offline mode.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests
from argon2 import PasswordHasher

from .index_server import free_port, wait_until_healthy
from .secret_sweep import new_secret, remember_secret

USER = "alice"
VOLATILE = "volatile"
STABLE = "stable"
JSON = {"Accept": "application/json"}
START_TIMEOUT = 60.0
API_TIMEOUT = 30.0
# devpi derives its login-token key with argon2 at start-up; its defaults (512 MiB, 16 passes, 8
# lanes) take about 10 s on two cores. The hidden `--argon2-*` options (devpi-server >= 6.0,
# server/devpi_server/config.py `add_secretfile_option`) are how devpi's own tests make it cheap.
FAST_KEY_DERIVATION = ("--argon2-memory-cost", "8", "--argon2-time-cost", "1",
                       "--argon2-parallelism", "1")
# `devpi-init`, then `devpi-server` in the same interpreter: importing devpi takes about a second,
# and this pays it once. Arguments before `--` go to devpi-init, the rest to devpi-server.
_INIT_THEN_SERVE = (
    "import sys\n"
    "from devpi_server.init import init\n"
    "from devpi_server.main import main\n"
    "args = sys.argv[1:]\n"
    "cut = args.index('--')\n"
    "code = init(argv=['devpi-init', *args[:cut]])\n"
    "sys.exit(code or main(argv=['devpi-server', *args[cut + 1:]]))\n"
)


@dataclass(frozen=True)
class DevpiIndex:
    """One index of the server, and the URLs a client uses for it."""

    root: str  # the server's root URL, without a trailing slash
    name: str  # "user/index"
    volatile: bool

    @property
    def upload_url(self) -> str:
        return f"{self.root}/{self.name}/"

    @property
    def simple_url(self) -> str:
        return f"{self.root}/{self.name}/+simple/"

    def project_simple_url(self, project: str) -> str:
        return f"{self.simple_url}{project}/"

    def project_json_url(self, project: str) -> str:
        return f"{self.root}/{self.name}/{project}"


@dataclass
class DevpiServer:
    """devpi-server with its data in `root`; `start()` makes the user and both indexes."""

    root: Path
    user: str = USER
    password: str = field(default_factory=lambda: new_secret("devpi-"))
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    startup_seconds: float = 0.0  # from `devpi-init` to both indexes made

    @property
    def url(self) -> str:
        """The server's root URL, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def volatile(self) -> DevpiIndex:
        return DevpiIndex(self.url, f"{self.user}/{VOLATILE}", volatile=True)

    @property
    def stable(self) -> DevpiIndex:
        return DevpiIndex(self.url, f"{self.user}/{STABLE}", volatile=False)

    @property
    def auth(self) -> tuple[str, str]:
        return (self.user, self.password)

    def start(self) -> DevpiServer:
        began = time.monotonic()
        self.root.mkdir(parents=True, exist_ok=True)
        serverdir = self.root / "server"
        self.log_path = self.root / "devpi.log"
        self.port = free_port()
        # root gets a password nobody knows, hashed with low argon2 costs (argon2-cffi comes with
        # devpi-server): devpi's own take 0.3 s, and root never logs in.
        root_hash = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(new_secret())
        init = ["--serverdir", str(serverdir), "--no-root-pypi", "--root-passwd-hash", root_hash]
        serve = ["--serverdir", str(serverdir), "--host", "127.0.0.1", "--port", str(self.port),
                 "--offline-mode", "--threads", "8", "--request-timeout", "5",
                 *FAST_KEY_DERIVATION]
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-W", "ignore", "-c", _INIT_THEN_SERVE, *init, "--", *serve],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            wait_until_healthy(self.url + "/+api", self.process, timeout=START_TIMEOUT)
            self._create_user_and_indexes()
        except RuntimeError as error:
            self.stop()
            raise RuntimeError(f"{error}; devpi's log ends:\n{self.log_tail()}") from error
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _create_user_and_indexes(self) -> None:
        # Anyone may create a user (devpi's default without --restrict-modify); the user then
        # creates its own indexes with a login token, which spares an argon2 check per request.
        answer = requests.put(f"{self.url}/{self.user}", json={"password": self.password},
                              headers=JSON, timeout=API_TIMEOUT)
        _expect(answer, 201)
        token = (self.user, self.login_token())
        for index in (self.volatile, self.stable):
            answer = requests.put(f"{self.url}/{index.name}", auth=token, headers=JSON,
                                  json={"type": "stage", "bases": [], "volatile": index.volatile},
                                  timeout=API_TIMEOUT)
            _expect(answer, 200)  # devpi answers 200 with the index's config, not 201

    def login_token(self) -> str:
        """A devpi login token for `self.user`, usable as the password of HTTP Basic auth.

        devpi checks every Basic password with argon2 (about 0.3 s a request here) unless it is a
        token from `/+login` (server/devpi_server/auth.py `_get_auth_status` tries the token
        first); valid for ten hours (`LOGIN_EXPIRATION`).
        """
        answer = requests.post(f"{self.url}/+login", headers=JSON, timeout=API_TIMEOUT,
                               json={"user": self.user, "password": self.password})
        _expect(answer, 200)
        return remember_secret(str(answer.json()["result"]["password"]))

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

    def log_tail(self, lines: int = 30) -> str:
        if self.log_path is None or not self.log_path.is_file():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def __enter__(self) -> DevpiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def files(self, index: DevpiIndex, project: str) -> dict[str, str]:
        """File name -> sha256 of every release file `index` holds for `project` ({} if none).

        An index that does not exist is an error, not an empty project: devpi answers both with
        404, told apart by the message (`no project 'x'` or `The stage u/i could not be found.`).
        """
        answer = requests.get(index.project_json_url(project), headers=JSON, timeout=API_TIMEOUT)
        if answer.status_code == 404 and str(answer.json().get("message")).startswith("no project "):
            return {}
        _expect(answer, 200)
        found: dict[str, str] = {}
        for version in answer.json()["result"].values():
            for link in version.get("+links", ()):
                if link.get("rel") != "releasefile":
                    continue
                algorithm, _, digest = str(link["hash_spec"]).partition("=")
                if algorithm != "sha256":
                    raise RuntimeError(f"devpi gave a {algorithm} hash for {link['href']}")
                found[str(link["href"]).rsplit("/", 1)[-1]] = digest
        return found


def _expect(answer: requests.Response, status: int) -> None:
    if answer.status_code != status:
        raise RuntimeError(f"devpi answered {answer.request.method} {answer.url} with "
                           f"{answer.status_code} {answer.reason}: {answer.text[:300]}")

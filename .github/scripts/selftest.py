"""The steps of the self-test workflow: an index for the run, and checks of what the action did.

Each subcommand is one step of `.github/workflows/self-test.yml`; `tests/test_workflows.py` runs
the same steps, in the workflow's order, on this machine. Standard library only, so it runs on
every runner's Python (Linux, macOS, Windows) with nothing installed but the index itself.

The index is pypiserver, installed with pip on the runner (service containers exist on Linux
only) and started in the background by `start-index`, on loopback over plain http: the action
sends a token over http to loopback hosts only, and in docker mode its container shares the
runner's network (`PYPI_PUBLISH_DOCKER_NETWORK: host`).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

USER = "__token__"
WAIT_SECONDS = 90.0


class CheckFailed(Exception):
    """What the action did differs from what the step expects."""


# -- outputs and masks, as the runner reads them --------------------------------------------------


def set_output(name: str, value: str) -> None:
    path = os.environ.get("GITHUB_OUTPUT")
    if not path:
        print(f"{name}={value}")
        return
    with Path(path).open("a", encoding="utf-8") as handle:
        handle.write(f"{name}={value}\n")


def mask(value: str) -> None:
    # The runner masks a value from the line that carries this command on; nothing printed before.
    print(f"::add-mask::{value}", flush=True)


# -- prepare: a token and its htpasswd line --------------------------------------------------------


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry in the `{SHA}` scheme, which pypiserver's passlib checks.

    Unsalted SHA-1 is weak for a password someone chose; this one is a random token that lives
    for one run, on one runner.
    """
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    return f"{user}:{{SHA}}{digest}\n"


def prepare(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    wrong_token = secrets.token_urlsafe(32)
    mask(token)
    mask(wrong_token)
    (directory / "htpasswd").write_text(htpasswd_line(USER, token))
    set_output("token", token)
    set_output("wrong-token", wrong_token)
    print(f"A token and its htpasswd file are in {directory}.")


# -- the index ------------------------------------------------------------------------------------


def pypiserver_args(port: int, htpasswd: str, packages: str) -> list[str]:
    """`pypi-server` arguments for an index that takes uploads from the token's owner only."""
    return ["run", "--interface", "127.0.0.1", "--port", str(port), "--server", "auto",
            "--passwords", htpasswd, "--authenticate", "update",
            "--disable-fallback", "--hash-algo", "sha256", packages]


def detached() -> dict[str, Any]:
    """Popen options that let the index outlive this step (the runner ends it with the job)."""
    if os.name == "nt":
        flags = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS  # type: ignore[attr-defined,unused-ignore]
        return {"creationflags": flags}
    return {"start_new_session": True}


def start_index(directory: Path, port: int) -> None:
    packages = directory / "packages"
    packages.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pypiserver",
               *pypiserver_args(port, str(directory / "htpasswd"), str(packages))]
    with (directory / "index.log").open("wb") as log:
        server = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                  stderr=subprocess.STDOUT, **detached())
    (directory / "index.pid").write_text(str(server.pid))
    url = f"http://127.0.0.1:{port}/"
    print(f"Started pypiserver (process {server.pid}) at {url}.")
    wait_for_index(url + "health", WAIT_SECONDS, server)
    set_output("index-url", url)


def stop_index(directory: Path) -> None:
    pid = int((directory / "index.pid").read_text())
    try:
        if os.name == "nt":
            os.kill(pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
        else:
            os.killpg(pid, signal.SIGTERM)
    except OSError:
        return


def index_log(directory: Path) -> None:
    log = directory / "index.log"
    print(log.read_text(errors="replace") if log.exists() else f"{log} does not exist.", end="")


def wait_for_index(url: str, timeout: float, server: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        if server is not None and server.poll() is not None:
            raise CheckFailed(f"The index exited with code {server.returncode}; see its log.")
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310
                if answer.status == 200:
                    print(f"The index answers at {url}.")
                    return
                last = f"HTTP {answer.status}"
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = str(getattr(error, "reason", error))
        time.sleep(0.2)
    raise CheckFailed(f"The index at {url} did not answer within {timeout:.0f} s ({last}).")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.names.append(data.strip())


def files_on_index(index_url: str, project: str) -> list[str]:
    url = f"{index_url.rstrip('/')}/simple/{project}/"
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
            page = answer.read().decode()
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return []
        raise
    parser = _Links()
    parser.feed(page)
    return sorted(name for name in parser.names if name.endswith((".whl", ".tar.gz")))


# -- checks of the action's outputs ----------------------------------------------------------------


def json_list(outputs: dict[str, str], name: str) -> list[str]:
    raw = outputs.get(name)
    if raw is None:
        raise CheckFailed(f"The step has no `{name}` output (outputs: {sorted(outputs)}).")
    value = json.loads(raw)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise CheckFailed(f"Output `{name}` is not a JSON list of file names: {raw}")
    return sorted(value)


def expect(what: str, actual: object, wanted: object) -> None:
    if actual != wanted:
        raise CheckFailed(f"{what}: expected {wanted!r}, got {actual!r}.")
    print(f"ok: {what} = {actual!r}")


def check_outputs(outputs: dict[str, str], args: argparse.Namespace) -> None:
    files = json_list(outputs, "files")
    if args.files is not None:
        expect("number of files", len(files), args.files)
    for name, wanted in (("uploaded", args.uploaded), ("skipped", args.skipped)):
        if wanted is not None:
            expect(f"`{name}`", json_list(outputs, name), files if wanted == "all" else [])
    for name, wanted in (("version", args.version), ("auth", args.auth),
                         ("repository-url", args.repository_url)):
        if wanted is not None:
            expect(f"`{name}`", outputs.get(name), wanted)


def parse_outputs(raw: str) -> dict[str, str]:
    value = json.loads(raw or "{}")
    if not isinstance(value, dict):
        raise CheckFailed(f"Step outputs are not a JSON object: {raw}")
    return {str(k): str(v) for k, v in value.items()}


# -- command line ----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="selftest.py", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)

    prep = commands.add_parser("prepare", help="a token and an htpasswd file for it")
    prep.add_argument("--dir", type=Path, required=True)

    start = commands.add_parser("start-index", help="start pypiserver in the background")
    start.add_argument("--dir", type=Path, required=True)
    start.add_argument("--port", type=int, default=8080)

    stop = commands.add_parser("stop-index", help="stop the index start-index started")
    stop.add_argument("--dir", type=Path, required=True)

    log = commands.add_parser("index-log", help="print the index's log")
    log.add_argument("--dir", type=Path, required=True)

    for name, help_text in (("assert-outputs", "check a successful step's outputs"),
                            ("assert-failed", "check that a step failed, and its outputs")):
        check = commands.add_parser(name, help=help_text)
        if name == "assert-failed":
            check.add_argument("outcome", help="the step's outcome: steps.<id>.outcome")
        check.add_argument("outputs", help="the step's outputs: toJSON(steps.<id>.outputs)")
        check.add_argument("--files", type=int)
        check.add_argument("--uploaded", choices=["all", "none"])
        check.add_argument("--skipped", choices=["all", "none"])
        check.add_argument("--version")
        check.add_argument("--auth", choices=["token", "trusted-publishing"])
        check.add_argument("--repository-url")

    index = commands.add_parser("assert-index", help="check which files the index holds")
    index.add_argument("url", help="the index's root URL")
    index.add_argument("--project", required=True)
    held = index.add_mutually_exclusive_group(required=True)
    held.add_argument("--files-of", metavar="OUTPUTS", help="exactly the `files` of these outputs")
    held.add_argument("--empty", action="store_true")
    return parser


def run(args: argparse.Namespace) -> None:
    if args.command == "prepare":
        prepare(args.dir)
    elif args.command == "start-index":
        start_index(args.dir, args.port)
    elif args.command == "stop-index":
        stop_index(args.dir)
    elif args.command == "index-log":
        index_log(args.dir)
    elif args.command == "assert-outputs":
        check_outputs(parse_outputs(args.outputs), args)
    elif args.command == "assert-failed":
        expect("step outcome", args.outcome, "failure")
        check_outputs(parse_outputs(args.outputs), args)
    elif args.command == "assert-index":
        wanted = [] if args.empty else json_list(parse_outputs(args.files_of), "files")
        expect(f"files of `{args.project}` on the index",
               files_on_index(args.url, args.project), wanted)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except CheckFailed as error:
        print(f"::error title=Self-test check failed::{error}", flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The steps of the self-test workflow: an index for the run, and checks of what the action did.

Each subcommand is one step of `.github/workflows/self-test.yml`; `tests/test_workflows.py` runs
the same steps, in the workflow's order, on this machine. Standard library only (plus the
`openssl` command), so a runner's system Python runs it with nothing installed.

The index is the `pypiserver` service container. Its image runs pypiserver without any password
file, so it refuses every upload, and a service container takes no command: `start-index` copies
credentials and a certificate into it and starts a second, authenticated pypiserver there over
TLS. TLS because the action's container reaches the service by its name on the job's network,
not on loopback, and the action sends a token over plain http to loopback hosts only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from html.parser import HTMLParser
from pathlib import Path

USER = "__token__"
CONTAINER_DIR = "/data/selftest"
CONTAINER_PACKAGES = "/data/packages"
# /data itself may belong to root; /tmp is writable by the server's user.
CONTAINER_LOG = "/tmp/selftest-server.log"  # noqa: S108 -- in the throwaway container
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


# -- prepare: a token, its htpasswd line, and a CA with a server certificate -------------------------


def htpasswd_line(user: str, password: str) -> str:
    """An htpasswd entry in the `{SHA}` scheme, which pypiserver's passlib checks.

    Unsalted SHA-1 is weak for a password someone chose; this one is a random token that lives
    for one run, inside one container.
    """
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()  # noqa: S324
    return f"{user}:{{SHA}}{digest}\n"


OPENSSL_CONFIG = """\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = pypi-publish self-test
[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {alt_names}
"""


def alt_names(hosts: Sequence[str]) -> str:
    names = []
    for host in hosts:
        is_ip = host.replace(".", "").isdigit() or ":" in host
        names.append(f"IP:{host}" if is_ip else f"DNS:{host}")
    return ", ".join(names)


def openssl(*args: str) -> None:
    result = subprocess.run(["openssl", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CheckFailed(f"openssl {args[0]} failed: {result.stderr.strip()}")


def make_certificates(directory: Path, hosts: Sequence[str]) -> None:
    """ca.pem, and server.pem/server.key for `hosts`, valid for two days, strict-X.509 clean."""
    config = directory / "openssl.cnf"
    config.write_text(OPENSSL_CONFIG.format(alt_names=alt_names(hosts)))
    key_options = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key_options, "-config", str(config), "-extensions", "ca",
            "-subj", "/CN=pypi-publish self-test CA", "-days", "2",
            "-keyout", str(directory / "ca.key"), "-out", str(directory / "ca.pem"))
    openssl("req", "-new", *key_options, "-config", str(config), "-subj", f"/CN={hosts[0]}",
            "-keyout", str(directory / "server.key"), "-out", str(directory / "server.csr"))
    openssl("x509", "-req", "-in", str(directory / "server.csr"), "-days", "2",
            "-CA", str(directory / "ca.pem"), "-CAkey", str(directory / "ca.key"),
            "-set_serial", str(secrets.randbits(63)),
            "-extfile", str(config), "-extensions", "server", "-out", str(directory / "server.pem"))
    # The server runs as another user in the container; this key dies with the run.
    (directory / "server.key").chmod(0o644)
    for name in ("ca.key", "server.csr", "openssl.cnf"):
        (directory / name).unlink()


def prepare(directory: Path, hosts: Sequence[str]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)
    token = secrets.token_urlsafe(32)
    wrong_token = secrets.token_urlsafe(32)
    mask(token)
    mask(wrong_token)
    (directory / "htpasswd").write_text(htpasswd_line(USER, token))
    (directory / "htpasswd").chmod(0o644)
    make_certificates(directory, hosts)
    set_output("token", token)
    set_output("wrong-token", wrong_token)
    set_output("ca-file", str(directory / "ca.pem"))
    print(f"Credentials, CA and a certificate for {', '.join(hosts)} are in {directory}.")


# -- the index ------------------------------------------------------------------------------------


def pypiserver_args(port: int, htpasswd: str, packages: str, server: str,
                    interface: str = "0.0.0.0") -> list[str]:  # noqa: S104 -- the job's network
    """`pypi-server` arguments for an index that takes uploads from the token's owner only."""
    return ["run", "--interface", interface, "--port", str(port), "--server", server,
            "--passwords", htpasswd, "--authenticate", "update",
            "--disable-fallback", "--hash-algo", "sha256", packages]


def gunicorn_tls_args(directory: str) -> str:
    # The image runs pypiserver under gunicorn, which takes its TLS settings from this variable.
    return f"--certfile={directory}/server.pem --keyfile={directory}/server.key"


def docker(*args: str) -> str:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise CheckFailed(f"docker {args[0]} failed: {result.stderr.strip()}")
    return result.stdout


def start_index(container: str, directory: Path, port: int, health_url: str) -> None:
    docker("cp", f"{directory}/.", f"{container}:{CONTAINER_DIR}")
    command = ["pypi-server", *pypiserver_args(port, f"{CONTAINER_DIR}/htpasswd",
                                               CONTAINER_PACKAGES, "gunicorn")]
    docker("exec", "--detach", "--user", "pypiserver",
           "--env", f"GUNICORN_CMD_ARGS={gunicorn_tls_args(CONTAINER_DIR)}",
           container, "sh", "-c", 'exec "$@" >' + CONTAINER_LOG + " 2>&1", "sh", *command)
    print(f"Started pypiserver on port {port} in container {container[:12]}.")
    wait_for_index(health_url, directory / "ca.pem", WAIT_SECONDS)


def serve(directory: Path, port: int, interface: str) -> None:
    """The same index as a local process (the tests put TLS in front of it): replaces this one."""
    packages = directory / "packages"
    packages.mkdir(exist_ok=True)
    args = pypiserver_args(port, str(directory / "htpasswd"), str(packages), "auto", interface)
    os.execv(sys.executable, [sys.executable, "-m", "pypiserver", *args])  # noqa: S606


def index_log(container: str) -> None:
    print(docker("exec", container, "cat", CONTAINER_LOG), end="")


def tls_context(ca_file: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(ca_file))
    # What Python 3.13 checks by default: certificates fit for any client, not only this one.
    context.verify_flags |= ssl.VERIFY_X509_STRICT
    return context


def wait_for_index(url: str, ca_file: Path, timeout: float) -> None:
    context = tls_context(ca_file)
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5, context=context) as answer:  # noqa: S310
                if answer.status == 200:
                    print(f"The index answers at {url}.")
                    return
                last = f"HTTP {answer.status}"
        except ssl.SSLCertVerificationError as error:
            raise CheckFailed(f"{url} has a certificate this run's CA does not vouch for: "
                              f"{error.verify_message}") from None
        except (urllib.error.URLError, ConnectionError, TimeoutError) as error:
            last = str(getattr(error, "reason", error))
        time.sleep(0.5)
    raise CheckFailed(f"The index at {url} did not answer within {timeout:.0f} s ({last}).")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []

    def handle_data(self, data: str) -> None:
        if data.strip():
            self.names.append(data.strip())


def files_on_index(index_url: str, project: str, ca_file: Path) -> list[str]:
    url = f"{index_url.rstrip('/')}/simple/{project}/"
    try:
        with urllib.request.urlopen(url, timeout=10, context=tls_context(ca_file)) as answer:  # noqa: S310
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

    prep = commands.add_parser("prepare", help="a token, an htpasswd file, a CA and a certificate")
    prep.add_argument("--dir", type=Path, required=True)
    prep.add_argument("--host", action="append", required=True, help="a name for the certificate")

    start = commands.add_parser("start-index", help="start the index in the service container")
    start.add_argument("--container", required=True)
    start.add_argument("--dir", type=Path, required=True)
    start.add_argument("--port", type=int, default=8443)
    start.add_argument("--health", required=True, help="the index's /health URL from this host")

    local = commands.add_parser("serve", help="run the same index here, in the foreground")
    local.add_argument("--dir", type=Path, required=True)
    local.add_argument("--port", type=int, required=True)
    local.add_argument("--interface", default="127.0.0.1")

    log = commands.add_parser("index-log", help="print the log of the index in the container")
    log.add_argument("--container", required=True)

    wait = commands.add_parser("wait-index", help="wait until the index answers")
    wait.add_argument("url")
    wait.add_argument("--ca", type=Path, required=True)
    wait.add_argument("--timeout", type=float, default=WAIT_SECONDS)

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
    index.add_argument("url", help="the index's root URL from this host")
    index.add_argument("--ca", type=Path, required=True)
    index.add_argument("--project", required=True)
    held = index.add_mutually_exclusive_group(required=True)
    held.add_argument("--files-of", metavar="OUTPUTS", help="exactly the `files` of these outputs")
    held.add_argument("--empty", action="store_true")
    return parser


def run(args: argparse.Namespace) -> None:
    if args.command == "prepare":
        prepare(args.dir, args.host)
    elif args.command == "start-index":
        start_index(args.container, args.dir, args.port, args.health)
    elif args.command == "serve":
        serve(args.dir, args.port, args.interface)
    elif args.command == "index-log":
        index_log(args.container)
    elif args.command == "wait-index":
        wait_for_index(args.url, args.ca, args.timeout)
    elif args.command == "assert-outputs":
        check_outputs(parse_outputs(args.outputs), args)
    elif args.command == "assert-failed":
        expect("step outcome", args.outcome, "failure")
        check_outputs(parse_outputs(args.outputs), args)
    elif args.command == "assert-index":
        wanted = [] if args.empty else json_list(parse_outputs(args.files_of), "files")
        expect(f"files of `{args.project}` on the index",
               files_on_index(args.url, args.project, args.ca), wanted)


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

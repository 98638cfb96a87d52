"""True network failures fail fast, with the host and port named and the cause that fits: a refused
connection, a host name that does not resolve, TLS spoken to a plain-http port (the session's real
pypiserver on waitress), a download URL given as the upload URL; retries re-list the index only
after an attempt that may have reached it."""

from __future__ import annotations

import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import BuiltDists, RunAction, RunCli
from tests.support.archives import metadata_text, write_wheel
from tests.support.fault_proxy import FaultProxy, Respond, Stall
from tests.support.index_server import IndexServer, free_port
from tests.support.secret_sweep import new_secret

SIMPLE = ("GET", "/simple/")
FAST = {"PYPI_PUBLISH_RETRY_BASE_DELAY": "0.01"}
ACTION_WORDS = ("input `", "re-run the job", "the runner", "`repository-url`")


@pytest.fixture
def workspace(built_dists: BuiltDists, tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    shutil.copytree(built_dists(), path / "dist")
    return path


def test_refused_connection_fails_at_once_naming_host_and_port(
    run_action: RunAction, workspace: Path
) -> None:
    port = free_port()
    started = time.monotonic()
    run = run_action(workspace, {"repository-url": f"http://127.0.0.1:{port}/"},
                     {"PYPI_API_TOKEN": new_secret("pypi-")})
    seconds = time.monotonic() - started
    assert run.returncode == 1
    assert f"Could not reach the index at http://127.0.0.1:{port}/: connection refused; nothing " \
           "was uploaded." in run.stdout
    assert f"Nothing accepts connections at 127.0.0.1:{port}: check the host and port in " \
           "`repository-url`" in run.stdout
    assert "retrying" not in run.stdout
    assert seconds < 2.0


def test_refused_connection_through_the_real_entry_point_takes_under_two_seconds(
    run_action: RunAction, workspace: Path
) -> None:
    port = free_port()
    started = time.monotonic()
    run = run_action(workspace, {"repository-url": f"http://127.0.0.1:{port}/"},
                     {"PYPI_API_TOKEN": new_secret("pypi-")}, process=True)
    seconds = time.monotonic() - started
    assert run.returncode == 1
    assert "connection refused" in run.stdout
    assert seconds <= 2.0


def test_refused_connection_from_the_command_speaks_flags(run_cli: RunCli, workspace: Path) -> None:
    port = free_port()
    run = run_cli(["--skip-build", "--repository-url", f"http://127.0.0.1:{port}/"], workspace,
                  {"TWINE_PASSWORD": new_secret("pypi-")})
    assert run.returncode == 1
    assert f"Nothing accepts connections at 127.0.0.1:{port}: check the host and port in " \
           "`--repository-url`, and that the index is running and reachable from this machine." \
        in run.stdout
    assert not [word for word in ACTION_WORDS if word in run.stdout]


def test_unknown_host_name_fails_at_once_naming_host_and_port(
    run_action: RunAction, workspace: Path
) -> None:
    # `.invalid` never resolves (RFC 6761).
    url = "https://pypi-publish-test.invalid/legacy/"
    started = time.monotonic()
    run = run_action(workspace, {"repository-url": url}, {"PYPI_API_TOKEN": new_secret("pypi-")})
    assert time.monotonic() - started < 10
    assert run.returncode == 1
    assert f"Could not reach the index at {url} (pypi-publish-test.invalid:443): host name could " \
           "not be resolved" in run.stdout
    assert "; nothing was uploaded." in run.stdout


@pytest.mark.parametrize("door", ["action", "cli"])
def test_tls_to_a_plain_http_port_is_recognised_within_ten_seconds(
    door: str, index: IndexServer, run_action: RunAction, run_cli: RunCli, workspace: Path
) -> None:
    # waitress reads a ClientHello as the start of a request and waits for its end: without
    # a probe the handshake would wait out the connect timeout, attempt after attempt.
    url = f"https://127.0.0.1:{index.port}/"
    started = time.monotonic()
    if door == "cli":
        run = run_cli(["--skip-build", "--repository-url", url], workspace,
                      {"TWINE_PASSWORD": index.password})
    else:
        run = run_action(workspace, {"repository-url": url}, {"PYPI_API_TOKEN": index.password})
    assert time.monotonic() - started < 10
    assert run.returncode == 1
    assert (f"Could not reach the index at {url}: TLS handshake failed: the server does not speak "
            "TLS on that port (plain http?); nothing was uploaded.") in run.stdout
    setting = "`--repository-url`" if door == "cli" else "`repository-url`"
    assert (f"127.0.0.1:{index.port} answers in plain http: use `http://` only for loopback, or "
            f"fix the port in {setting}.") in run.stdout
    assert index.files() == []


def test_simple_url_as_upload_url_names_the_upload_url(
    index: IndexServer, run_action: RunAction, workspace: Path
) -> None:
    run = run_action(workspace, {"repository-url": f"{index.url}simple/"},
                     {"PYPI_API_TOKEN": index.password})
    assert run.returncode == 1
    assert (f"{index.url}simple/ is a download URL (where installers read the index), not its "
            "upload URL: the index refused it (HTTP 405)") in run.stdout
    assert f"Set `repository-url` to the upload URL: {index.url}" in run.stdout
    assert index.files() == []


# -- what a retry asks first --------------------------------------------------------------------------


@pytest.fixture
def proxy(index: IndexServer) -> Iterator[FaultProxy]:
    with FaultProxy(index.port) as fault_proxy:
        yield fault_proxy


@pytest.fixture
def black_hole() -> Iterator[int]:
    """A port whose accept queue is full: connections to it time out before they are made."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port: int = server.getsockname()[1]
    queued = socket.create_connection(("127.0.0.1", port), timeout=1)
    try:
        yield port
    finally:
        queued.close()
        server.close()


def test_a_connection_that_never_happened_is_retried_without_re_listing(
    black_hole: int, index: IndexServer, proxy: FaultProxy, run_action: RunAction, workspace: Path
) -> None:
    run = run_action(workspace, {"repository-url": f"http://127.0.0.1:{black_hole}/",
                                 "index-url": f"{proxy.url.rstrip('/')}/simple/"},
                     {"PYPI_API_TOKEN": index.password, **FAST, "PYPI_PUBLISH_RETRY_ATTEMPTS": "3",
                      "PYPI_PUBLISH_CONNECT_TIMEOUT": "0.3"})
    assert run.returncode == 1
    assert "connection timed out (after 3 attempt(s))" in run.stdout
    assert proxy.count(*SIMPLE) == 1  # the first listing, and no other


def test_a_rate_limited_upload_is_retried_without_re_listing(
    index: IndexServer, proxy: FaultProxy, run_action: RunAction, workspace: Path
) -> None:
    proxy.add("POST", "/", Respond(429), times=2)
    run = run_action(workspace, {"repository-url": proxy.url},
                     {"PYPI_API_TOKEN": index.password, **FAST})
    assert run.returncode == 0, run.text
    assert proxy.count("POST", "/") == 4
    assert proxy.count(*SIMPLE) == 2  # the project's page and the root that proves the layout


def test_an_upload_that_may_have_arrived_is_asked_for_before_it_is_resent(
    index: IndexServer, proxy: FaultProxy, run_action: RunAction, workspace: Path
) -> None:
    proxy.add("POST", "/", Respond(503), times=1)
    run = run_action(workspace, {"repository-url": proxy.url},
                     {"PYPI_API_TOKEN": index.password, **FAST})
    assert run.returncode == 0, run.text
    assert proxy.count(*SIMPLE) == 3


def test_a_failed_check_is_not_held_up_by_a_listing_still_waiting_for_the_index(
    index: IndexServer, proxy: FaultProxy, run_action: RunAction, tmp_path: Path
) -> None:
    # The listing starts while the checks run; here the index never answers it (each of 4
    # attempts waits 5 s), and the file fails its check at once.
    proxy.add(*SIMPLE, Stall(60), times=None)
    write_wheel(tmp_path / "ws" / "dist", "sample-project", "1.2.3",
                metadata_text("sample-project", "1.2.3").replace("Metadata-Version: 2.1",
                                                                 "Metadata-Version: 2.0"))
    started = time.monotonic()
    run = run_action(tmp_path / "ws", {"repository-url": proxy.url},
                     {"PYPI_API_TOKEN": index.password, "PYPI_PUBLISH_READ_TIMEOUT": "5",
                      "PYPI_PUBLISH_RETRY_ATTEMPTS": "4"})
    seconds = time.monotonic() - started
    assert run.returncode == 1
    assert "'2.0' is not a valid metadata version." in run.stdout, run.text
    assert "Traceback" not in run.text
    assert proxy.count("POST", "/") == 0
    assert seconds < 5.0

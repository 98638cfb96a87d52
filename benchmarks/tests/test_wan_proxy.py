"""The WAN-shaped proxy the benchmarks publish through: latency, bandwidth, counting, bounds.

Timing assertions are lower bounds only: a loaded machine makes things slower, never faster.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from benchmarks.http_framing import RequestCounter
from benchmarks.link import MB, LinkShape
from benchmarks.tools import TOOLS
from benchmarks.wan_proxy import WanProxy

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parent.parent.parent
# Timers may fire a hair early; nothing else can make a shaped transfer faster than its bound.
SLACK = 0.95


class _Handler(BaseHTTPRequestHandler):
    """GET /bytes/N answers N bytes; POST reads its body and answers "ok"."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        size = int(self.path.rsplit("/", 1)[-1]) if self.path.startswith("/bytes/") else 0
        self.send_response(200)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        self.wfile.write(b"x" * size)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output to what matters


@pytest.fixture
def upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    # A short poll interval keeps shutdown quick at teardown.
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _proxy(upstream: int, rtt: float = 0.0, conn_rate: float = 1000 * MB,
           total_rate: float = 1000 * MB, handshake_rtts: int = 0) -> WanProxy:
    """A proxy shaped only where a test asks; everything else as fast as loopback."""
    return WanProxy(upstream, LinkShape(rtt, conn_rate, total_rate, handshake_rtts))


def _timed(connection: http.client.HTTPConnection, method: str, path: str,
           body: bytes | None = None) -> float:
    started = time.perf_counter()
    connection.request(method, path, body=body)
    answer = connection.getresponse()
    answer.read()
    assert answer.status == 200
    return time.perf_counter() - started


def _closed_by_peer(client: socket.socket) -> bool:
    """True when the other end closed (or reset) the connection; a timeout fails the test."""
    try:
        return client.recv(1) == b""
    except ConnectionResetError:
        return True
    finally:
        client.close()


def _connection(proxy: WanProxy) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=30)


def test_a_request_on_a_new_connection_costs_the_handshake_and_one_round_trip(
    upstream: int,
) -> None:
    with _proxy(upstream, rtt=0.1, handshake_rtts=2) as proxy:
        elapsed = _timed(_connection(proxy), "GET", "/bytes/10")
    assert elapsed >= SLACK * 0.3


def test_a_request_on_an_open_connection_costs_one_round_trip(upstream: int) -> None:
    with _proxy(upstream, rtt=0.1, handshake_rtts=2) as proxy:
        connection = _connection(proxy)
        _timed(connection, "GET", "/bytes/10")
        elapsed = _timed(connection, "GET", "/bytes/10")
        connection.close()
    assert elapsed >= SLACK * 0.1


def test_one_connection_is_capped_at_its_bandwidth(upstream: int) -> None:
    with _proxy(upstream, conn_rate=4 * MB) as proxy:
        elapsed = _timed(_connection(proxy), "POST", "/", b"x" * (2 * MB))
    assert elapsed >= SLACK * 0.5


def test_downloads_are_capped_too(upstream: int) -> None:
    with _proxy(upstream, conn_rate=4 * MB) as proxy:
        elapsed = _timed(_connection(proxy), "GET", f"/bytes/{2 * MB}")
    assert elapsed >= SLACK * 0.5


def test_connections_share_the_total_bandwidth(upstream: int) -> None:
    with _proxy(upstream, conn_rate=100 * MB, total_rate=4 * MB) as proxy:
        def upload() -> None:
            _timed(_connection(proxy), "POST", "/", b"x" * MB)

        started = time.perf_counter()
        threads = [threading.Thread(target=upload) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        elapsed = time.perf_counter() - started
    assert elapsed >= SLACK * 0.5


def test_requests_and_connections_are_counted(upstream: int) -> None:
    with _proxy(upstream) as proxy:
        first = _connection(proxy)
        for _ in range(3):
            _timed(first, "GET", "/bytes/10")
        _timed(_connection(proxy), "POST", "/", b"x" * 100_000)
        first.close()
        stats = proxy.stats()
    assert (stats.connections, stats.requests, stats.turns) == (2, 4, 4)
    assert stats.request_summary() == {"GET /bytes/10": 3, "POST /": 1}
    assert stats.bytes_up > 100_000


def test_the_timeline_shows_each_connection_request_and_answer_in_order(upstream: int) -> None:
    with _proxy(upstream) as proxy:
        connection = _connection(proxy)
        _timed(connection, "GET", "/bytes/10")
        _timed(connection, "POST", "/", b"x" * 1000)
        connection.close()
        timeline = proxy.stats().timeline
    assert [(number, what) for _, number, what in timeline] == [
        (1, "open"), (1, "GET /bytes/10"), (1, "answer"), (1, "POST /"), (1, "answer")]
    times = [when for when, _, _ in timeline]
    assert times == sorted(times)


def test_reset_starts_the_counts_again(upstream: int) -> None:
    with _proxy(upstream) as proxy:
        _timed(_connection(proxy), "GET", "/bytes/10")
        proxy.reset_stats()
        assert proxy.stats().requests == 0


def test_a_chunked_upload_fed_byte_by_byte_is_one_request() -> None:
    counter = RequestCounter()
    stream = (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
              b"5\r\nhello\r\n3;ext=1\r\nabc\r\n0\r\n\r\n"
              b"GET /simple/pkg/ HTTP/1.1\r\nHost: x\r\n\r\n")
    for index in range(len(stream)):
        counter.feed(stream[index:index + 1])
    assert counter.requests == ["POST /legacy/", "GET /simple/pkg/"]


def test_a_body_that_looks_like_a_request_is_not_counted() -> None:
    body = b"GET /inside HTTP/1.1\r\n\r\n"
    counter = RequestCounter()
    counter.feed(b"POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
    assert counter.requests == ["POST /"]


def test_a_stream_that_is_not_http_stops_being_parsed() -> None:
    counter = RequestCounter()
    counter.feed(b"\x16\x03\x01 not http\r\n\r\n")
    assert (counter.requests, counter.following) == ([], False)


def test_stop_closes_the_listener_and_open_connections(upstream: int) -> None:
    proxy = _proxy(upstream).start()
    port = proxy.port
    client = socket.create_connection(("127.0.0.1", port), timeout=10)
    proxy.stop()
    assert _closed_by_peer(client)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=10).close()


def test_it_listens_on_loopback_only(upstream: int) -> None:
    with _proxy(upstream) as proxy:
        assert proxy.address == f"127.0.0.1:{proxy.port}"


@pytest.mark.parametrize(("listen", "target"), [("0.0.0.0", "127.0.0.1"),
                                                 ("127.0.0.1", "192.0.2.1"),
                                                 ("127.0.0.1", "example.org")])
def test_it_refuses_addresses_off_loopback(listen: str, target: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        WanProxy(8080, listen_host=listen, upstream_host=target)


def _wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_connections_over_the_limit_are_closed_at_once(upstream: int) -> None:
    proxy = WanProxy(upstream, LinkShape(rtt=0.0, handshake_rtts=0), max_connections=1)
    with proxy:
        held = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        _wait_for(lambda: proxy.stats().active == 1)
        extra = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        assert _closed_by_peer(extra)
        held.close()
        assert proxy.stats().refused == 1


def test_an_idle_connection_is_closed(upstream: int) -> None:
    proxy = WanProxy(upstream, LinkShape(rtt=0.0, handshake_rtts=0), idle_timeout=0.2)
    with proxy:
        client = socket.create_connection(("127.0.0.1", proxy.port), timeout=10)
        assert _closed_by_peer(client)


def test_the_script_reports_its_port_and_writes_stats_on_exit(
    upstream: int, tmp_path: Path
) -> None:
    stats_file = tmp_path / "stats.json"
    process = subprocess.Popen(
        [sys.executable, str(REPO / "benchmarks" / "wan_proxy.py"), "--upstream",
         f"127.0.0.1:{upstream}", "--rtt-ms", "1", "--stats-file", str(stats_file),
         "--max-seconds", "60"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("listening on 127.0.0.1:")
        connection = http.client.HTTPConnection("127.0.0.1", int(line.rsplit(":", 1)[1]),
                                                timeout=30)
        _timed(connection, "GET", "/bytes/10")
        connection.close()
    finally:
        os.kill(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    stats = json.loads(stats_file.read_text())
    assert (stats["connections"], stats["requests"]) == (1, 1)
    assert stats["request_summary"] == {"GET /bytes/10": 1}


def test_the_benchmark_runs_twine_and_uv_and_writes_its_results(tmp_path: Path) -> None:
    """A smoke run of benchmarks/run.py with small files; the product is measured elsewhere."""
    # uv is compared where it is installed; twine always is (a test dependency).
    tools = ("twine", "uv") if TOOLS["uv"].path() else ("twine",)
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick", "--runs", "1",
         "--rtt-ms", "5", "--tools", ",".join(tools), "--scenario", "small", "--scenario", "matrix",
         "--scenario", "big", "--scenario", "rerun", "--scenario", "refused",
         "--results-dir", str(tmp_path),
         "--name", "smoke"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads((tmp_path / "smoke.json").read_text())
    assert set(result) >= {"name", "created", "machine", "config", "tools", "scenarios", "goals"}
    assert result["config"]["rtt_ms"] == 5
    assert [s["name"] for s in result["scenarios"]] == ["small", "matrix", "big", "rerun"]
    for scenario in result["scenarios"]:
        assert scenario["limit_s"] > 0
        assert set(scenario["results"]) == set(tools)
    by_name = {s["name"]: s["results"] for s in result["scenarios"]}
    assert by_name["rerun"]["twine"]["status"] == "unsupported"
    for name in ("small", "matrix", "big"):
        for tool in tools:
            outcome = by_name[name][tool]
            assert outcome["status"] == "ok", outcome.get("reason")
            assert len(outcome["runs"]) == 1
            assert outcome["wall_s"] > 0 and outcome["peak_rss_mb"] > 0
    # twine sends one POST per file on one kept-alive connection.
    assert by_name["matrix"]["twine"]["requests"] == 12
    if "uv" in tools:
        assert by_name["rerun"]["uv"]["runs"][0]["request_summary"]
    assert "| matrix | twine |" in done.stdout
    # Uploading to a port nothing listens on fails, and how long each tool takes to say so is kept.
    for tool in tools:
        refused = result["refused"][tool]
        assert refused["status"] == "ok", refused.get("reason")
        assert refused["runs"][0]["returncode"] != 0 and refused["wall_s"] > 0

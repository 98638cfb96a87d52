"""The fault-injecting proxy on its own: each fault as a client sees it, and what reaches upstream."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.support.fault_proxy import (
    FaultProxy,
    ForwardThenDrop,
    Garbage,
    Reset,
    Respond,
    Stall,
    Truncated,
    retry_after,
)
from tests.support.fault_wire import MAX_BODY


class Upstream:
    """Answers GET with JSON naming the path, POST with the body's length; remembers every request."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                outer.received.append(("GET", self.path, b""))
                self._send(200, json.dumps({"path": self.path, "host": self.headers["Host"]}).encode())

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                outer.received.append(("POST", self.path, body))
                self._send(201, json.dumps({"length": len(body)}).encode(), "Created here")

            def _send(self, status: int, body: bytes, reason: str | None = None) -> None:
                self.send_response(status, reason)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Upstream", "yes")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
        server.thread.join(timeout=10)


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[FaultProxy]:
    with FaultProxy(upstream.port) as fault_proxy:
        yield fault_proxy
    assert fault_proxy.threads_alive == 0


def wait_for(condition: object, timeout: float = 10.0) -> None:
    """Poll `condition()` (bounded) for something another thread does."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if callable(condition) and condition():
            return
        time.sleep(0.01)
    raise AssertionError("condition not reached in time")


# -- passing through -------------------------------------------------------------------------


def test_requests_pass_through_with_status_reason_headers_and_body(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    answer = requests.post(proxy.url + "legacy/", data=b"x" * 5000, timeout=5)
    assert (answer.status_code, answer.reason) == (201, "Created here")
    assert answer.json() == {"length": 5000}
    assert answer.headers["X-Upstream"] == "yes"
    assert upstream.received == [("POST", "/legacy/", b"x" * 5000)]
    assert proxy.count("POST", "/legacy/") == 1
    assert proxy.seen()[0].forwarded


def test_the_clients_host_header_reaches_upstream(proxy: FaultProxy) -> None:
    answer = requests.get(proxy.url + "simple/x/", timeout=5)
    assert answer.json() == {"path": "/simple/x/", "host": f"127.0.0.1:{proxy.port}"}


def test_keep_alive_serves_several_requests_on_one_connection(proxy: FaultProxy) -> None:
    with requests.Session() as session:
        for n in range(3):
            assert session.get(f"{proxy.url}n/{n}", timeout=5).status_code == 200
    assert proxy.count("GET", "/n/") == 3
    # One connection thread served all three.
    assert len(proxy._threads) == 1


def test_chunked_request_bodies_are_relayed(proxy: FaultProxy, upstream: Upstream) -> None:
    answer = requests.post(proxy.url, data=iter([b"abc", b"defg"]), timeout=5)
    assert answer.json() == {"length": 7}
    assert upstream.received == [("POST", "/", b"abcdefg")]


# -- the script ---------------------------------------------------------------------------------


def test_a_burst_answers_n_times_then_passes(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.add("POST", "/legacy/", Respond(503, b"busy"), times=2)
    codes = [requests.post(proxy.url + "legacy/", data=b"f", timeout=5).status_code for _ in range(3)]
    assert codes == [503, 503, 201]
    assert proxy.count("POST", "/legacy/") == 3
    assert [r.fault for r in proxy.seen()] == ["respond 503", "respond 503", "pass"]
    assert len(upstream.received) == 1


def test_rules_match_on_method_and_path_prefix(proxy: FaultProxy) -> None:
    proxy.add("POST", "/legacy/", Respond(503), times=None)
    assert requests.get(proxy.url + "legacy/", timeout=5).status_code == 200
    assert requests.post(proxy.url + "simple/", timeout=5).status_code == 201
    assert [requests.post(proxy.url + "legacy/", timeout=5).status_code for _ in range(4)] == [503] * 4
    assert proxy.count("POST") == 5
    assert proxy.count(None, "/legacy/") == 5


def test_rules_apply_in_order(proxy: FaultProxy) -> None:
    proxy.add("GET", "/", Respond(502), times=1).add("GET", "/", Respond(504), times=1)
    codes = [requests.get(proxy.url, timeout=5).status_code for _ in range(3)]
    assert codes == [502, 504, 200]


def test_rate_limit_carries_retry_after(proxy: FaultProxy) -> None:
    proxy.add("GET", "/", retry_after(2))
    answer = requests.get(proxy.url, timeout=5)
    assert (answer.status_code, answer.headers["Retry-After"]) == (429, "2")


def test_request_times_are_recorded(proxy: FaultProxy) -> None:
    requests.get(proxy.url, timeout=5)
    time.sleep(0.2)  # the gap being measured, not a wait for a server
    requests.get(proxy.url, timeout=5)
    first, second = proxy.seen()
    assert second.at - first.at >= 0.2


# -- faults as the client sees them ------------------------------------------------------------


def test_reset_mid_body_is_a_connection_error_and_nothing_reaches_upstream(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add("POST", "/", Reset(after_body_bytes=1000))
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url, data=b"x" * 4_000_000, timeout=5)
    assert upstream.received == []
    [seen] = proxy.seen()
    assert seen.fault == "reset" and seen.body_bytes == 1000 and not seen.forwarded


def test_forward_then_silence_times_out_after_upstream_acted(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add("POST", "/", ForwardThenDrop())
    with pytest.raises(requests.ReadTimeout):
        requests.post(proxy.url, data=b"file", timeout=(2, 0.3))
    assert upstream.received == [("POST", "/", b"file")]


def test_forward_then_close_is_a_connection_error_after_upstream_acted(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add("POST", "/", ForwardThenDrop(close=True))
    with pytest.raises(requests.ConnectionError):
        requests.post(proxy.url, data=b"file", timeout=5)
    assert upstream.received == [("POST", "/", b"file")]


def test_a_short_stall_only_delays_the_answer(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.add("GET", "/", Stall(0.3))
    started = time.monotonic()
    assert requests.get(proxy.url, timeout=5).status_code == 200
    assert time.monotonic() - started >= 0.3
    assert len(upstream.received) == 1


def test_a_stall_past_the_clients_timeout_abandons_the_request(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add("POST", "/", Stall(5))
    started = time.monotonic()
    with pytest.raises(requests.ReadTimeout):
        requests.post(proxy.url, data=b"file", timeout=(2, 0.3))
    wait_for(lambda: proxy.count("POST") == 1)
    # The proxy noticed the client leave and did not wait out the whole stall.
    assert time.monotonic() - started < 4
    assert upstream.received == []
    assert not proxy.seen()[0].forwarded


def test_garbage_is_a_connection_error(proxy: FaultProxy) -> None:
    proxy.add("GET", "/", Garbage())
    with pytest.raises(requests.ConnectionError):
        requests.get(proxy.url, timeout=5)


def test_a_junk_body_is_well_framed_http(proxy: FaultProxy) -> None:
    proxy.add("GET", "/", Respond(200, b"\x00\xff<not json", content_type="application/json"))
    answer = requests.get(proxy.url, timeout=5)
    assert answer.status_code == 200
    with pytest.raises(ValueError):
        answer.json()


def test_a_truncated_canned_body_fails_the_read(proxy: FaultProxy, upstream: Upstream) -> None:
    proxy.add("GET", "/", Truncated(b'{"audience": "pypi"}'))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(proxy.url, timeout=5)
    assert upstream.received == []


def test_a_truncated_upstream_answer_fails_the_read_after_upstream_acted(
    proxy: FaultProxy, upstream: Upstream
) -> None:
    proxy.add("POST", "/", Truncated())
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.post(proxy.url, data=b"file", timeout=5)
    assert upstream.received == [("POST", "/", b"file")]


# -- bounds and shutdown ---------------------------------------------------------------------------


def test_an_oversized_body_is_refused_by_closing(proxy: FaultProxy, upstream: Upstream) -> None:
    with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
        sock.sendall(f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}\r\n\r\n".encode())
        assert sock.recv(100) == b""
    assert upstream.received == []


def test_stop_cuts_held_connections_and_joins_every_thread(upstream: Upstream) -> None:
    proxy = FaultProxy(upstream.port).start()
    proxy.add("POST", "/", ForwardThenDrop())
    failure: list[BaseException] = []

    def client() -> None:
        try:
            requests.post(proxy.url, data=b"file", timeout=(2, 30))
        except requests.RequestException as error:
            failure.append(error)

    thread = threading.Thread(target=client)
    thread.start()
    wait_for(lambda: proxy.count("POST") == 1)
    started = time.monotonic()
    proxy.stop()
    thread.join(timeout=10)
    assert time.monotonic() - started < 5
    assert proxy.threads_alive == 0
    assert len(failure) == 1
    with pytest.raises(requests.ConnectionError):
        requests.get(proxy.url, timeout=2)


def test_after_lets_the_first_matches_through(proxy: FaultProxy) -> None:
    proxy.add("GET", "/", Respond(503), times=None, after=2)
    codes = [requests.get(proxy.url, timeout=5).status_code for _ in range(4)]
    assert codes == [200, 200, 503, 503]


def test_an_empty_answer_is_cut_too(proxy: FaultProxy) -> None:
    proxy.add("GET", "/", Truncated(b""))
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(proxy.url, timeout=5)

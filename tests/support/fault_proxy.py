"""A fault-injecting HTTP proxy on loopback, in front of one upstream server (an index, a token service).

Each request is matched against the script, in order: the first rule whose method and path prefix
match, and that has uses left, decides what the proxy does with it; a request no rule claims is
passed to the upstream. Every request is recorded (method, path, what was done, when), so a test
can count the attempts the client made and see the waits between them.

    with FaultProxy(index.port) as proxy:
        proxy.add("POST", "/", Respond(503), times=2)      # a 503 burst, then the real index
        ...                                                 # point the client at proxy.url
        assert proxy.count("POST", "/") == 3

The faults are the ones a client meets between it and a real index: error bursts, rate limits
with `Retry-After`, connections reset mid-upload, answers lost after the upstream acted on the
request, answers that never come, bytes that are not HTTP, and bodies cut short.
"""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

# Bounds that keep a misbehaving client (or test) from exhausting the machine.
MAX_CONNECTIONS = 64
MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
MAX_BODY = 256 * 1024 * 1024
# How long a silent hold (an answer that never comes) lasts at most when the client never gives up.
MAX_HOLD = 120.0
IDLE_KEEPALIVE = 60.0
POLL = 0.05
UPSTREAM_TIMEOUT = 60.0
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "content-length"})


# -- the faults --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pass:
    """Forward the request to the upstream and relay its answer."""

    name = "pass"


@dataclass(frozen=True)
class Respond:
    """Answer with `status` without asking the upstream (a 503 burst, a 429, a junk 200)."""

    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    reason: str | None = None
    content_type: str = "text/plain"

    @property
    def name(self) -> str:
        return f"respond {self.status}"


def retry_after(seconds: float, status: int = 429) -> Respond:
    """A rate-limit answer that tells the client how long to wait."""
    return Respond(status, b"Too Many Requests", {"Retry-After": f"{seconds:g}"},
                   reason="Too Many Requests" if status == 429 else None)


@dataclass(frozen=True)
class Reset:
    """Read `after_body_bytes` of the request body (or all of it, if shorter), then send a TCP RST."""

    after_body_bytes: int = 0

    name = "reset"


@dataclass(frozen=True)
class ForwardThenDrop:
    """Forward the request (the upstream acts on it), then lose the answer.

    `close=False`: say nothing until the client gives up (a timeout from the client's side).
    `close=True`: close the connection without answering (a reset from the client's side).
    """

    close: bool = False

    @property
    def name(self) -> str:
        return "forward, then close" if self.close else "forward, then silence"


@dataclass(frozen=True)
class Stall:
    """Say nothing for `seconds`, then pass the request on, unless the client gave up meanwhile."""

    seconds: float

    name = "stall"


@dataclass(frozen=True)
class Garbage:
    """Answer with bytes that are not an HTTP response, then close."""

    data: bytes = b"\x16\x03\x01\x00\xffnot http at all\r\n\r\n"

    name = "garbage"


@dataclass(frozen=True)
class Truncated:
    """Announce a body's full length, send only the first `keep` fraction of it, then close.

    `body=None` cuts the upstream's real answer (the upstream acted on the request). An empty
    answer is announced as one byte long, so the client always sees a body cut short.
    """

    body: bytes | None = None
    keep: float = 0.5
    status: int = 200
    content_type: str = "application/json"

    name = "truncated"


Fault = Pass | Respond | Reset | ForwardThenDrop | Stall | Garbage | Truncated


# -- the script and the record -----------------------------------------------------------------


@dataclass
class Rule:
    method: str
    prefix: str
    fault: Fault
    times: int | None  # None: for ever
    skip: int = 0  # matching requests to let through untouched before the fault starts

    def claims(self, method: str, path: str) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        return method == self.method and path.startswith(self.prefix)


@dataclass(frozen=True)
class Recorded:
    """One request the proxy saw: what it was, what the proxy did, and when it arrived."""

    method: str
    path: str
    fault: str
    at: float
    body_bytes: int
    forwarded: bool


class _ClientGone(Exception):
    """The client closed the connection (between requests, or while the proxy held it)."""


@dataclass
class _Request:
    method: str
    path: str
    version: str
    headers: list[tuple[str, str]]
    length: int | None
    chunked: bool

    def header(self, name: str) -> str:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return ""

    @property
    def keep_alive(self) -> bool:
        connection = self.header("Connection").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


# -- the proxy ----------------------------------------------------------------------------------


class FaultProxy:
    """A threaded loopback proxy to `127.0.0.1:upstream_port` that applies a fault script."""

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(POLL)
        self.port: int = self.listener.getsockname()[1]
        self.requests: list[Recorded] = []
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._clients: set[socket.socket] = set()
        self._acceptor = threading.Thread(target=self._accept, name="fault-proxy-accept",
                                          daemon=True)

    # -- the public side ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def add(self, method: str, prefix: str, fault: Fault, times: int | None = 1,
            after: int = 0) -> FaultProxy:
        """Apply `fault` to `times` requests matching `method` and `prefix` (None: all of them),
        once `after` matching requests have passed untouched."""
        with self._lock:
            self.rules.append(Rule(method.upper(), prefix, fault, times, after))
        return self

    def count(self, method: str | None = None, prefix: str = "/") -> int:
        """How many requests matching `method` (None: any) and `prefix` the proxy has seen."""
        with self._lock:
            return sum(1 for r in self.requests
                       if (method is None or r.method == method.upper()) and r.path.startswith(prefix))

    def seen(self, method: str | None = None, prefix: str = "/") -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper()) and r.path.startswith(prefix)]

    def start(self) -> FaultProxy:
        self._acceptor.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut every open connection, and join every thread."""
        self._stopping.set()
        self._acceptor.join(timeout=10)
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
        for thread in list(self._threads):
            thread.join(timeout=10)
        self.listener.close()

    @property
    def threads_alive(self) -> int:
        return sum(1 for t in self._threads if t.is_alive()) + int(self._acceptor.is_alive())

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- connections -----------------------------------------------------------------------------
    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) >= MAX_CONNECTIONS:
                client.close()
                continue
            thread = threading.Thread(target=self._serve, args=(client,),
                                      name="fault-proxy-conn", daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        with self._lock:
            self._clients.add(client)
        reader = _Reader(client, self._stopping)
        try:
            while not self._stopping.is_set():
                if not reader.wait_for_data(IDLE_KEEPALIVE):
                    return
                request = _read_head(reader)
                if not self._handle(client, reader, request) or not request.keep_alive:
                    return
        except (_ClientGone, OSError, ValueError):
            return
        finally:
            with self._lock:
                self._clients.discard(client)
            client.close()

    def _wait_readable(self, client: socket.socket, timeout: float) -> None:
        """Return when `client` sends bytes or closes, the proxy stops, or `timeout` passes."""
        deadline = time.monotonic() + timeout
        while not self._stopping.is_set() and time.monotonic() < deadline:
            readable, _, _ = select.select([client], [], [], POLL)
            if readable:
                return

    @staticmethod
    def _client_gone(client: socket.socket) -> bool:
        readable, _, _ = select.select([client], [], [], 0)
        if not readable:
            return False
        try:
            return client.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    # -- one request --------------------------------------------------------------------------------
    def _choose(self, request: _Request) -> Fault:
        with self._lock:
            for rule in self.rules:
                if rule.claims(request.method, request.path):
                    if rule.skip > 0:
                        rule.skip -= 1
                        return Pass()
                    if rule.times is not None:
                        rule.times -= 1
                    return rule.fault
        return Pass()

    def _record(self, request: _Request, fault: Fault, at: float, body: int, forwarded: bool) -> None:
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, fault.name, at, body,
                                          forwarded))

    def _handle(self, client: socket.socket, reader: _Reader, request: _Request) -> bool:
        """Apply the script to one request; True when the connection may serve another."""
        at = time.monotonic()
        fault = self._choose(request)
        if isinstance(fault, Reset):
            got = _read_partial(reader, request, fault.after_body_bytes)
            self._record(request, fault, at, got, False)
            _reset(client)
            return False
        body = _read_body(reader, request)
        if isinstance(fault, Stall):
            self._wait_readable(client, fault.seconds)
            if self._stopping.is_set() or self._client_gone(client):
                # The client gave up while the proxy stalled: the request is abandoned.
                self._record(request, fault, at, len(body), False)
                return False
            fault_done: Fault = fault
            fault = Pass()
        else:
            fault_done = fault
        if isinstance(fault, Respond):
            self._record(request, fault_done, at, len(body), False)
            headers = {"Content-Type": fault.content_type, **fault.headers}
            _write_response(client, fault.status, fault.reason, headers, fault.body, request)
            return True
        if isinstance(fault, Garbage):
            self._record(request, fault_done, at, len(body), False)
            client.sendall(fault.data)
            _close_after_send(client)
            return False
        if isinstance(fault, Truncated) and fault.body is not None:
            self._record(request, fault_done, at, len(body), False)
            _write_truncated(client, fault.status, fault.content_type, fault.body, fault.keep)
            return False
        # Everything else goes to the upstream first.
        status, reason, headers, answer = self._forward(request, body)
        self._record(request, fault_done, at, len(body), True)
        if isinstance(fault, ForwardThenDrop):
            if fault.close:
                _close_after_send(client)
            else:
                # Silence until the client gives up (its read timeout) or the proxy stops.
                self._wait_readable(client, MAX_HOLD)
            return False
        if isinstance(fault, Truncated):
            _write_truncated(client, status, headers.get("Content-Type", fault.content_type), answer,
                             fault.keep)
            return False
        _write_response(client, status, reason, headers, answer, request)
        return True

    def _forward(self, request: _Request, body: bytes) -> tuple[int, str, dict[str, str], bytes]:
        connection = http.client.HTTPConnection(*self.upstream, timeout=UPSTREAM_TIMEOUT)
        try:
            # The client's Host header is kept, so links the upstream builds point at the proxy.
            connection.putrequest(request.method, request.path, skip_host=True,
                                  skip_accept_encoding=True)
            for name, value in request.headers:
                if name.lower() not in HOP_BY_HOP:
                    connection.putheader(name, value)
            connection.putheader("Content-Length", str(len(body)))
            connection.putheader("Connection", "close")
            connection.endheaders(body)
            response = connection.getresponse()
            answer = response.read(MAX_BODY)
            headers = {k: v for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP}
            return response.status, response.reason, headers, answer
        finally:
            connection.close()


# -- wire helpers ---------------------------------------------------------------------------------


class _Reader:
    """Buffered reads from a client socket that give up when the proxy stops or the client idles."""

    def __init__(self, sock: socket.socket, stopping: threading.Event) -> None:
        self.sock = sock
        self.stopping = stopping
        self.buffer = bytearray()

    def _fill(self, timeout: float = IDLE_KEEPALIVE) -> bool:
        """Read what the socket has; False at end of stream."""
        deadline = time.monotonic() + timeout
        while True:
            if self.stopping.is_set() or time.monotonic() > deadline:
                raise _ClientGone
            readable, _, _ = select.select([self.sock], [], [], POLL)
            if readable:
                data = self.sock.recv(65536)
                if not data:
                    return False
                self.buffer += data
                return True

    def wait_for_data(self, timeout: float) -> bool:
        """True when a request has begun to arrive; False when the client closed or idled."""
        try:
            return bool(self.buffer) or self._fill(timeout)
        except _ClientGone:
            return False

    def readline(self) -> bytes:
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[: end + 1])
                del self.buffer[: end + 1]
                return line
            if len(self.buffer) > MAX_HEADER_LINE:
                raise ValueError("line too long")
            if not self._fill():
                raise _ClientGone

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes, or _ClientGone."""
        while len(self.buffer) < size:
            if not self._fill():
                raise _ClientGone
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_some(self, size: int) -> int:
        """Up to `size` bytes, as far as the client sends them; how many were read."""
        while len(self.buffer) < size:
            try:
                if not self._fill(timeout=5):
                    break
            except _ClientGone:
                break
        got = min(size, len(self.buffer))
        del self.buffer[:got]
        return got


def _read_head(reader: _Reader) -> _Request:
    line = reader.readline()
    parts = line.decode("latin-1").rstrip("\r\n").split(" ")
    if len(parts) != 3:
        raise ValueError("bad request line")
    method, path, version = parts
    headers: list[tuple[str, str]] = []
    while True:
        raw = reader.readline()
        if raw in (b"\r\n", b"\n"):
            break
        if len(headers) >= MAX_HEADERS:
            raise ValueError("too many headers")
        name, _, value = raw.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    request = _Request(method.upper(), path, version, headers, None, False)
    if "chunked" in request.header("Transfer-Encoding").lower():
        request.chunked = True
    elif request.header("Content-Length"):
        length = int(request.header("Content-Length"))
        if not 0 <= length <= MAX_BODY:
            raise ValueError("body length out of bounds")
        request.length = length
    return request


def _read_body(reader: _Reader, request: _Request) -> bytes:
    if request.chunked:
        return _read_chunked(reader)
    return reader.read(request.length) if request.length else b""


def _read_chunked(reader: _Reader) -> bytes:
    body = bytearray()
    while True:
        size = int(reader.readline().split(b";")[0].strip(), 16)
        if size == 0:
            while reader.readline() not in (b"\r\n", b"\n"):
                pass
            return bytes(body)
        if len(body) + size > MAX_BODY:
            raise ValueError("chunked body too large")
        body += reader.read(size)
        reader.readline()


def _read_partial(reader: _Reader, request: _Request, wanted: int) -> int:
    limit = wanted if request.length is None else min(wanted, request.length)
    return reader.read_some(limit) if limit > 0 else 0


def _reset(client: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees `connection reset`, not an orderly close."""
    with contextlib.suppress(OSError):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _close_after_send(client: socket.socket) -> None:
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)


def _status_line(status: int, reason: str | None) -> bytes:
    text = reason if reason is not None else http.client.responses.get(status, "Unknown")
    return f"HTTP/1.1 {status} {text}\r\n".encode("latin-1")


def _write_response(client: socket.socket, status: int, reason: str | None, headers: Mapping[str, str],
                    body: bytes, request: _Request) -> None:
    lines = [_status_line(status, reason)]
    lines += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items()
              if k.lower() not in HOP_BY_HOP]
    if request.method == "HEAD":
        body = b""
    lines.append(f"Content-Length: {len(body)}\r\n".encode())
    lines.append(b"Connection: keep-alive\r\n" if request.keep_alive else b"Connection: close\r\n")
    client.sendall(b"".join(lines) + b"\r\n" + body)


def _write_truncated(client: socket.socket, status: int, content_type: str, body: bytes,
                     keep: float) -> None:
    cut = body[: max(0, min(len(body) - 1, int(len(body) * keep)))]
    # An empty answer is cut too: it announces one byte it never sends.
    announced = max(len(body), len(cut) + 1)
    head = (_status_line(status, None)
            + f"Content-Type: {content_type}\r\nContent-Length: {announced}\r\n"
              "Connection: close\r\n\r\n".encode())
    client.sendall(head + cut)
    _close_after_send(client)

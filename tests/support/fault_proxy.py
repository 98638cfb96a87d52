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
import threading
import time
from dataclasses import dataclass

from tests.support.fault_wire import (
    HOP_BY_HOP,
    IDLE_KEEPALIVE,
    MAX_BODY,
    POLL,
    ClientGone,
    Reader,
    Request,
    close_after_send,
    read_body,
    read_head,
    read_partial,
    reset,
    write_response,
    write_truncated,
)

# The faults live in their own module; tests import them from here, beside the proxy.
from tests.support.faults import Fault as Fault
from tests.support.faults import ForwardThenDrop as ForwardThenDrop
from tests.support.faults import Garbage as Garbage
from tests.support.faults import Pass as Pass
from tests.support.faults import Reset as Reset
from tests.support.faults import Respond as Respond
from tests.support.faults import Stall as Stall
from tests.support.faults import Truncated as Truncated
from tests.support.faults import retry_after as retry_after

# Bounds that keep a misbehaving client (or test) from exhausting the machine.
MAX_CONNECTIONS = 64
# How long a silent hold (an answer that never comes) lasts at most when the client never gives up.
MAX_HOLD = 120.0
UPSTREAM_TIMEOUT = 60.0


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
        reader = Reader(client, self._stopping)
        try:
            while not self._stopping.is_set():
                if not reader.wait_for_data(IDLE_KEEPALIVE):
                    return
                request = read_head(reader)
                if not self._handle(client, reader, request) or not request.keep_alive:
                    return
        except (ClientGone, OSError, ValueError):
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
    def _choose(self, request: Request) -> Fault:
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

    def _record(self, request: Request, fault: Fault, at: float, body: int, forwarded: bool) -> None:
        with self._lock:
            self.requests.append(Recorded(request.method, request.path, fault.name, at, body,
                                          forwarded))

    def _handle(self, client: socket.socket, reader: Reader, request: Request) -> bool:
        """Apply the script to one request; True when the connection may serve another."""
        at = time.monotonic()
        fault = self._choose(request)
        if isinstance(fault, Reset):
            got = read_partial(reader, request, fault.after_body_bytes)
            self._record(request, fault, at, got, False)
            reset(client)
            return False
        body = read_body(reader, request)
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
            write_response(client, fault.status, fault.reason, headers, fault.body, request)
            return True
        if isinstance(fault, Garbage):
            self._record(request, fault_done, at, len(body), False)
            client.sendall(fault.data)
            close_after_send(client)
            return False
        if isinstance(fault, Truncated) and fault.body is not None:
            self._record(request, fault_done, at, len(body), False)
            write_truncated(client, fault.status, fault.content_type, fault.body, fault.keep)
            return False
        # Everything else goes to the upstream first.
        status, reason, headers, answer = self._forward(request, body)
        self._record(request, fault_done, at, len(body), True)
        if isinstance(fault, ForwardThenDrop):
            if fault.close:
                close_after_send(client)
            else:
                # Silence until the client gives up (its read timeout) or the proxy stops.
                self._wait_readable(client, MAX_HOLD)
            return False
        if isinstance(fault, Truncated):
            write_truncated(client, status, headers.get("Content-Type", fault.content_type), answer,
                             fault.keep)
            return False
        write_response(client, status, reason, headers, answer, request)
        return True

    def _forward(self, request: Request, body: bytes) -> tuple[int, str, dict[str, str], bytes]:
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

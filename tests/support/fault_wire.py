"""The fault proxy's side of the wire: reading HTTP/1.1 requests from a client, writing answers
(whole, cut short, or as a reset), all bounded so a misbehaving client cannot exhaust the machine."""

from __future__ import annotations

import contextlib
import http.client
import select
import socket
import struct
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

MAX_HEADER_LINE = 65536
MAX_HEADERS = 100
MAX_BODY = 256 * 1024 * 1024
IDLE_KEEPALIVE = 60.0
POLL = 0.05
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "proxy-authorization",
                        "te", "trailer", "transfer-encoding", "upgrade", "content-length"})


class ClientGone(Exception):
    """The client closed the connection (between requests, or while the proxy held it)."""


@dataclass
class Request:
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


class Reader:
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
                raise ClientGone
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
        except ClientGone:
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
                raise ClientGone

    def read(self, size: int) -> bytes:
        """Exactly `size` bytes, or ClientGone."""
        while len(self.buffer) < size:
            if not self._fill():
                raise ClientGone
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_some(self, size: int) -> int:
        """Up to `size` bytes, as far as the client sends them; how many were read."""
        while len(self.buffer) < size:
            try:
                if not self._fill(timeout=5):
                    break
            except ClientGone:
                break
        got = min(size, len(self.buffer))
        del self.buffer[:got]
        return got


def read_head(reader: Reader) -> Request:
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
    request = Request(method.upper(), path, version, headers, None, False)
    if "chunked" in request.header("Transfer-Encoding").lower():
        request.chunked = True
    elif request.header("Content-Length"):
        length = int(request.header("Content-Length"))
        if not 0 <= length <= MAX_BODY:
            raise ValueError("body length out of bounds")
        request.length = length
    return request


def read_body(reader: Reader, request: Request) -> bytes:
    if request.chunked:
        return read_chunked(reader)
    return reader.read(request.length) if request.length else b""


def read_chunked(reader: Reader) -> bytes:
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


def read_partial(reader: Reader, request: Request, wanted: int) -> int:
    limit = wanted if request.length is None else min(wanted, request.length)
    return reader.read_some(limit) if limit > 0 else 0


def reset(client: socket.socket) -> None:
    """Close with RST (SO_LINGER 0): the peer sees `connection reset`, not an orderly close."""
    with contextlib.suppress(OSError):
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def close_after_send(client: socket.socket) -> None:
    with contextlib.suppress(OSError):
        client.shutdown(socket.SHUT_WR)


def status_line(status: int, reason: str | None) -> bytes:
    text = reason if reason is not None else http.client.responses.get(status, "Unknown")
    return f"HTTP/1.1 {status} {text}\r\n".encode("latin-1")


def write_response(client: socket.socket, status: int, reason: str | None, headers: Mapping[str, str],
                    body: bytes, request: Request) -> None:
    lines = [status_line(status, reason)]
    lines += [f"{k}: {v}\r\n".encode("latin-1") for k, v in headers.items()
              if k.lower() not in HOP_BY_HOP]
    if request.method == "HEAD":
        body = b""
    lines.append(f"Content-Length: {len(body)}\r\n".encode())
    lines.append(b"Connection: keep-alive\r\n" if request.keep_alive else b"Connection: close\r\n")
    client.sendall(b"".join(lines) + b"\r\n" + body)


def write_truncated(client: socket.socket, status: int, content_type: str, body: bytes,
                     keep: float) -> None:
    cut = body[: max(0, min(len(body) - 1, int(len(body) * keep)))]
    # An empty answer is cut too: it announces one byte it never sends.
    announced = max(len(body), len(cut) + 1)
    head = (status_line(status, None)
            + f"Content-Type: {content_type}\r\nContent-Length: {announced}\r\n"
              "Connection: close\r\n\r\n".encode())
    client.sendall(head + cut)
    close_after_send(client)

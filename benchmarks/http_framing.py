"""Find where HTTP/1.x requests start in a client's byte stream, to count round trips to an index.

The proxy that uses this forwards bytes untouched; the parser only watches. It follows the framing
rules of RFC 9112 (a head ending in an empty line, then a body sized by `Content-Length` or sent
chunked) so that a large upload counts as one request however many reads it arrives in. A stream it
cannot follow (not HTTP, a head too large, a protocol switch) stops being parsed; the byte-level
"turn" count of the proxy still covers it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum, auto

# A request head larger than this is not what an uploader sends; stop parsing rather than buffer.
MAX_HEAD_BYTES = 64 * 1024
_REQUEST_LINE = re.compile(rb"^([A-Z]+) (\S+) HTTP/1\.[01]$")


class _State(Enum):
    HEAD = auto()
    BODY = auto()
    CHUNK_SIZE = auto()
    CHUNK_DATA = auto()
    CHUNK_END = auto()
    TRAILER = auto()
    OPAQUE = auto()


@dataclass
class RequestCounter:
    """Feed it the client-to-server bytes of one connection in order; it lists the requests seen."""

    requests: list[str] = field(default_factory=list)
    _state: _State = _State.HEAD
    _buffer: bytearray = field(default_factory=bytearray)
    _remaining: int = 0

    @property
    def following(self) -> bool:
        """False once the stream stopped looking like HTTP/1.x requests."""
        return self._state is not _State.OPAQUE

    def feed(self, data: bytes) -> list[str]:
        """Consume `data`; return the request lines ("METHOD target") that started in it."""
        started: list[str] = []
        view = memoryview(data)
        while view and self._state is not _State.OPAQUE:
            if self._state in (_State.BODY, _State.CHUNK_DATA):
                view = self._skip_body(view)
            else:
                view = self._take_line_or_head(view, started)
        self.requests.extend(started)
        return started

    def _skip_body(self, view: memoryview) -> memoryview:
        taken = min(self._remaining, len(view))
        self._remaining -= taken
        if self._remaining == 0:
            self._state = _State.HEAD if self._state is _State.BODY else _State.CHUNK_END
        return view[taken:]

    def _take_line_or_head(self, view: memoryview, started: list[str]) -> memoryview:
        """Buffer until the terminator the state waits for, then act on the buffered text."""
        terminator = b"\r\n\r\n" if self._state is _State.HEAD else b"\r\n"
        before = len(self._buffer)
        self._buffer += view
        # Search from a little before the old end: the terminator may straddle two reads.
        end = self._buffer.find(terminator, max(0, before - len(terminator) + 1))
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._give_up()
            return view[len(view):]
        consumed = end + len(terminator) - before
        text = bytes(self._buffer[:end])
        self._buffer.clear()
        self._on_complete(text, started)
        return view[consumed:]

    def _on_complete(self, text: bytes, started: list[str]) -> None:
        if self._state is _State.HEAD:
            self._on_head(text.lstrip(b"\r\n"), started)
        elif self._state is _State.CHUNK_SIZE:
            self._on_chunk_size(text)
        elif self._state is _State.CHUNK_END:
            self._state = _State.CHUNK_SIZE if text == b"" else _State.OPAQUE
        elif self._state is _State.TRAILER and text == b"":
            # The chunked body ends with an empty line after any trailer fields.
            self._state = _State.HEAD

    def _on_head(self, head: bytes, started: list[str]) -> None:
        lines = head.split(b"\r\n")
        match = _REQUEST_LINE.match(lines[0])
        if match is None:
            self._give_up()
            return
        started.append(f"{match.group(1).decode()} {match.group(2).decode('latin-1')}")
        headers = _header_map(lines[1:])
        if "chunked" in headers.get("transfer-encoding", "").lower():
            self._state = _State.CHUNK_SIZE
            return
        if "upgrade" in headers.get("connection", "").lower():
            self._give_up()
            return
        length = headers.get("content-length", "0").strip()
        if not length.isdigit():
            self._give_up()
            return
        self._remaining = int(length)
        self._state = _State.BODY if self._remaining else _State.HEAD

    def _on_chunk_size(self, line: bytes) -> None:
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            self._give_up()
            return
        if size == 0:
            self._state = _State.TRAILER
        else:
            self._remaining = size
            self._state = _State.CHUNK_DATA

    def _give_up(self) -> None:
        self._state = _State.OPAQUE
        self._buffer.clear()


def _header_map(lines: list[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return headers

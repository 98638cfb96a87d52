"""The faults the proxy can apply to a request: answers it makes up, resets, silences, garbage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


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

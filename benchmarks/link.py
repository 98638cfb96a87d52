"""The simulated link's shape, its rate limits, and the counters of what crossed it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

MB = 1_000_000


@dataclass(frozen=True)
class LinkShape:
    """What the simulated link looks like. Rates are bytes per second in each direction."""

    rtt: float = 0.060
    conn_rate: float = 8 * MB
    total_rate: float = 40 * MB
    handshake_rtts: int = 2

    def __post_init__(self) -> None:
        if self.rtt < 0 or self.conn_rate <= 0 or self.total_rate <= 0 or self.handshake_rtts < 0:
            raise ValueError("rtt and handshake_rtts must be >= 0 and rates > 0")


@dataclass
class Stats:
    """Counters since start (or the last reset); a copy is handed out, never the live object."""

    connections: int = 0
    active: int = 0
    refused: int = 0
    requests: int = 0
    turns: int = 0
    bytes_up: int = 0
    bytes_down: int = 0
    unparsed_connections: int = 0
    request_log: list[str] = field(default_factory=list)
    # (time.monotonic(), connection number, "open" | "METHOD target" | "answer"), as the proxy
    # saw it: requests when their first bytes arrive, answers when the index starts replying.
    timeline: list[tuple[float, int, str]] = field(default_factory=list)

    def request_summary(self) -> dict[str, int]:
        """Requests by method and path, e.g. {"POST /": 12, "GET /simple/pkg/": 1}."""
        return dict(Counter(self.request_log))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["request_summary"] = self.request_summary()
        return data


class Pacer:
    """A rate limit: each chunk occupies the link for size / rate seconds, back to back.

    A reader wakes up a little after the link became free (timer and scheduling latency). That
    time must not be lost, or a busy link would run measurably below its rate; so a chunk that
    comes less than `CATCH_UP` seconds late starts when the link became free. Later than that,
    the link was idle, and the chunk starts now: there is no burst after a pause.
    """

    CATCH_UP = 0.010

    def __init__(self, rate: float, clock: Callable[[], float]) -> None:
        self.rate = rate
        self._clock = clock
        self._free_at = 0.0

    def reserve(self, size: int) -> float:
        """Book `size` bytes on the link; return when their transmission ends."""
        now = self._clock()
        start = self._free_at if now - self._free_at < self.CATCH_UP else now
        self._free_at = start + size / self.rate
        return self._free_at

"""Fault knobs and request counters shared by the Sigstore stand-ins."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from tests.support.loopback_http import send


@dataclass
class Faults:
    """What a stand-in does wrong. A gateway in front of the real services answers these with a
    short plain-text body, so the stand-ins do too."""

    fail_next: int = 0  # answer this many requests with `fail_status`, then behave
    fail_status: int = 502
    down: bool = False  # answer every request with 503
    latency: float = 0.0  # seconds every answer takes (a slow service)
    slow_next: int = 0  # make this many requests take `slow_for` seconds more (a hung service)
    slow_for: float = 0.0
    requests: int = 0  # every request seen, faulted or not
    faulted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def intercept(self, handler: BaseHTTPRequestHandler) -> bool:
        """Count the request; answer it with a fault and return True when one is due."""
        with self._lock:
            self.requests += 1
            status = 503 if self.down else self.fail_status if self.fail_next > 0 else 0
            if self.fail_next > 0 and not self.down:
                self.fail_next -= 1
            if status:
                self.faulted += 1
            delay = self.latency
            if self.slow_next > 0:
                self.slow_next -= 1
                delay += self.slow_for
        if delay:
            time.sleep(delay)  # the latency being simulated, not a wait for a server
        if not status:
            return False
        phrase = HTTPStatus(status).phrase
        send(handler, status, f"{status} {phrase}\n".encode(), "text/plain")
        return True

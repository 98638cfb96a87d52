"""A loopback HTTP server that answers uploads the way a given index would (status, reason, body)."""

from __future__ import annotations

from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler

from tests.support.loopback_http import LoopbackHttp, read_body, send


@dataclass
class CannedAnswer:
    status: int
    reason: str
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


class CannedIndex:
    """Answers every POST with `answer` (after reading the whole body) and every GET with 404."""

    def __init__(self, answer: CannedAnswer) -> None:
        self.answer = answer
        self.posts = 0
        self.http = LoopbackHttp(post=self._post)

    def _post(self, handler: BaseHTTPRequestHandler) -> None:
        read_body(handler)
        self.posts += 1
        answer = self.answer
        send(handler, answer.status, answer.body.encode(), "text/html; charset=utf-8",
             answer.reason, answer.headers)

    @property
    def url(self) -> str:
        return f"{self.http.root}/legacy/"

    def __enter__(self) -> CannedIndex:
        self.http.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.stop()

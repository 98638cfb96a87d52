"""A loopback HTTP server that answers uploads the way a given index would (status, reason, body)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                remaining = length
                while remaining > 0:
                    chunk = self.rfile.read(min(remaining, 65536))
                    if not chunk:
                        break
                    remaining -= len(chunk)
                outer.posts += 1
                self._answer(outer.answer)

            def do_GET(self) -> None:
                self._answer(CannedAnswer(404, "Not Found", "not found"))

            def _answer(self, answer: CannedAnswer) -> None:
                body = answer.body.encode()
                self.send_response(answer.status, answer.reason)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/legacy/"

    def __enter__(self) -> CannedIndex:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

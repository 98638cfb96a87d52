"""A threaded HTTP server on 127.0.0.1 whose GET/POST go to plain functions; start/stop by `with`."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Route = Callable[[BaseHTTPRequestHandler], None]


def send(handler: BaseHTTPRequestHandler, status: int, body: bytes,
         content_type: str = "text/plain", reason: str | None = None,
         headers: dict[str, str] | None = None) -> None:
    handler.send_response(status, reason)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(body)


def send_json(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any],
              reason: str | None = None) -> None:
    send(handler, status, json.dumps(body).encode(), "application/json", reason)


def read_body(handler: BaseHTTPRequestHandler) -> bytes:
    return handler.rfile.read(int(handler.headers.get("Content-Length", "0")))


class LoopbackHttp:
    def __init__(self, get: Route | None = None, post: Route | None = None) -> None:
        def not_found(handler: BaseHTTPRequestHandler) -> None:
            send_json(handler, 404, {"message": "Not Found"})

        on_get, on_post = get or not_found, post or not_found

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # Headers and body leave in two writes; without this, Nagle's algorithm and
                # delayed ACKs add 40 ms to every kept-alive request.
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_GET(self) -> None:
                on_get(self)

            def do_POST(self) -> None:
                on_post(self)

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        # A short poll keeps `stop()` quick: every test stops several of these servers.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

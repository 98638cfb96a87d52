"""A TCP proxy on loopback that makes a local index feel like one across a long, narrow link.

Each direction of each connection is a one-way link: a chunk read from one side is paced by the
bandwidth caps (per connection, and shared by all connections in that direction), then delivered
to the other side half a round-trip time after its last byte was "sent". Chunks are delayed
independently, so the delay pipelines rather than adds up, and order is kept. A new connection
costs `handshake_rtts` round trips before its first byte moves, as TCP (and TLS, which loopback
does not have) would cost. Connections, HTTP requests and "turns" (client bursts that follow a
server burst) are counted so that a benchmark can say how many round trips a tool made.

Use in-process (`WanProxy(...).start()`, `.stats()`, `.stop()`; its loop runs in a thread) or as a
script: `python benchmarks/wan_proxy.py --upstream 127.0.0.1:PORT --stats-file stats.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

if __package__ in (None, ""):
    # Run as a script: make the sibling module importable the same way as in-process.
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.link import MB, LinkShape, Pacer, Stats
from benchmarks.link_connection import Connection, Shared, log_event


def _require_loopback(host: str, what: str) -> None:
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"{what} must be a loopback address, got {host!r}")


class WanProxy:
    """Listens on loopback, forwards to a loopback upstream through a shaped link."""

    def __init__(
        self,
        upstream_port: int,
        shape: LinkShape | None = None,
        *,
        upstream_host: str = "127.0.0.1",
        listen_host: str = "127.0.0.1",
        port: int = 0,
        max_connections: int = 64,
        idle_timeout: float = 60.0,
    ) -> None:
        _require_loopback(listen_host, "listen address")
        _require_loopback(upstream_host, "upstream address")
        self.shape = shape or LinkShape()
        self.upstream = (upstream_host, upstream_port)
        self.listen = (listen_host, port)
        self.max_connections = max_connections
        self.idle_timeout = idle_timeout
        self.port = 0
        self._stats = Stats()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False
        self._shared: Shared | None = None

    # -- control, from any thread -------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"{self.listen[0]}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}/"

    def start(self) -> WanProxy:
        """Start the loop thread and listen; return once the port is bound."""
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                loop.run_until_complete(self._listen())
            except BaseException as error:  # handed to the starting thread below
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._shutdown())
            loop.close()

        self._thread = threading.Thread(target=run, name="wan-proxy", daemon=True)
        self._thread.start()
        ready.wait(timeout=10)
        if failure:
            self._thread.join(timeout=10)
            self._thread = None
            raise failure[0]
        if not self.port:
            raise RuntimeError("proxy did not start listening within 10 s")
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Close the listener and every connection; wait for the loop thread to end."""
        if self._thread is None or self._loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be closed
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=timeout)
        if self._thread.is_alive():
            raise RuntimeError(f"proxy loop did not stop within {timeout} s")
        self._thread = None

    def stats(self) -> Stats:
        with self._lock:
            lists = ("request_log", "timeline")
            copy = Stats(**{k: v for k, v in asdict(self._stats).items() if k not in lists})
            copy.request_log = list(self._stats.request_log)
            copy.timeline = list(self._stats.timeline)
            return copy

    def reset_stats(self) -> None:
        with self._lock:
            active = self._stats.active
            self._stats = Stats(active=active)

    def __enter__(self) -> WanProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- the loop ------------------------------------------------------------------------------

    async def _listen(self) -> None:
        clock = asyncio.get_running_loop().time
        total = {d: Pacer(self.shape.total_rate, clock) for d in ("up", "down")}
        self._shared = Shared(self.shape, self.upstream, self.idle_timeout, total, self._count)
        self._server = await asyncio.start_server(self._accept, *self.listen)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        """Stop accepting, then end every connection, including ones accepted a moment ago."""
        self._closing = True
        if self._server is not None:
            self._server.close()
        for _ in range(2):
            # The first pass also lets half-accepted connections reach `_accept`, which closes
            # them at once now; the second catches connection tasks they may have started.
            current = asyncio.current_task()
            pending = {t for t in asyncio.all_tasks() if t is not current}
            for task in pending & self._tasks:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=5)
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closing:
            writer.close()
            return
        with self._lock:
            over = self._stats.active >= self.max_connections
            if over:
                self._stats.refused += 1
            else:
                self._stats.connections += 1
                self._stats.active += 1
                number = self._stats.connections
                log_event(self._stats, number, "open")
        if over:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None and self._shared is not None
        self._tasks.add(task)
        try:
            await Connection(self._shared, number, reader, writer).run()
        except asyncio.CancelledError:
            pass  # the proxy is stopping; the connection closes below
        finally:
            self._tasks.discard(task)
            with self._lock:
                self._stats.active -= 1

    def _count(self, update: Callable[[Stats], None]) -> None:
        with self._lock:
            update(self._stats)


# -- command line ------------------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--upstream", required=True, help="HOST:PORT on loopback")
    parser.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT, loopback (port 0: any)")
    parser.add_argument("--rtt-ms", type=float, default=60.0)
    parser.add_argument("--conn-mbps", type=float, default=8.0, help="MB/s per connection")
    parser.add_argument("--total-mbps", type=float, default=40.0, help="MB/s for all connections")
    parser.add_argument("--handshake-rtts", type=int, default=2,
                        help="round trips a new connection costs (TCP + TLS 1.3: 2)")
    parser.add_argument("--max-connections", type=int, default=64)
    parser.add_argument("--idle-timeout", type=float, default=60.0, help="seconds")
    parser.add_argument("--max-seconds", type=float, default=3600.0,
                        help="stop by itself after this long")
    parser.add_argument("--stats-file", type=Path, help="write the counters here as JSON on exit")
    return parser.parse_args(argv)


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    shape = LinkShape(args.rtt_ms / 1000, args.conn_mbps * MB, args.total_mbps * MB,
                      args.handshake_rtts)
    upstream_host, upstream_port = _split(args.upstream)
    listen_host, listen_port = _split(args.listen)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    proxy = WanProxy(upstream_port, shape, upstream_host=upstream_host, listen_host=listen_host,
                     port=listen_port, max_connections=args.max_connections,
                     idle_timeout=args.idle_timeout)
    with proxy:
        print(f"listening on {proxy.address}", flush=True)
        stop.wait(timeout=args.max_seconds)
    if args.stats_file:
        args.stats_file.write_text(json.dumps(proxy.stats().to_json(), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

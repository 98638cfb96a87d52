"""One connection through the shaped link: a paced, delayed pump in each direction, counted."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks.http_framing import RequestCounter
from benchmarks.link import LinkShape, Pacer, Stats

# Small reads keep the pacing fine-grained: 32 KiB at 8 MB/s is 4 ms of link time.
READ_SIZE = 32 * 1024
# Chunks waiting for their delivery time, per direction; bounds memory when a reader stalls.
MAX_QUEUED_CHUNKS = 256
MAX_REQUEST_LOG = 10_000


@dataclass(frozen=True)
class Shared:
    """What every connection of one proxy uses: the shape, the shared caps, the counters."""

    shape: LinkShape
    upstream: tuple[str, int]
    idle_timeout: float
    total: dict[str, Pacer]  # by direction, "up" (to the upstream) and "down"
    count: Callable[[Callable[[Stats], None]], None]


def log_event(stats: Stats, connection: int, what: str) -> None:
    if len(stats.timeline) < MAX_REQUEST_LOG:
        stats.timeline.append((time.monotonic(), connection, what))


class Connection:
    """One client connection and its upstream, with a shaped pump in each direction."""

    def __init__(
        self,
        shared: Shared,
        number: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.shared = shared
        self.number = number
        self.client = (reader, writer)
        self.requests = RequestCounter()
        self.last_direction = "down"  # so the first client burst counts as a turn
        self.last_activity = time.monotonic()

    async def run(self) -> None:
        shape = self.shared.shape
        client_reader, client_writer = self.client
        upstream_writer: asyncio.StreamWriter | None = None
        try:
            # The handshake's round trips pass before the first byte can move, as on a real link.
            await asyncio.sleep(shape.handshake_rtts * shape.rtt)
            upstream_reader, upstream_writer = await asyncio.open_connection(
                *self.shared.upstream)
            await self._forward(client_reader, client_writer, upstream_reader, upstream_writer)
        except (ConnectionError, OSError, Idle):
            pass  # either side going away ends the connection; nothing to report
        finally:
            if not self.requests.following:
                self.shared.count(lambda s: setattr(s, "unparsed_connections",
                                                    s.unparsed_connections + 1))
            for writer in (client_writer, upstream_writer):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(ConnectionError, OSError):
                        await writer.wait_closed()

    async def _forward(
        self,
        client_reader: asyncio.StreamReader,
        client_writer: asyncio.StreamWriter,
        upstream_reader: asyncio.StreamReader,
        upstream_writer: asyncio.StreamWriter,
    ) -> None:
        """Run both directions until both ended; the first failure or idleness ends them all."""
        up: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED_CHUNKS)
        down: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue(MAX_QUEUED_CHUNKS)
        pumps = {
            asyncio.create_task(self._read(client_reader, up, "up")),
            asyncio.create_task(self._deliver(up, upstream_writer)),
            asyncio.create_task(self._read(upstream_reader, down, "down")),
            asyncio.create_task(self._deliver(down, client_writer)),
        }
        idle = asyncio.create_task(self._watch_idle())
        running = pumps | {idle}
        try:
            while pumps & running:
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # re-raises a side's failure, or Idle
        finally:
            for task in running:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def _read(
        self,
        source: asyncio.StreamReader,
        queue: asyncio.Queue[tuple[float, bytes]],
        direction: str,
    ) -> None:
        """Read, pace, and queue each chunk with the time it is due at the other end."""
        loop = asyncio.get_running_loop()
        delay = self.shared.shape.rtt / 2
        conn_pacer = Pacer(self.shared.shape.conn_rate, loop.time)
        total_pacer = self.shared.total[direction]
        while True:
            data = await source.read(READ_SIZE)
            self.last_activity = time.monotonic()
            if not data:
                await queue.put((loop.time() + delay, b""))
                return
            self._observe(direction, data)
            sent = max(conn_pacer.reserve(len(data)), total_pacer.reserve(len(data)))
            await queue.put((sent + delay, data))
            # Not reading until the link is free again pushes back on the sender, like TCP.
            await asyncio.sleep(max(0.0, sent - loop.time()))

    async def _deliver(
        self, queue: asyncio.Queue[tuple[float, bytes]], sink: asyncio.StreamWriter
    ) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due, data = await queue.get()
            await asyncio.sleep(max(0.0, due - loop.time()))
            if not data:
                if sink.can_write_eof():
                    sink.write_eof()
                return
            sink.write(data)
            await sink.drain()
            self.last_activity = time.monotonic()

    def _observe(self, direction: str, data: bytes) -> None:
        started = self.requests.feed(data) if direction == "up" else []
        turn = direction == "up" and self.last_direction == "down"
        answer = direction == "down" and self.last_direction == "up"
        self.last_direction = direction

        def update(stats: Stats) -> None:
            if direction == "up":
                stats.bytes_up += len(data)
            else:
                stats.bytes_down += len(data)
            stats.turns += turn
            stats.requests += len(started)
            room = MAX_REQUEST_LOG - len(stats.request_log)
            stats.request_log.extend(started[:max(0, room)])
            for request in started:
                log_event(stats, self.number, request)
            if answer:
                log_event(stats, self.number, "answer")

        self.shared.count(update)

    async def _watch_idle(self) -> None:
        """End a connection nobody used for `idle_timeout` seconds, so none lingers forever."""
        timeout = self.shared.idle_timeout
        while True:
            idle = time.monotonic() - self.last_activity
            if idle >= timeout:
                raise Idle
            await asyncio.sleep(timeout - idle)


class Idle(Exception):
    """Raised to end a connection that has been idle too long."""

"""One bench run over real WebSocket connections: open N at a paced rate, send M broadcasts
through the service's protocol with at most K in flight, time every delivery.

Each broadcast carries the run's id and its sequence number; every connection's reader
matches what arrives against the broadcasts waiting. A broadcast is done when every connection
open at its sending has it and its sender has the ack, or when ``timeout`` has passed: what is
missing then is counted (``lost``, ``noAck``), never waited for. Failures are counted by kind,
never raised: the run always ends within ``Plan.time_bound``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from array import array
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from wsctl.bench.plan import CLOSE_SECONDS, Plan
from wsctl.bench.stats import Recorded
from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import ConnectOptions, connect_kwargs

PROGRESS_SECONDS = 0.1


@dataclass
class Progress:
    """What the live display shows; updated in place while the run goes."""

    clients: int
    broadcasts: int
    connected: int = 0
    failed: int = 0
    done: int = 0
    delivered: int = 0
    errors: int = 0


@dataclass
class _Broadcast:
    seq: int
    sender: int
    sent_at: float
    waiting: int  # deliveries still expected
    acked: bool = False
    received: set[int] = field(default_factory=set)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def check(self) -> None:
        if self.waiting <= 0 and self.acked:
            self.finished.set()


def failure_kind(error: BaseException) -> str:
    """How a connection attempt failed, as one short key."""
    if isinstance(error, InvalidStatus):
        return f"connect http {error.response.status_code}"
    if isinstance(error, TimeoutError):
        return "connect timeout"
    if isinstance(error, ConnectionRefusedError):
        return "connect refused"
    if isinstance(error, InvalidHandshake):
        return "connect handshake"
    if isinstance(error, OSError):
        return "connect error"
    return f"connect {type(error).__name__}"


class Bench:
    """The state of one run; ``run()`` drives it."""

    def __init__(
        self,
        endpoint: Endpoint,
        options: ConnectOptions,
        plan: Plan,
        progress: Progress | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.endpoint = endpoint
        self.options = options
        self.plan = plan
        self.clock = clock
        self.progress = progress or Progress(plan.clients, plan.broadcasts)
        self.run_id = uuid.uuid4().hex[:12]
        self.recorded = Recorded(plan.clients, plan.broadcasts)
        self.latencies = array("d")
        self.errors: Counter[str] = Counter()
        self.connections: list[ClientConnection | None] = []
        self.readers: list[asyncio.Task[None]] = []
        self.open: set[int] = set()
        self.pending: dict[int, _Broadcast] = {}
        self.awaiting_ack: dict[int, deque[_Broadcast]] = {}
        self.first_sent: float | None = None
        self.last_delivery: float | None = None

    def _error(self, kind: str, count: int = 1) -> None:
        self.errors[kind] += count
        self.progress.errors += count

    # Connections -------------------------------------------------------------------------

    async def _open(self, index: int) -> None:
        kwargs = connect_kwargs(self.endpoint, self.options)
        try:
            async with asyncio.timeout(self.plan.open_timeout):
                connection = await connect(self.endpoint.url, **kwargs)
        except Exception as error:  # counted by kind: a failed connection never stops the run
            self._error(failure_kind(error))
            self.progress.failed += 1
            return
        self.connections[index] = connection
        self.open.add(index)
        self.progress.connected += 1
        self.readers.append(asyncio.create_task(self._read(index, connection)))

    async def connect_all(self) -> None:
        """Open every connection, starting the i-th at ``i / rate`` seconds."""
        self.connections = [None] * self.plan.clients
        started = self.clock()
        attempts = []
        for index in range(self.plan.clients):
            delay = started + index / self.plan.connect_rate - self.clock()
            if delay > 0:
                await asyncio.sleep(delay)
            attempts.append(asyncio.create_task(self._open(index)))
        await asyncio.gather(*attempts)
        self.recorded.connected = len(self.open)
        self.recorded.connect_seconds = self.clock() - started

    async def _read(self, index: int, connection: ClientConnection) -> None:
        try:
            async for message in connection:
                self._receive(index, message)
        except ConnectionClosed:
            pass
        finally:
            if index in self.open:  # closed by the server or the network, not by us
                self.open.discard(index)
                code = connection.close_code
                self._error(f"closed {code}" if code is not None else "dropped")

    def _receive(self, index: int, message: str | bytes) -> None:
        now = self.clock()
        try:
            frame = json.loads(message)
        except ValueError:
            self._error("unreadable frame")
            return
        if not isinstance(frame, dict):
            return
        kind = frame.get("type")
        if kind == "broadcast":
            body = frame.get("message")
            if not isinstance(body, dict) or body.get("bench") != self.run_id:
                return  # someone else's broadcast
            broadcast = self.pending.get(body.get("seq"))
            if broadcast is None:
                self._error("late")
            elif index in broadcast.received:
                self._error("duplicate")
            else:
                broadcast.received.add(index)
                broadcast.waiting -= 1
                self.latencies.append(now - broadcast.sent_at)
                self.recorded.delivered += 1
                self.progress.delivered += 1
                self.last_delivery = now
                broadcast.check()
        elif kind == "ack" and frame.get("action") == "broadcast":
            queue = self.awaiting_ack.get(index)
            if queue:
                broadcast = queue.popleft()
                broadcast.acked = True
                broadcast.check()
        elif kind == "error":
            self._error(f"error frame {frame.get('error', '?')}")

    # Broadcasts --------------------------------------------------------------------------

    def _frame(self, seq: int) -> str:
        message = {"bench": self.run_id, "seq": seq, "pad": "x" * self.plan.size}
        return json.dumps({"action": "broadcast", "message": message}, separators=(",", ":"))

    async def _one(self, seq: int, slots: asyncio.Semaphore) -> None:
        try:
            senders = sorted(self.open)
            if not senders:
                self._error("no connection to send from")
                return
            sender = senders[seq % len(senders)]
            connection = self.connections[sender]
            assert connection is not None
            now = self.clock()
            broadcast = _Broadcast(seq, sender, now, waiting=len(self.open))
            self.pending[seq] = broadcast
            self.awaiting_ack.setdefault(sender, deque()).append(broadcast)
            self.recorded.expected += broadcast.waiting
            self.first_sent = now if self.first_sent is None else self.first_sent
            try:
                await connection.send(self._frame(seq))
            except ConnectionClosed:
                self._error("send on closed connection")
            self.recorded.sent += 1
            try:
                async with asyncio.timeout(self.plan.timeout):
                    await broadcast.finished.wait()
            except TimeoutError:
                pass
            self.pending.pop(seq, None)
            if broadcast.waiting > 0:
                self._error("lost", broadcast.waiting)
            if broadcast.acked:
                self.recorded.acked += 1
            else:
                self._error("no ack")
                queue = self.awaiting_ack.get(sender)
                if queue and broadcast in queue:
                    queue.remove(broadcast)
            self.progress.done += 1
        finally:
            slots.release()

    async def broadcast_all(self) -> None:
        slots = asyncio.Semaphore(self.plan.inflight)
        tasks = []
        for seq in range(self.plan.broadcasts):
            await slots.acquire()
            tasks.append(asyncio.create_task(self._one(seq, slots)))
        await asyncio.gather(*tasks)
        if self.first_sent is not None:
            end = max(self.last_delivery or self.first_sent, self.first_sent)
            self.recorded.broadcast_seconds = end - self.first_sent

    async def close_all(self) -> None:
        live = [c for c in self.connections if c is not None]
        self.open.clear()  # closing is ours: not an error
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await asyncio.gather(*(c.close() for c in live), return_exceptions=True)
        except TimeoutError:
            self._error("close timeout")
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*self.readers, return_exceptions=True)

    async def run(self) -> Recorded:
        started = self.clock()
        try:
            await self.connect_all()
            if self.open:
                await self.broadcast_all()
        finally:
            await self.close_all()
            self.recorded.latencies = self.latencies
            self.recorded.errors = self.errors
            self.recorded.elapsed = self.clock() - started
        return self.recorded


async def run_bench(
    endpoint: Endpoint,
    options: ConnectOptions,
    plan: Plan,
    progress: Progress | None = None,
    on_tick: Callable[[Progress], Any] | None = None,
) -> Recorded:
    """Run ``plan`` against ``endpoint``; ``on_tick(progress)`` every 0.1 s while it runs."""
    bench = Bench(endpoint, options, plan, progress)

    async def ticker() -> None:
        while True:
            await asyncio.sleep(PROGRESS_SECONDS)
            if on_tick is not None:
                on_tick(bench.progress)

    tick = asyncio.create_task(ticker())
    try:
        # The plan's own bound, and a margin: whatever happens, the run ends.
        async with asyncio.timeout(plan.time_bound + CLOSE_SECONDS):
            return await bench.run()
    except TimeoutError:
        bench.recorded.errors["run past its time bound"] += 1
        return bench.recorded
    finally:
        tick.cancel()

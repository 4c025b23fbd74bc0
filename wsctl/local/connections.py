"""The @connections backend: live connections by id, and post/get/delete on them.

One backend answers both the HTTP management endpoint and the in-process botocore hook, so
both give the same answers, with errors carrying their HTTP status and AWS error code (the
shape of moto's ``apigatewaymanagementapi`` models and exceptions).

Calls may come from the event loop (HTTP) or from handler threads (boto3): delivery is
always done on the loop, which owns the sockets.
"""

from __future__ import annotations

import asyncio
import collections
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.server import ServerConnection, broadcast
from websockets.protocol import State

from wsctl.local.events import Peer

GOING_AWAY = (1001, "Going away")
DELETED = (1000, "Connection Closed Normally")
# A client that stops reading: its frames pile up in our write buffer until it is dropped.
NOT_READING = (1008, "Client is not reading: too much data waiting to be sent")
# Arrivals and departures kept for watchers (``changes_since``); one further behind gets the
# whole list of live ids instead.
CHANGES_KEPT = 4096


class ManagementError(Exception):
    """An @connections error as AWS reports it: HTTP status, error code, message."""

    status = 400
    code = "BadRequestException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class GoneError(ManagementError):
    status = 410
    code = "GoneException"


class PayloadTooLargeError(ManagementError):
    status = 413
    code = "PayloadTooLargeException"


class ForbiddenError(ManagementError):
    status = 403
    code = "ForbiddenException"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso8601(epoch_ms: int) -> str:
    stamp = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass(eq=False)
class LiveConnection:
    """A connection whose $connect succeeded: the socket, who it is, and how it ended."""

    peer: Peer
    websocket: ServerConnection
    opened: float = field(default_factory=time.monotonic)
    last_active: float = field(default_factory=time.monotonic)
    # Why the gateway itself closed it (timeouts, DELETE, shutdown); None if the client did.
    closed_by_gateway: tuple[int, str] | None = None

    @property
    def connection_id(self) -> str:
        return self.peer.connection_id

    def touch(self) -> None:
        self.last_active = time.monotonic()

    @property
    def last_active_ms(self) -> int:
        """Wall-clock time of the last activity (kept as monotonic: one clock read per frame)."""
        return now_ms() - int((time.monotonic() - self.last_active) * 1000)

    def describe(self) -> dict[str, Any]:
        """GetConnection's answer, as the HTTP API spells it."""
        identity = {"sourceIp": self.peer.source_ip}
        if self.peer.user_agent is not None:
            identity["userAgent"] = self.peer.user_agent
        return {
            "connectedAt": iso8601(self.peer.connected_at),
            "identity": identity,
            "lastActiveAt": iso8601(max(self.last_active_ms, self.peer.connected_at)),
        }


class ConnectionsBackend:
    """Live connections of one gateway; thread-safe post/get/delete."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, max_payload: int, max_buffered: int
    ) -> None:
        """Create it on the loop's thread: that is where sockets may be touched directly.

        ``max_buffered``: bytes that may wait in one connection's write buffer; a client
        that lets more pile up (it never reads) is dropped, so it cannot grow our memory.
        """
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._max_payload = max_payload
        self._max_buffered = max_buffered
        self._live: dict[str, LiveConnection] = {}
        # Posts queue here; the loop writes them once per batch, not per post.
        self._outbox: collections.deque[tuple[LiveConnection, bytes, bool]] = collections.deque()
        self._wake_pending = False
        self._last_data: bytes | None = None
        self._last_text = False
        # (arrived?, id) in order; _changes[0] is change number _changes_base.
        self._changes: list[tuple[bool, str]] = []
        self._changes_base = 0
        self._departure_counters: list[Any] = []

    @property
    def max_payload(self) -> int:
        return self._max_payload

    # Registration happens on the loop, after $connect succeeded and the handshake completed.
    def add(self, connection: LiveConnection) -> None:
        self._live[connection.connection_id] = connection
        self._changed(True, connection.connection_id)

    def remove(self, connection: LiveConnection) -> None:
        if self._live.get(connection.connection_id) is connection:
            del self._live[connection.connection_id]
            if connection.closed_by_gateway is None:  # else told when the gateway closed it
                self._changed(False, connection.connection_id)

    def count_departures(self, counter: Any) -> None:
        """Bump ``counter`` (anything with ``bump()``) whenever a connection leaves."""
        if counter not in self._departure_counters:
            self._departure_counters.append(counter)

    def _changed(self, arrived: bool, connection_id: str) -> None:
        if not arrived:
            for counter in self._departure_counters:
                counter.bump()
        self._changes.append((arrived, connection_id))
        if len(self._changes) > CHANGES_KEPT:
            dropped = len(self._changes) // 2
            del self._changes[:dropped]
            self._changes_base += dropped

    def changes_since(self, seen: int | None) -> tuple[int, tuple | None]:
        """For a watcher that knows the live ids as of change number ``seen`` (None: nothing
        yet): the number it knows them as of now, and what it lacks: None, ("full", ids) or
        ("delta", [(arrived?, id), ...]). On the loop."""
        now = self._changes_base + len(self._changes)
        if seen == now:
            return now, None
        if seen is None or seen < self._changes_base:
            live = [id_ for id_, one in self._live.items() if one.closed_by_gateway is None]
            return now, ("full", live)
        return now, ("delta", self._changes[seen - self._changes_base :])

    def live(self) -> list[LiveConnection]:
        return list(self._live.values())

    def __len__(self) -> int:
        return len(self._live)

    def _find(self, connection_id: str) -> LiveConnection:
        connection = self._live.get(connection_id)
        if (
            connection is None
            or connection.closed_by_gateway is not None
            or connection.websocket.protocol.state is not State.OPEN
        ):
            raise GoneError(f"Connection {connection_id} is gone (or not connected yet).")
        return connection

    def post(self, connection_id: str, data: bytes) -> None:
        """PostToConnection: queue ``data`` for the client (text frame if it is UTF-8)."""
        if len(data) > self._max_payload:
            raise PayloadTooLargeError(
                f"Payload of {len(data)} bytes exceeds the {self._max_payload}-byte limit."
            )
        self._queue(self._find(connection_id), data)

    def post_accepted(self, connection_id: str, data: bytes) -> None:
        """A post its sender already answered 200, knowing the connection live and ``data``
        within the limit (a sandbox's view): queued, unless the connection closed since. Then
        the frame is lost, as AWS loses a frame it accepted while the client was leaving."""
        connection = self._live.get(connection_id)
        if connection is None or connection.closed_by_gateway is not None:
            return
        if connection.websocket.protocol.state is State.OPEN:
            self._queue(connection, data)

    def _queue(self, connection: LiveConnection, data: bytes) -> None:
        # A broadcast posts the same bytes many times: decided once whether they are text.
        if data is not self._last_data:
            try:
                data.decode("utf-8")
                self._last_text = True
            except UnicodeDecodeError:
                self._last_text = False
            self._last_data = data
        # Queued, even on the loop: the caller learns the outcome now and its next work
        # overlaps the writes (a sandbox wakes its fan-out threads while frames go out), and
        # a batch of posts of the same data is written by one broadcast() call.
        self._outbox.append((connection, data, self._last_text))
        if not self._wake_pending:
            self._wake_pending = True
            if self._on_loop():
                self._loop.call_soon(self._flush)
            else:
                self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        # Clear the flag first: a post appended after this point schedules another flush.
        self._wake_pending = False
        outbox = self._outbox
        now = time.monotonic()
        while outbox:
            # A broadcast queues the same bytes for many connections in a row: one call each.
            connection, data, text = outbox.popleft()
            connection.last_active = now
            targets = [connection]
            while outbox and outbox[0][1] is data:
                connection = outbox.popleft()[0]
                connection.last_active = now
                targets.append(connection)
            self._deliver(targets, data, text)

    def _deliver(self, targets: list[LiveConnection], data: bytes, text: bool) -> None:
        # broadcast() writes the frames without awaiting the sockets (no task per message),
        # so nothing pushes back on a client that does not read: check its buffer instead.
        broadcast([target.websocket for target in targets], data, text=text)
        for target in targets:
            transport = target.websocket.transport
            if transport.get_write_buffer_size() > self._max_buffered:
                self.drop(target, NOT_READING)

    def get(self, connection_id: str) -> dict[str, Any]:
        """GetConnection: when it connected, when it was last active, and who it is."""
        return self._find(connection_id).describe()

    def delete(self, connection_id: str) -> None:
        """DeleteConnection: close it from the server side ($disconnect follows)."""
        connection = self._find(connection_id)
        if self._on_loop():
            self.close(connection, DELETED)
        else:
            self._loop.call_soon_threadsafe(self.close, connection, DELETED)

    def close(self, connection: LiveConnection, why: tuple[int, str]) -> None:
        """Close from the gateway's side; the client receives ``why`` as its close frame."""
        self._closing(connection, why)
        self._loop.create_task(connection.websocket.close(*why))

    def drop(self, connection: LiveConnection, why: tuple[int, str]) -> None:
        """End the connection now, without a closing handshake (a close frame would wait
        behind the data the client is not reading); ``$disconnect`` reports ``why``."""
        self._closing(connection, why)
        connection.websocket.transport.abort()

    def _closing(self, connection: LiveConnection, why: tuple[int, str]) -> None:
        # Gone from the moment the gateway closes it, as @connections answers 410 then, not
        # once the closing handshake is over: watchers are told now.
        if connection.closed_by_gateway is None:
            connection.closed_by_gateway = why
            self._changed(False, connection.connection_id)

    def _on_loop(self) -> bool:
        return self._loop_thread == threading.get_ident()

"""What each action does, between a parsed request and the frames it posts back.

Replies go to the sender through the management API, like every other frame. Protocol
problems raise ``messaging.ProtocolError`` for the handler to turn into an error frame.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import fanout
import messaging
from api_events import Caller
from connection_store import ConnectionStore, live
from messaging import ProtocolError

logger = logging.getLogger("wsctl.service")


def reply(
    management: Any,
    caller: Caller,
    frame: dict[str, Any],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> fanout.PostResult:
    """Post a service frame to the sender; a failure is logged, never raised."""
    result = fanout.post(
        management, caller.connection_id, messaging.encode_frame(frame), sleep=sleep
    )
    if result.outcome is not fanout.Outcome.DELIVERED:
        logger.warning(
            "reply %s to %s: %s (%s)",
            frame.get("type"),
            caller.connection_id,
            result.outcome.value,
            result.error,
        )
    return result


@dataclass
class Service:
    """One invocation's view of the service: its table, its management client, its clock."""

    store: ConnectionStore
    management: Any
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    # segmented(sender, data): a segmented broadcast (segments.py); its result when it posted
    # everything itself, None when its segments will ack. None here: one invocation posts all.
    segmented: Callable[[str, bytes], fanout.FanOutResult | None] | None = None

    def reply(self, caller: Caller, frame: dict[str, Any]) -> fanout.PostResult:
        return reply(self.management, caller, frame, sleep=self.sleep)

    def perform(self, caller: Caller, request: messaging.Request) -> None:
        if isinstance(request, messaging.Broadcast):
            self.broadcast(caller, request.message)
        elif isinstance(request, messaging.Send):
            self.send(caller, request.to, request.message)
        elif isinstance(request, messaging.ListConnections):
            self.list_connections(caller)
        else:
            self.whoami(caller)

    def _forget_gone(self, caller: Caller, connection_id: str) -> None:
        """Delete a record whose connection answered 410, unless it is the sender's own."""
        if connection_id != caller.connection_id:
            self.store.delete(connection_id)

    def broadcast(self, caller: Caller, message: Any) -> None:
        now = self.clock()
        frame = messaging.broadcast_frame(caller.connection_id, message, int(now * 1000))
        data = messaging.encode_within_limit(frame)
        started = time.monotonic()
        if self.segmented is not None:
            result = self.segmented(caller.connection_id, data)
            if result is None:
                return  # the last segment acks
        else:
            result = fanout.fan_out(
                self.management,
                data,
                self.store.live_ids(now),
                on_gone=lambda connection_id: self._forget_gone(caller, connection_id),
                sleep=self.sleep,
            )
        logger.info(
            "broadcast from %s: delivered=%d gone=%d failed=%d %s in %.0f ms",
            caller.connection_id,
            result.delivered,
            result.gone,
            result.failed,
            dict(result.errors) if result.errors else "",
            (time.monotonic() - started) * 1000,
        )
        self.reply(
            caller,
            messaging.ack_frame("broadcast", result.delivered, result.gone, result.failed),
        )

    def send(self, caller: Caller, to: str, message: Any) -> None:
        now = self.clock()
        frame = messaging.message_frame(caller.connection_id, message, int(now * 1000))
        data = messaging.encode_within_limit(frame)
        record = self.store.get(to) if messaging.could_be_connection_id(to) else None
        if record is None or record.is_expired(now):
            raise ProtocolError(
                messaging.NOT_FOUND, f"No open connection has the id {messaging.quoted(to)}."
            )
        result = fanout.FanOutResult()
        result.add(fanout.post(self.management, to, data, sleep=self.sleep))
        if result.gone:
            self._forget_gone(caller, to)
        ack = messaging.ack_frame("send", result.delivered, result.gone, result.failed)
        self.reply(caller, ack)

    def list_connections(self, caller: Caller) -> None:
        records = sorted(
            live(self.store.scan(), self.clock()),
            key=lambda record: (record.connected_at, record.connection_id),
        )
        self.reply(caller, messaging.connections_frame([record.public() for record in records]))

    def whoami(self, caller: Caller) -> None:
        self.reply(
            caller,
            messaging.whoami_frame(caller.connection_id, caller.connected_at, caller.source_ip),
        )

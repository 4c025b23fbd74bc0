"""The console's feed: the stack's connections and invocations, as JSON text frames.

First a ``hello`` (the stack, how the page connects, the connections open now), then one
frame per event as it happens. A page that reads too slowly misses events rather than
growing the emulator's memory: it is told how many it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Any

from websockets.exceptions import ConnectionClosed

from wsctl.local import observe
from wsctl.local.events import Peer

if TYPE_CHECKING:
    from wsctl.local.gateway import Gateway, GatewayConnection

BACKLOG = 1000  # events waiting for one page; beyond that they are counted and dropped
# The routes of wsctl's own protocol: with them the page offers broadcast and send-to-one.
PROTOCOL_ROUTES = ("broadcast", "send", "whoami")


def describe_peer(peer: Peer) -> dict[str, Any]:
    return {
        "connectionId": peer.connection_id,
        "connectedAt": peer.connected_at,
        "sourceIp": peer.source_ip,
        "userAgent": peer.user_agent,
    }


def describe(event: observe.Event) -> dict[str, Any]:
    """An observer event as the page reads it (camelCase, as the wire protocol)."""
    if isinstance(event, observe.Connected):
        return {"type": "connected", "connection": describe_peer(event.peer)}
    if isinstance(event, observe.Disconnected):
        return {
            "type": "disconnected",
            "connectionId": event.connection_id,
            "code": event.code,
            "reason": event.reason,
        }
    return {
        "type": "invocation",
        "function": event.function,
        "route": event.route,
        "requestId": event.request_id,
        "connectionId": event.connection_id,
        "startedAt": event.started_at,
        "durationMs": event.duration_ms,
        "outcome": event.outcome,
        "logs": list(event.logs),
    }


def hello(gateway: Gateway) -> dict[str, Any]:
    """What the page needs first: the stack, how to connect to it, who is connected now.

    The token (``--auth token``) travels only here, to the page's own origin, and the page
    sends it as the handshake's ``token`` query parameter, the way browsers authenticate.
    """
    spec = gateway.spec
    return {
        "type": "hello",
        "stack": spec.stack,
        "stage": spec.stage,
        "auth": spec.auth,
        "token": gateway.auth_token,
        "routes": sorted(spec.routes),
        "protocol": all(route in spec.routes for route in PROTOCOL_ROUTES),
        "connections": [describe_peer(live.peer) for live in gateway.backend.live()],
    }


class _Backlog:
    """Events waiting for one page; past ``BACKLOG`` they are counted instead."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(BACKLOG)
        self.missed = 0

    def put(self, event: observe.Event) -> None:
        try:
            self.queue.put_nowait(describe(event))
        except asyncio.QueueFull:
            self.missed += 1


async def serve(gateway: Gateway, websocket: GatewayConnection) -> None:
    """Send the hello, then every event, until the page goes away."""
    backlog = _Backlog()
    # Snapshot and subscription happen together on the loop: no event falls between them.
    stop = gateway.functions.observers.add(backlog.put)
    sender = asyncio.create_task(_send(websocket, hello(gateway), backlog))
    try:
        async for _ in websocket:  # the page has nothing to say; this ends when it leaves
            pass
    except ConnectionClosed:
        pass
    finally:
        stop()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
            await sender


async def _send(websocket: GatewayConnection, first: dict[str, Any], backlog: _Backlog) -> None:
    await websocket.send(json.dumps(first))
    told = 0
    while True:
        event = await backlog.queue.get()
        if backlog.missed > told:
            told = backlog.missed
            await websocket.send(json.dumps({"type": "missed", "count": told}))
        await websocket.send(json.dumps(event))

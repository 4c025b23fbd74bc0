"""Answers the console's requests during the gateway's opening handshake (process_request)."""

from __future__ import annotations

import http
from typing import TYPE_CHECKING

from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from wsctl.local.console import feed, pages

if TYPE_CHECKING:
    from wsctl.local.gateway import Gateway, GatewayConnection


def answer(gateway: Gateway, websocket: GatewayConnection, request: Request) -> Response | None:
    """A response for a console path, or None to accept the feed's WebSocket handshake."""
    path = request.path.partition("?")[0]
    # DNS rebinding: a foreign name that resolves to 127.0.0.1 is not this console.
    if not gateway.origins.own_host(_only(request, "Host")):
        return websocket.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
    if path == pages.FEED_PATH:
        if not gateway.origins.console_allowed(_only(request, "Origin")):
            return websocket.respond(http.HTTPStatus.FORBIDDEN, "Forbidden\n")
        websocket.serve_instead = lambda: feed.serve(gateway, websocket)
        return None
    name = pages.asset_name(path)
    asset = pages.load(name) if name else None
    if asset is None:
        return websocket.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
    headers = Headers(
        [
            ("Content-Type", asset.content_type),
            ("Content-Length", str(len(asset.body))),
            ("Connection", "close"),
            *pages.SECURITY_HEADERS,
        ]
    )
    return Response(http.HTTPStatus.OK, "OK", headers, asset.body)


def _only(request: Request, name: str) -> str | None:
    """The header's value if it is there exactly once (a repeated one is not trusted)."""
    values = request.headers.get_all(name)
    return values[0] if len(values) == 1 else None

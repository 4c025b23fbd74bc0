"""Opening a connection and sending on it, with every failure turned into one line."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    InvalidHandshake,
    InvalidProxy,
    InvalidStatus,
    InvalidURI,
)
from websockets.frames import Frame, Opcode

from wsctl.auth import redact_url
from wsctl.client import protocol
from wsctl.client.close_codes import CLEAN_CLOSE, describe_close
from wsctl.client.endpoint import Endpoint
from wsctl.client.escaping import escape
from wsctl.client.handshake import ConnectOptions, connect_kwargs
from wsctl.errors import ConfigError, WsctlError

ControlListener = Callable[[str, bytes], None]
MAX_BODY_SHOWN = 300


class WatchedConnection(ClientConnection):
    """A client connection that reports the pings and pongs it receives (for ``-P``);
    websockets answers pings itself and does not surface them otherwise. ``host_header``
    (``--host``) replaces the Host header websockets derives from the URL: passed as an extra
    header it would be sent twice."""

    on_control: ControlListener | None = None
    host_header: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.host_header is not None:
            build_request, host = self.protocol.connect, self.host_header

            def request_with_host() -> Any:
                request = build_request()
                del request.headers["Host"]
                request.headers["Host"] = host
                return request

            self.protocol.connect = request_with_host  # type: ignore[method-assign]

    def process_event(self, event: Any) -> None:
        if isinstance(event, Frame) and self.on_control is not None:
            if event.opcode is Opcode.PING:
                self.on_control("ping", bytes(event.data))
            elif event.opcode is Opcode.PONG:
                self.on_control("pong", bytes(event.data))
        super().process_event(event)


class _Opening(connect):
    """websockets' ``connect``, following redirects only when asked (``-L``), as wscat."""

    follow_redirects = False

    def process_redirect(self, exc: Exception) -> Exception | str:
        if not self.follow_redirects:
            return exc
        return super().process_redirect(exc)


REDIRECTS = frozenset({300, 301, 302, 303, 307, 308})


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or url


def _body(body: bytes | None) -> str:
    text = " ".join((body or b"").decode("utf-8", "replace").split())
    if len(text) > MAX_BODY_SHOWN:
        text = text[:MAX_BODY_SHOWN] + "…"
    return escape(text)


def describe_failure(exc: BaseException, url: str, open_timeout: float) -> WsctlError:
    """The one line a user reads when the connection to ``url`` cannot be opened."""
    url = redact_url(url)  # a token given in the URL must not reach the terminal or CI logs
    host = _host(url)
    if isinstance(exc, InvalidURI):
        return ConfigError(f"{url!r} is not a WebSocket URL: use ws://HOST[:PORT]/PATH or wss://…")
    if isinstance(exc, InvalidProxy):
        return ConfigError(f"--proxy: {exc}")
    if isinstance(exc, InvalidStatus) and exc.response.status_code in REDIRECTS:
        location = exc.response.headers.get("Location")
        if location:
            return WsctlError(
                f"{url} redirects (HTTP {exc.response.status_code}) to "
                f"{escape(redact_url(location))}: pass -L/--location to follow it"
            )
    if isinstance(exc, InvalidStatus):
        response = exc.response
        body = _body(response.body)
        status = f"HTTP {response.status_code} {response.reason_phrase}".strip()
        return WsctlError(f"{url} rejected the handshake: {status}" + (f": {body}" if body else ""))
    if isinstance(exc, ssl.SSLCertVerificationError):
        return WsctlError(
            f"TLS verification failed for {host}: {exc.verify_message}; trust its certificate "
            "with --ca FILE, or skip the check with -n/--no-check"
        )
    if isinstance(exc, ssl.SSLError):
        return WsctlError(f"TLS handshake with {host} failed: {exc.reason or exc}")
    if isinstance(exc, socket.gaierror):
        return WsctlError(f"Unknown host {urlsplit(url).hostname}: {exc.strerror} ({url})")
    if isinstance(exc, TimeoutError):
        return WsctlError(f"Timed out after {open_timeout:g} s opening {url}")
    if isinstance(exc, ConnectionRefusedError) or "Connect call failed" in str(exc):
        return WsctlError(f"Connection refused by {host}: is the service running? ({url})")
    if isinstance(exc, ConnectionResetError):
        if urlsplit(url).scheme.lower() == "wss":
            return WsctlError(
                f"{host} reset the connection during the TLS handshake: if it serves plain "
                f"WebSocket, use ws:// instead of wss:// ({url})"
            )
        return WsctlError(f"{host} reset the connection during the handshake ({url})")
    if isinstance(exc, InvalidHandshake):
        return WsctlError(f"{url} did not complete a WebSocket handshake: {_said(exc)}")
    if isinstance(exc, OSError):
        return WsctlError(f"Cannot connect to {url}: {exc.strerror or _said(exc)}")
    return WsctlError(f"Cannot connect to {url}: {_said(exc)}")


def _said(exc: BaseException) -> str:
    """What an exception says, never nothing (some carry no message at all)."""
    return str(exc) or type(exc).__name__


async def open_connection(endpoint: Endpoint, options: ConnectOptions) -> WatchedConnection:
    """Connect to ``endpoint`` as the options say; failures raise one-line ``WsctlError``s."""
    kwargs = connect_kwargs(endpoint, options)
    connection_class = WatchedConnection
    if options.host is not None:
        connection_class = type(
            "HostConnection", (WatchedConnection,), {"host_header": options.host}
        )
    try:
        opening = _Opening(endpoint.url, create_connection=connection_class, **kwargs)
        opening.follow_redirects = options.follow_redirects
        connection = await opening
    except (OSError, TimeoutError, InvalidHandshake, InvalidURI, InvalidProxy) as exc:
        raise describe_failure(exc, endpoint.url, options.open_timeout) from None
    assert isinstance(connection, WatchedConnection)
    return connection


async def send_message(connection: ClientConnection, text: str) -> None:
    """Send ``text`` as one message, fragmented into 32 KB frames when larger; raises
    ``MessageTooLarge`` (before sending anything) above 128 KB."""
    await connection.send(protocol.outgoing(text))


@dataclass(frozen=True)
class CloseOutcome:
    """How a finished connection ended: the server's close code and reason (None when the
    connection dropped without a close frame), and whether the server ended it."""

    code: int | None
    reason: str
    by_server: bool

    @property
    def clean(self) -> bool:
        """We closed it, or the server closed it with 1000."""
        return not self.by_server or self.code == CLEAN_CLOSE

    def describe(self) -> str:
        return describe_close(self.code, self.reason)


def close_outcome(connection: ClientConnection) -> CloseOutcome:
    """How ``connection`` ended; call it once the connection is closed."""
    protocol = connection.protocol
    received = protocol.close_rcvd
    # The server ended it if its close frame came before ours, or if nothing was ever sent by
    # us (the connection dropped).
    by_server = bool(received is not None and protocol.close_rcvd_then_sent) or (
        protocol.close_sent is None
    )
    if received is None:
        return CloseOutcome(None, "", by_server)
    return CloseOutcome(received.code, received.reason, by_server)

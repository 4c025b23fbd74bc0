"""The @connections HTTP endpoint, on the WebSocket port, parsed with h11.

Every new TCP connection's first request is read with h11 until its request line and
headers are known. ``/{stage}/@connections/{id}`` is answered here; anything else is handed,
bytes untouched, to websockets for the opening handshake.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from urllib.parse import unquote, urlsplit

import h11

from wsctl.local import origin
from wsctl.local.connections import (
    ConnectionsBackend,
    ForbiddenError,
    ManagementError,
    PayloadTooLargeError,
)

# Enough for any sane request line and headers; beyond that websockets' own limits answer.
_MAX_HEAD = 16 * 1024


# (method, target, headers, body) -> why the request's signature is refused, or None.
SignatureChecker = Callable[[str, str, list[tuple[str, str]], bytes], str | None]


class Verdict(Enum):
    WAIT = "wait"
    WEBSOCKET = "websocket"
    RESPONDED = "responded"


@dataclass
class Sniffed:
    verdict: Verdict
    data: bytes = b""


def management_target(target: str, stage: str) -> str | None:
    """The connection id if ``target`` is ``/{stage}/@connections/{id}``, else None.

    Clients percent-encode '@' and the id (botocore does), so both are decoded.
    """
    segments = urlsplit(target).path.split("/")
    if len(segments) < 3 or unquote(segments[1]) != stage:
        return None
    if unquote(segments[2]) != "@connections":
        return None
    return unquote("/".join(segments[3:]))


class FirstRequest:
    """Reads a TCP connection's first request and either answers it or passes it on."""

    def __init__(
        self,
        stage: str,
        backend: ConnectionsBackend,
        max_payload: int,
        check_signature: SignatureChecker | None = None,
    ) -> None:
        self._stage = stage
        # With auth = "iam": every request must be signed (SigV4), as on AWS.
        self._check_signature = check_signature
        self._backend = backend
        self._max_payload = max_payload
        self._parser = h11.Connection(h11.SERVER, max_incomplete_event_size=_MAX_HEAD)
        self._received = bytearray()
        self._request: h11.Request | None = None
        self._connection_id = ""
        self._body = bytearray()

    def feed(self, data: bytes) -> Sniffed:
        if self._request is None:
            self._received += data
        self._parser.receive_data(data)
        try:
            return self._advance()
        except h11.RemoteProtocolError:
            if self._request is None:
                return Sniffed(Verdict.WEBSOCKET, bytes(self._received))
            return Sniffed(Verdict.RESPONDED)  # a broken body: h11 cannot answer, just close

    def _advance(self) -> Sniffed:
        while True:
            event = self._parser.next_event()
            if event is h11.NEED_DATA or event is h11.PAUSED:
                if self._request is None and event is h11.PAUSED:
                    return Sniffed(Verdict.WEBSOCKET, bytes(self._received))
                return Sniffed(Verdict.WAIT)
            if isinstance(event, h11.Request):
                connection_id = management_target(event.target.decode("latin-1"), self._stage)
                if connection_id is None:
                    return Sniffed(Verdict.WEBSOCKET, bytes(self._received))
                self._request, self._connection_id = event, connection_id
                self._received.clear()
                if not origin.management_allowed(_header(event, b"origin")):
                    return self._respond_error(ForbiddenError(_FROM_A_PAGE))
                length = _content_length(event)
                if length is not None and length > self._max_payload:
                    return self._respond_error(_too_large(length, self._max_payload))
            elif isinstance(event, h11.Data):
                self._body += event.data
                if len(self._body) > self._max_payload:
                    return self._respond_error(_too_large(len(self._body), self._max_payload))
            elif isinstance(event, h11.EndOfMessage):
                return self._respond()
            else:  # ConnectionClosed before the request was complete
                return Sniffed(Verdict.RESPONDED)

    def _respond(self) -> Sniffed:
        assert self._request is not None
        method = self._request.method.decode("ascii", "replace").upper()
        try:
            if self._check_signature is not None:
                refusal = self._check_signature(
                    method,
                    self._request.target.decode("latin-1"),
                    [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._request.headers],
                    bytes(self._body),
                )
                if refusal is not None:
                    raise ForbiddenError(refusal)
            if not self._connection_id or "/" in self._connection_id:
                raise ForbiddenError("Missing Authentication Token")
            if method == "POST":
                self._backend.post(self._connection_id, bytes(self._body))
                return self._send(200, b"")
            if method == "GET":
                body = json.dumps(self._backend.get(self._connection_id)).encode()
                return self._send(200, body)
            if method == "DELETE":
                self._backend.delete(self._connection_id)
                return self._send(204, None)
            raise ForbiddenError("Missing Authentication Token")
        except ManagementError as exc:
            return self._respond_error(exc)

    def _respond_error(self, error: ManagementError) -> Sniffed:
        body = json.dumps({"message": error.message}).encode("utf-8")
        return self._send(error.status, body, [("x-amzn-ErrorType", error.code)])

    def _send(
        self, status: int, body: bytes | None, extra: list[tuple[str, str]] | None = None
    ) -> Sniffed:
        headers = [("Connection", "close"), *(extra or [])]
        if body is not None:
            headers += [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        # h11 lets a server answer before it has read the whole body (an early 413).
        out = self._parser.send(h11.Response(status_code=status, headers=headers)) or b""
        if body:
            out += self._parser.send(h11.Data(data=body)) or b""
        out += self._parser.send(h11.EndOfMessage()) or b""
        return Sniffed(Verdict.RESPONDED, out)


_FROM_A_PAGE = "The local management API does not answer web pages (the request has an Origin)."


def _header(request: h11.Request, wanted: bytes) -> str | None:
    """The first value of a header (h11 gives names lowercased), or None."""
    for name, value in request.headers:
        if name == wanted:
            return value.decode("latin-1")
    return None


def _content_length(request: h11.Request) -> int | None:
    value = _header(request, b"content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _too_large(size: int, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"Payload of {size} bytes exceeds the {limit}-byte limit.")

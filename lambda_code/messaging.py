"""The wire protocol, pure: client frames parsed and checked, service frames built and encoded.

Client to service (JSON text frames)::

    {"action": "broadcast", "message": <any JSON value>}
    {"action": "send", "to": "<connectionId>", "message": <any JSON value>}
    {"action": "list"}
    {"action": "whoami"}

A frame that cannot be read becomes a ``ProtocolError`` carrying one of the documented codes:

- ``invalid_json``: not UTF-8 text, not JSON, or JSON that is not an object;
- ``missing_field``: no ``action``, or a field an action needs is absent or of the wrong type
  (``to`` must be a non-empty string; ``message`` may be any JSON value, ``null`` included);
- ``unknown_action``: an ``action`` that is none of the four above (the error names them and
  the stack's other routes, from ``WSCTL_ROUTES``);
- ``not_found``, ``too_large``, ``internal``: raised by the service around the protocol.

Nothing here does I/O, so every rule can be tested without AWS.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
from dataclasses import dataclass
from typing import Any

ACTIONS = ("broadcast", "send", "list", "whoami")
# Set by wsctl (wsctl/naming.py): the stack's own route keys, as a JSON list.
ROUTES_ENV = "WSCTL_ROUTES"

INVALID_JSON = "invalid_json"
UNKNOWN_ACTION = "unknown_action"
MISSING_FIELD = "missing_field"
NOT_FOUND = "not_found"
TOO_LARGE = "too_large"
INTERNAL = "internal"
ERROR_CODES = (INVALID_JSON, UNKNOWN_ACTION, MISSING_FIELD, NOT_FOUND, TOO_LARGE, INTERNAL)

FRAME_TYPES = ("broadcast", "message", "ack", "connections", "whoami", "error")

# API Gateway refuses PostToConnection payloads over 128 KB (PayloadTooLargeException).
MAX_FRAME_BYTES = 128 * 1024
# DynamoDB rejects partition keys over 2048 bytes; a longer id cannot name a connection.
MAX_CONNECTION_ID_BYTES = 2048


class ProtocolError(Exception):
    """A client frame the service cannot act on; becomes an ``error`` frame to the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Broadcast:
    message: Any


@dataclass(frozen=True)
class Send:
    to: str
    message: Any


@dataclass(frozen=True)
class ListConnections:
    pass


@dataclass(frozen=True)
class WhoAmI:
    pass


Request = Broadcast | Send | ListConnections | WhoAmI


def _reject_constant(name: str) -> Any:
    # json accepts NaN and Infinity, which are not JSON: echoing them would break clients.
    raise ValueError(f"{name} is not valid JSON")


def _text(body: Any, is_base64_encoded: bool) -> str:
    if isinstance(body, bytes | bytearray):
        body = bytes(body).decode("utf-8")
    elif is_base64_encoded and isinstance(body, str):
        body = base64.b64decode(body, validate=True).decode("utf-8")
    if not isinstance(body, str):
        raise ValueError("no text body")
    return body


def decode_body(body: Any, is_base64_encoded: bool = False) -> dict[str, Any]:
    """The JSON object in a message body, or ``invalid_json``."""
    try:
        value = json.loads(_text(body, is_base64_encoded), parse_constant=_reject_constant)
    except (ValueError, binascii.Error, RecursionError):
        raise ProtocolError(
            INVALID_JSON,
            'Messages must be JSON text, for example {"action": "list"}.',
        ) from None
    if not isinstance(value, dict):
        raise ProtocolError(
            INVALID_JSON,
            'Messages must be a JSON object with an "action", for example {"action": "list"}.',
        )
    return value


def _field(frame: dict[str, Any], name: str, action: str) -> Any:
    if name not in frame:
        raise ProtocolError(MISSING_FIELD, f'The "{action}" action needs a "{name}" field.')
    return frame[name]


def _connection_id(frame: dict[str, Any], action: str) -> str:
    to = _field(frame, "to", action)
    if not isinstance(to, str) or not to:
        raise ProtocolError(
            MISSING_FIELD, f'"to" in the "{action}" action must be a connection id (a string).'
        )
    return to


def valid_actions() -> list[str]:
    """What a client may send: this service's actions and the stack's other routes."""
    return _valid_actions(os.environ.get(ROUTES_ENV, ""))


@functools.lru_cache(maxsize=4)
def _valid_actions(routes: str) -> list[str]:
    try:
        keys = json.loads(routes) if routes else []
    except ValueError:
        keys = []
    if not isinstance(keys, list):
        keys = []
    others = sorted({key for key in keys if isinstance(key, str)} - set(ACTIONS))
    return [*ACTIONS, *others]


def parse_request(body: Any, is_base64_encoded: bool = False) -> Request:
    """The request a client frame asks for, or a ``ProtocolError`` with its code."""
    frame = decode_body(body, is_base64_encoded)
    if "action" not in frame:
        raise ProtocolError(
            MISSING_FIELD, f'Messages need an "action", one of: {", ".join(valid_actions())}.'
        )
    action = frame["action"]
    if action == "broadcast":
        return Broadcast(_field(frame, "message", action))
    if action == "send":
        return Send(_connection_id(frame, action), _field(frame, "message", action))
    if action == "list":
        return ListConnections()
    if action == "whoami":
        return WhoAmI()
    raise ProtocolError(
        UNKNOWN_ACTION,
        f"Unknown action {quoted(action)}; valid actions are: {', '.join(valid_actions())}.",
    )


def quoted(value: Any, limit: int = 60) -> str:
    """A client-supplied value as JSON, shortened to fit in a one-line error message."""
    shown = json.dumps(value)
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


def could_be_connection_id(text: str) -> bool:
    """False for text no connection can have: DynamoDB would reject it as a key."""
    try:
        return len(text.encode("utf-8")) <= MAX_CONNECTION_ID_BYTES
    except UnicodeEncodeError:
        return False


# Service frames ------------------------------------------------------------------------------


def broadcast_frame(sender: str, message: Any, at: int) -> dict[str, Any]:
    return {"type": "broadcast", "from": sender, "message": message, "at": at}


def message_frame(sender: str, message: Any, at: int) -> dict[str, Any]:
    return {"type": "message", "from": sender, "message": message, "at": at}


def ack_frame(action: str, delivered: int, gone: int, failed: int) -> dict[str, Any]:
    return {
        "type": "ack",
        "action": action,
        "delivered": delivered,
        "gone": gone,
        "failed": failed,
    }


def whoami_frame(connection_id: str, connected_at: int | None, source_ip: str | None) -> dict:
    return {
        "type": "whoami",
        "connectionId": connection_id,
        "connectedAt": connected_at,
        "sourceIp": source_ip,
    }


def error_frame(code: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": code, "message": message, "actions": list(valid_actions())}


def error_for(error: ProtocolError) -> dict[str, Any]:
    return error_frame(error.code, error.message)


def connections_frame(connections: list[dict[str, Any]]) -> dict[str, Any]:
    """The connection listing, cut to what fits in one frame.

    ``count`` is always the number of live connections; when the list would not fit in
    128 KB, ``connections`` holds the first ones that do and ``truncated`` is true.
    """
    frame: dict[str, Any] = {"type": "connections", "count": len(connections), "connections": []}
    # Measured with a worst-case "truncated" flag so adding it later cannot overflow.
    budget = MAX_FRAME_BYTES - len(encode_frame({**frame, "truncated": True}))
    kept: list[dict[str, Any]] = []
    for connection in connections:
        cost = len(encode_frame(connection)) + (1 if kept else 0)  # the separating comma
        if cost > budget:
            break
        budget -= cost
        kept.append(connection)
    frame["connections"] = kept
    if len(kept) < len(connections):
        frame["truncated"] = True
    return frame


# Encoding ------------------------------------------------------------------------------------


def encode_frame(frame: Any) -> bytes:
    """Compact UTF-8 JSON, as sent on the wire."""
    try:
        return json.dumps(frame, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates (legal in JSON escapes) cannot be UTF-8: keep them escaped.
        return json.dumps(frame, separators=(",", ":")).encode("ascii")


def encode_within_limit(frame: dict[str, Any]) -> bytes:
    """The encoded frame, or ``too_large`` when API Gateway would refuse to deliver it."""
    data = encode_frame(frame)
    if len(data) > MAX_FRAME_BYTES:
        raise ProtocolError(
            TOO_LARGE,
            f"The message would make a {len(data)}-byte frame; the limit is "
            f"{MAX_FRAME_BYTES} bytes (128 KB).",
        )
    return data

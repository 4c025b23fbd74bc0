"""Reading API Gateway WebSocket proxy events (pure): who is calling, from where, and with what.

Field names are AWS's (``requestContext.connectionId``, ``identity.sourceIp``...). Every
accessor tolerates a missing or odd field, because a handler must never raise on input.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _string(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def request_context(event: Any) -> dict[str, Any]:
    return _mapping(_mapping(event).get("requestContext"))


def connection_id(event: Any) -> str | None:
    return _string(request_context(event).get("connectionId"))


def body(event: Any) -> tuple[Any, bool]:
    """A MESSAGE event's ``body`` and whether API Gateway base64-encoded it (binary frames)."""
    event = _mapping(event)
    return event.get("body"), event.get("isBase64Encoded") is True


def management_endpoint(event: Any) -> str | None:
    """``https://{domainName}/{stage}``, where the management API answers, exactly as on AWS."""
    context = request_context(event)
    domain, stage = _string(context.get("domainName")), _string(context.get("stage"))
    if domain is None or stage is None:
        return None
    return f"https://{domain}/{stage}"


def header(event: Any, name: str) -> str | None:
    """A request header by case-insensitive name (``$connect`` events only)."""
    wanted = name.lower()
    for key, value in _mapping(_mapping(event).get("headers")).items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(value, str):
            return value
    for key, values in _mapping(_mapping(event).get("multiValueHeaders")).items():
        if isinstance(key, str) and key.lower() == wanted and isinstance(values, list):
            for value in values:
                if isinstance(value, str):
                    return value
    return None


def query_parameter(event: Any, name: str) -> str | None:
    value = _mapping(_mapping(event).get("queryStringParameters")).get(name)
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class Caller:
    """The connection an event came from, as API Gateway describes it."""

    connection_id: str
    connected_at: int | None
    source_ip: str | None
    user_agent: str | None


def caller(event: Any) -> Caller | None:
    """The calling connection, or None when the event names no connection."""
    identifier = connection_id(event)
    if identifier is None:
        return None
    context = request_context(event)
    identity = _mapping(context.get("identity"))
    return Caller(
        connection_id=identifier,
        connected_at=_integer(context.get("connectedAt")),
        source_ip=_string(identity.get("sourceIp")),
        user_agent=_string(identity.get("userAgent")) or header(event, "User-Agent"),
    )


def connected_at_ms(event: Any, now: float | None = None) -> int:
    """When the connection opened: ``connectedAt``, else ``requestTimeEpoch``, else now."""
    context = request_context(event)
    for key in ("connectedAt", "requestTimeEpoch"):
        value = _integer(context.get(key))
        if value is not None:
            return value
    return int((time.time() if now is None else now) * 1000)


def bearer_tokens(event: Any) -> Iterator[str]:
    """Tokens a client presented: ``Authorization: Bearer <t>``, then query ``token=<t>``."""
    authorization = header(event, "Authorization")
    if authorization is not None:
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            yield token.strip()
    token = query_parameter(event, "token")
    if token:
        yield token

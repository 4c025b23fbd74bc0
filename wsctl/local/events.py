"""Lambda proxy events as API Gateway sends them for WebSocket routes, and what a handler's
answer means. Pure functions: no sockets, no clock, no randomness beyond the id helpers.

Shapes follow the API Gateway developer guide (WebSocket APIs, "Setting up data mapping" and
the Lambda proxy integration examples).
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

CONNECT = "$connect"
DISCONNECT = "$disconnect"
DEFAULT = "$default"

# API Gateway's own error frames: no route matched and no $default, the integration failed,
# or it did not answer within the integration timeout.
FORBIDDEN = "Forbidden"
INTERNAL_SERVER_ERROR = "Internal server error"
TIMED_OUT = "Endpoint request timed out"


def new_id() -> str:
    """An id shaped like API Gateway's connection and request ids (16 characters, ends in =)."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode("ascii")


def trace_id(epoch_ms: int) -> str:
    """An ``X-Amzn-Trace-Id`` as API Gateway adds it: ``Root=1-{epoch hex}-{24 hex digits}``."""
    return f"Root=1-{epoch_ms // 1000:08x}-{os.urandom(12).hex()}"


# Hop-by-hop headers of the upgrade: API Gateway does not pass them to $connect (events captured
# on AWS: aws/aws-lambda-go events/testdata/apigw-websocket-request.json).
_HOP_BY_HOP = frozenset({"upgrade", "connection"})


def connect_headers(
    received: Iterable[tuple[str, str]], source_ip: str, epoch_ms: int
) -> list[tuple[str, str]]:
    """The headers $connect sees: the client's, less the upgrade's own, plus what AWS's edge
    adds (a trace id, and X-Forwarded-* for a TLS client on port 443)."""
    kept = [(name, value) for name, value in received if name.lower() not in _HOP_BY_HOP]
    return [
        *kept,
        ("X-Amzn-Trace-Id", trace_id(epoch_ms)),
        ("X-Forwarded-For", source_ip),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]


def request_time(epoch_ms: int) -> str:
    """``requestTime`` in API Gateway's CLF format: ``27/Nov/2026:18:39:47 +0000``."""
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(epoch_ms / 1000))


@dataclass(frozen=True)
class Endpoint:
    """What every event names about the API: its id, stage and host."""

    api_id: str
    stage: str
    domain_name: str


@dataclass(frozen=True)
class Peer:
    """One connection as handlers see it."""

    connection_id: str
    connected_at: int
    source_ip: str
    user_agent: str | None
    # What a Lambda authorizer allowed it with (principalId, context): requestContext.authorizer.
    authorizer: Mapping[str, Any] | None = field(default=None, compare=False)


def select_route(routes: Iterable[str], body: str | None) -> str | None:
    """Route selection for ``$request.body.action``; None when nothing matches and no $default.

    A JSON object whose ``action`` is a string naming a route goes to that route; anything else
    (binary, non-JSON, no action, unknown action) goes to ``$default``.
    """
    keys = set(routes)
    if body is not None:
        try:
            document = json.loads(body)
        except (ValueError, RecursionError):  # deep nesting exhausts json's recursion
            document = None
        if isinstance(document, dict):
            action = document.get("action")
            if isinstance(action, str) and action in keys and not action.startswith("$"):
                return action
    return DEFAULT if DEFAULT in keys else None


def _request_context(
    endpoint: Endpoint,
    peer: Peer,
    route_key: str,
    event_type: str,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    identity: dict[str, Any] = {"sourceIp": peer.source_ip}
    if peer.user_agent is not None:
        identity["userAgent"] = peer.user_agent
    context = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": request_id,
        "requestTime": request_time(now_ms),
        "messageDirection": "IN",
        "stage": endpoint.stage,
        "connectedAt": peer.connected_at,
        "requestTimeEpoch": now_ms,
        "identity": identity,
        "requestId": request_id,
        "domainName": endpoint.domain_name,
        "connectionId": peer.connection_id,
        "apiId": endpoint.api_id,
    }
    if peer.authorizer is not None:
        context["authorizer"] = dict(peer.authorizer)
    return context


def connect_event(
    endpoint: Endpoint,
    peer: Peer,
    headers: Iterable[tuple[str, str]],
    query: str,
    *,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The $connect event: the handshake's headers and query string."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        single[name] = value
        multi.setdefault(name, []).append(value)
    event: dict[str, Any] = {
        "headers": single,
        "multiValueHeaders": multi,
        "requestContext": _request_context(endpoint, peer, CONNECT, "CONNECT", request_id, now_ms),
        "isBase64Encoded": False,
    }
    pairs = parse_qsl(query, keep_blank_values=True)
    if pairs:
        multi_query: dict[str, list[str]] = {}
        for name, value in pairs:
            multi_query.setdefault(name, []).append(value)
        event["queryStringParameters"] = {name: values[-1] for name, values in multi_query.items()}
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(
    endpoint: Endpoint,
    peer: Peer,
    route_key: str,
    message: str | bytes,
    *,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """A MESSAGE event: the frame's text as ``body``, binary frames base64-encoded."""
    context = _request_context(endpoint, peer, route_key, "MESSAGE", request_id, now_ms)
    context["messageId"] = new_id()  # AWS's differs from the request id
    if isinstance(message, str):
        body, encoded = message, False
    else:
        body, encoded = base64.b64encode(message).decode("ascii"), True
    return {"requestContext": context, "body": body, "isBase64Encoded": encoded}


def disconnect_event(
    endpoint: Endpoint,
    peer: Peer,
    status_code: int,
    reason: str,
    *,
    request_id: str,
    now_ms: int,
) -> dict[str, Any]:
    """The $disconnect event, with the close code and reason that ended the connection."""
    context = _request_context(endpoint, peer, DISCONNECT, "DISCONNECT", request_id, now_ms)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    return {
        # As captured on AWS (aws-lambda-go events/testdata/apigw-websocket-request-disconnect).
        "headers": {
            "Host": endpoint.domain_name,
            "x-api-key": "",
            "X-Forwarded-For": "",
            "x-restapi": "",
        },
        "multiValueHeaders": {
            "Host": [endpoint.domain_name],
            "x-api-key": [""],
            "X-Forwarded-For": [""],
            "x-restapi": [""],
        },
        "requestContext": context,
        "isBase64Encoded": False,
    }


def connect_status(result: Any) -> int:
    """The HTTP status a $connect handler's answer means (200 when it names none)."""
    if isinstance(result, Mapping):
        status = result.get("statusCode")
        if isinstance(status, int) and not isinstance(status, bool) and 100 <= status <= 599:
            return status
        if isinstance(status, str) and status.isdigit() and 100 <= int(status) <= 599:
            return int(status)
    return 200


def route_response(result: Any) -> str | bytes | None:
    """What a two-way route sends back: the proxy response's ``body`` (AWS's route response
    ``$default`` with a Lambda proxy integration), decoded if ``isBase64Encoded``; else None."""
    if not isinstance(result, Mapping) or not isinstance(result.get("body"), str):
        return None
    body = result["body"]
    if result.get("isBase64Encoded") is True:
        try:
            return base64.b64decode(body, validate=True)
        except ValueError:
            return None
    return body


def selected_subprotocol(result: Any) -> str | None:
    """The ``Sec-WebSocket-Protocol`` header of a $connect answer (any case), if any."""
    if not isinstance(result, Mapping) or not isinstance(result.get("headers"), Mapping):
        return None
    for name, value in result["headers"].items():
        if isinstance(name, str) and name.lower() == "sec-websocket-protocol":
            return value.strip() if isinstance(value, str) and value.strip() else None
    return None


def connect_refusal_body(result: Any, status: int, phrase: str) -> str:
    """What a refused handshake carries: the handler's body if it gave one, else the phrase."""
    if isinstance(result, Mapping) and isinstance(result.get("body"), str):
        return result["body"]
    return f"{status} {phrase}"


def gateway_error_frame(message: str, connection_id: str, request_id: str) -> str:
    """API Gateway's own error frame, e.g. ``{"message": "Internal server error", ...}``."""
    return json.dumps(
        {"message": message, "connectionId": connection_id, "requestId": request_id},
        separators=(", ", ": "),
    )

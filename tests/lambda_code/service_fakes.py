"""Test doubles for the service: API Gateway events as AWS sends them, a fake management
API, and direct table writes. Imported by the tests of lambda_code/ and by their conftest.

moto's management API accepts every post and never answers 410, 429 or 403, which is what
these tests are about, so ``FakeGateway`` answers instead: a botocore ``before-call`` hook on
the handlers' own cached client.
"""

from __future__ import annotations

import base64
import io
import json
import threading
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSResponse

API_ID = "a1b2c3d4e5"
STAGE = "dev"
DOMAIN = f"{API_ID}.execute-api.us-east-1.amazonaws.com"
ENDPOINT = f"https://{DOMAIN}/{STAGE}"
TABLE = "wsctl-dev-connections"
NOW_MS = int(time.time() * 1000)

ERROR_BODIES = {
    403: "ForbiddenException",
    410: "GoneException",
    413: "PayloadTooLargeException",
    429: "LimitExceededException",
}


def _context(connection_id: str, route_key: str, event_type: str, **extra: Any) -> dict:
    return {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": "Fz1abcDEFgHIjkl=",
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(NOW_MS / 1000)),
        "messageDirection": "IN",
        "stage": STAGE,
        "connectedAt": extra.pop("connected_at", NOW_MS),
        "requestTimeEpoch": NOW_MS,
        "identity": {
            "sourceIp": extra.pop("source_ip", "203.0.113.7"),
            "userAgent": extra.pop("user_agent", "wsctl-tests/1.0"),
        },
        "requestId": "Fz1abcDEFgHIjkm=",
        "domainName": DOMAIN,
        "connectionId": connection_id,
        "apiId": API_ID,
        **extra,
    }


def connect_event(
    connection_id: str,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    **context: Any,
) -> dict[str, Any]:
    """A $connect event: handshake headers, query string, identity."""
    all_headers = {
        "Host": DOMAIN,
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version": "13",
        "User-Agent": "wsctl-tests/1.0",
        "X-Forwarded-For": "203.0.113.7",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    event: dict[str, Any] = {
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "requestContext": _context(connection_id, "$connect", "CONNECT", **context),
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = dict(query)
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def message_event(
    connection_id: str,
    body: Any,
    *,
    route_key: str = "$default",
    is_base64_encoded: bool = False,
    **context: Any,
) -> dict[str, Any]:
    """A MESSAGE event carrying ``body`` (a str is sent as is; anything else as JSON)."""
    if not isinstance(body, str) and body is not None:
        body = json.dumps(body)
    request_context = _context(connection_id, route_key, "MESSAGE", **context)
    request_context["messageId"] = "Fz1abcDEFgHIjkn="
    return {"requestContext": request_context, "body": body, "isBase64Encoded": is_base64_encoded}


def binary_event(connection_id: str, data: bytes) -> dict[str, Any]:
    """A binary frame: API Gateway base64-encodes it."""
    return message_event(
        connection_id, base64.b64encode(data).decode("ascii"), is_base64_encoded=True
    )


def disconnect_event(connection_id: str) -> dict[str, Any]:
    request_context = _context(connection_id, "$disconnect", "DISCONNECT")
    request_context.update(disconnectStatusCode=1000, disconnectReason="Client closed")
    return {
        "headers": {"Host": DOMAIN, "x-api-key": "", "x-restapi": ""},
        "multiValueHeaders": {"Host": [DOMAIN], "x-api-key": [""], "x-restapi": [""]},
        "requestContext": request_context,
        "isBase64Encoded": False,
    }


class ResponseBody(io.BytesIO):
    def stream(self, **_: Any):
        yield self.getvalue()


class FakeGateway:
    """API Gateway's @connections as the handlers' client sees it.

    Every connection answers 200 unless scripted: ``answer(id, 429, 429, 200)`` answers
    those statuses in turn, then keeps the last one. Delivered frames are kept per
    connection, decoded from JSON. Thread-safe: fan-out posts from many threads.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._scripts: dict[str, list[int]] = {}
        self.frames: dict[str, list[Any]] = defaultdict(list)
        self.raw: dict[str, list[bytes]] = defaultdict(list)
        self.attempts: dict[str, int] = defaultdict(int)
        self.urls: set[str] = set()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.delay = 0.0

    def answer(self, connection_id: str, *statuses: int) -> None:
        self._scripts[connection_id] = list(statuses)

    def _status(self, connection_id: str) -> int:
        script = self._scripts.get(connection_id)
        if not script:
            return 200
        return script.pop(0) if len(script) > 1 else script[0]

    def hook(self, model: Any, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict]:
        url = params["url"]
        connection_id = unquote(urlsplit(url).path.rsplit("/", 1)[-1])
        with self._lock:
            self.attempts[connection_id] += 1
            self.urls.add(url.rsplit("/", 1)[0])
            status = self._status(connection_id)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            if self.delay:
                time.sleep(self.delay)
            if status == 200:
                body = params["body"]
                data = body if isinstance(body, bytes) else body.encode("utf-8")
                with self._lock:
                    self.raw[connection_id].append(data)
                    self.frames[connection_id].append(json.loads(data))
                parsed: dict[str, Any] = {}
            else:
                code = ERROR_BODIES.get(status, "InternalServerError")
                parsed = {"Error": {"Code": code, "Message": f"{status} from the fake gateway"}}
            parsed["ResponseMetadata"] = {"HTTPStatusCode": status, "HTTPHeaders": {}}
            return AWSResponse(url, status, {}, ResponseBody(b"")), parsed
        finally:
            with self._lock:
                self.in_flight -= 1

    def attach(self, client: Any) -> None:
        client.meta.events.register(
            "before-call.apigatewaymanagementapi.PostToConnection", self.hook
        )

    def detach(self, client: Any) -> None:
        client.meta.events.unregister(
            "before-call.apigatewaymanagementapi.PostToConnection", self.hook
        )

    def received(self, connection_id: str) -> list[Any]:
        return list(self.frames.get(connection_id, ()))

    def all_frames(self) -> list[Any]:
        return [frame for frames in list(self.frames.values()) for frame in frames]


def seed(
    client: Any,
    connection_ids: Iterable[str],
    *,
    user_agent: str = "wsctl-tests/1.0",
    connected_at: int = NOW_MS,
    ttl: int | None = None,
) -> None:
    """Write connection records straight into the table, 25 per BatchWriteItem."""
    expiry = ttl if ttl is not None else connected_at // 1000 + 2 * 3600 + 300
    items = [
        {
            "PutRequest": {
                "Item": {
                    "connectionId": {"S": connection_id},
                    "connectedAt": {"N": str(connected_at)},
                    "sourceIp": {"S": "198.51.100.9"},
                    "userAgent": {"S": user_agent},
                    "ttl": {"N": str(expiry)},
                }
            }
        }
        for connection_id in connection_ids
    ]
    for start in range(0, len(items), 25):
        client.batch_write_item(RequestItems={TABLE: items[start : start + 25]})


def stored_ids(client: Any) -> set[str]:
    paginator = client.get_paginator("scan")
    return {
        item["connectionId"]["S"]
        for page in paginator.paginate(TableName=TABLE)
        for item in page["Items"]
    }

"""A tiny recording service for the emulator's semantics, and helpers to drive it."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from wsctl.config import ServiceSpec, parse_spec_file
from wsctl.local import LocalService, Quotas

RECORDER_TOML = """
[stack]
name = "rec"
stage = "test"

[functions.connect]
handler = "handler.connect"
timeout = 5
permissions = ["execute-api:ManageConnections"]

[functions.disconnect]
handler = "handler.disconnect"

[functions.default]
handler = "handler.default"
memory = 256
timeout = 3
permissions = ["execute-api:ManageConnections"]

[routes]
"$connect" = "connect"
"$disconnect" = "disconnect"
"$default" = "default"
echo = "default"
"""

# Records every event (and the context it came with) to events.jsonl beside itself, answers
# on the message's connection through the management API, and misbehaves on request.
RECORDER_HANDLER = """
import json
import pathlib
import threading
import time

import boto3

LOG = pathlib.Path(__file__).with_name("events.jsonl")
_lock = threading.Lock()
VERSION = "v1"


def _record(event, context, **extra):
    entry = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
        **extra,
    }
    with _lock, LOG.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(entry) + "\\n")


def _management(event):
    ctx = event["requestContext"]
    return boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}"
    )


def connect(event, context):
    query = event.get("queryStringParameters") or {}
    extra = {}
    if "selfpost" in query:
        try:
            _management(event).post_to_connection(
                ConnectionId=event["requestContext"]["connectionId"], Data=b"too early"
            )
            extra["selfpost"] = "delivered"
        except Exception as exc:
            extra["selfpost"] = exc.response["Error"]["Code"]
    if "slow" in query:  # the client may be gone before this answers
        time.sleep(float(query["slow"]))
    _record(event, context, **extra)
    if "raise" in query:
        raise RuntimeError("connect fails on purpose")
    if "status" in query:
        return {"statusCode": int(query["status"]), "body": "refused by the handler"}
    return {"statusCode": 200}


def disconnect(event, context):
    _record(event, context)
    return {"statusCode": 200}


def default(event, context):
    _record(event, context)
    body = event.get("body")
    if body == "raise":
        raise RuntimeError("default fails on purpose")
    if body == "sleep":
        time.sleep(5)
    if body == "quiet":  # a route that never replies
        return {"statusCode": 200}
    reply = {
        "version": VERSION,
        "route": event["requestContext"]["routeKey"],
        "body": body if len(body) < 1024 else None,
        "length": len(body),
    }
    _management(event).post_to_connection(
        ConnectionId=event["requestContext"]["connectionId"], Data=json.dumps(reply).encode()
    )
    return {"statusCode": 200}
"""


def write_service(root: Path, toml: str, handler: str) -> ServiceSpec:
    """A service directory (wsctl.toml + lambda_code/handler.py) and its parsed spec."""
    (root / "lambda_code").mkdir(parents=True, exist_ok=True)
    (root / "wsctl.toml").write_text(textwrap.dedent(toml), encoding="utf-8")
    (root / "lambda_code" / "handler.py").write_text(textwrap.dedent(handler), encoding="utf-8")
    return parse_spec_file(root / "wsctl.toml")


@pytest.fixture
def recorder_spec(tmp_path: Path) -> ServiceSpec:
    return write_service(tmp_path / "recorder", RECORDER_TOML, RECORDER_HANDLER)


def recorded(spec: ServiceSpec) -> list[dict]:
    """Everything the recorder service has logged so far, in order."""
    log = spec.code_dir / "events.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


def events_of(spec: ServiceSpec, event_type: str) -> list[dict]:
    return [
        entry["event"]
        for entry in recorded(spec)
        if entry["event"]["requestContext"]["eventType"] == event_type
    ]


async def connection_ids(spec: ServiceSpec, sockets: list) -> list[str]:
    """The ids of ``sockets``, this service's only connections, opened in this order.

    Each echoes once first: its reply means its $connect is on record.
    """
    for ws in sockets:
        await ws.send(json.dumps({"action": "echo"}))
        await next_json(ws)
    return [event["requestContext"]["connectionId"] for event in events_of(spec, "CONNECT")]


@pytest.fixture
def recorder(recorder_spec: ServiceSpec) -> Iterator[LocalService]:
    """The recorder service running with AWS's quotas."""
    with LocalService(recorder_spec) as service:
        yield service


@pytest.fixture
def short_timers(recorder_spec: ServiceSpec) -> Iterator[LocalService]:
    """The recorder service with a 0.6 s idle timeout and a 1.5 s lifetime."""
    quotas = Quotas(idle_timeout=0.6, max_lifetime=1.5)
    with LocalService(recorder_spec, quotas=quotas) as service:
        yield service


def eventually(predicate, timeout: float = 5.0, interval: float = 0.02):
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


async def next_json(ws, timeout: float = 5.0) -> dict:
    import asyncio

    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())

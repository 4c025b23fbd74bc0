"""The emulator's observers: one event per connection opened and closed, one per invocation
with its route, duration, outcome and the lines the handler logged."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.local.conftest import eventually, next_json, write_service
from wsctl.local import LocalService
from wsctl.local.observe import (
    ERROR,
    OK,
    TIMEOUT,
    Connected,
    Disconnected,
    Invocation,
    LogCapture,
    Observers,
)

LOGGING_TOML = """
[stack]
name = "logs"
stage = "test"

[functions.connect]
handler = "handler.connect"

[functions.default]
handler = "handler.default"
timeout = 1

[routes]
"$connect" = "connect"
"$default" = "default"
"""

LOGGING_HANDLER = """
import json
import logging
import time

import boto3

logger = logging.getLogger("svc")
logger.setLevel(logging.INFO)


def connect(event, context):
    logger.info("hello %s", event["requestContext"]["connectionId"])
    return {"statusCode": 200}


def default(event, context):
    body = event["body"]
    logger.warning("got %s", body)
    if body == "raise":
        raise ValueError("no thanks")
    if body == "sleep":
        time.sleep(3)
    ctx = event["requestContext"]
    boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}"
    ).post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps({"ok": body}))
    return {"statusCode": 200}
"""


@pytest.fixture
def logging_service(tmp_path: Path):
    spec = write_service(tmp_path / "logs", LOGGING_TOML, LOGGING_HANDLER)
    with LocalService(spec) as service:
        yield service


def test_observers_drop_a_listener_that_raises():
    """A failing listener is removed; the others still hear every event."""
    observers, heard = Observers(), []

    def broken(event):
        raise RuntimeError("listener bug")

    observers.add(broken)
    stop = observers.add(heard.append)
    observers.emit(Disconnected("a", 1000, ""))
    observers.emit(Disconnected("b", 1000, ""))
    assert [event.connection_id for event in heard] == ["a", "b"]
    stop()
    assert not observers


def test_log_capture_keeps_each_threads_lines_apart():
    """Lines logged on a thread go to that thread's invocation only."""
    import logging

    capture = LogCapture()
    logger = logging.getLogger("test_observe.capture")
    logger.addHandler(capture)
    logger.setLevel(logging.INFO)
    mine: list[str] = []
    theirs: list[str] = []

    def other():
        with capture.capturing(theirs):
            logger.info("from the other thread")

    try:
        with capture.capturing(mine):
            logger.info("from this thread")
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
        logger.info("after the block")
    finally:
        logger.removeHandler(capture)
    assert mine == ["[INFO] from this thread"]
    assert theirs == ["[INFO] from the other thread"]


def test_connections_and_invocations_are_reported(logging_service):
    """Connected, each invocation (ok, failed, timed out) with its log lines, Disconnected."""
    heard: list = []
    logging_service.observers.add(heard.append)

    async def scenario():
        async with connect(logging_service.url) as ws:
            await ws.send("hi")
            assert await next_json(ws) == {"ok": "hi"}
            await ws.send("raise")
            assert (await next_json(ws))["message"] == "Internal server error"
            await ws.send("sleep")
            assert (await next_json(ws))["message"] == "Internal server error"
            await ws.close(4001, "done")

    asyncio.run(scenario())
    eventually(lambda: any(isinstance(event, Disconnected) for event in heard))
    connected = next(event for event in heard if isinstance(event, Connected))
    connection_id = connected.peer.connection_id
    invocations = [event for event in heard if isinstance(event, Invocation)]
    by_body = {event.logs[0]: event for event in invocations if event.route == "$default"}
    hello = next(event for event in invocations if event.route == "$connect")
    assert (hello.function, hello.outcome) == ("connect", OK)
    assert hello.logs == (f"[INFO] hello {connection_id}",)
    assert hello.connection_id == connection_id and hello.duration_ms >= 0
    ok = by_body["[WARNING] got hi"]
    assert (ok.function, ok.outcome, len(ok.logs)) == ("default", OK, 1)
    failed = by_body["[WARNING] got raise"]
    assert failed.outcome == ERROR and "ValueError: no thanks" in failed.logs[-1]
    timed_out = by_body["[WARNING] got sleep"]
    assert timed_out.outcome == TIMEOUT
    assert timed_out.logs[-1].endswith(" Task timed out after 1.00 seconds")
    assert timed_out.duration_ms >= 1000
    gone = next(event for event in heard if isinstance(event, Disconnected))
    assert (gone.connection_id, gone.code, gone.reason) == (connection_id, 4001, "done")

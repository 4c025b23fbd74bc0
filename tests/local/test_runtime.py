"""Handlers run as on Lambda: context object, environment, timeouts, import failures."""

from __future__ import annotations

import asyncio
import json
import os
import re
import uuid

from websockets.asyncio.client import connect

from tests.local.conftest import RECORDER_TOML, next_json, recorded, write_service
from wsctl.auth import token_digest
from wsctl.local import LocalService
from wsctl.local.runtime import environment


def test_context_has_lambdas_attributes(recorder):
    """function_name, ARN, memory (a string), a UUID request id of Lambda's own, the log
    stream in Lambda's form and the remaining time."""

    async def scenario():
        async with connect(recorder.url) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            await next_json(ws)

    asyncio.run(scenario())
    entry = next(
        e for e in recorded(recorder.spec) if e["event"]["requestContext"]["eventType"] == "MESSAGE"
    )
    context, event = entry["context"], entry["event"]
    assert context["function_name"] == "rec-test-default"
    assert context["function_version"] == "$LATEST"
    assert context["invoked_function_arn"].endswith(":function:rec-test-default")
    assert context["invoked_function_arn"].startswith("arn:aws:lambda:us-east-1:")
    assert context["memory_limit_in_mb"] == "256"  # a string, as Lambda's runtime gives it
    assert str(uuid.UUID(context["aws_request_id"])) == context["aws_request_id"]
    assert context["aws_request_id"] != event["requestContext"]["requestId"]
    assert context["log_group_name"] == "/aws/lambda/rec-test-default"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}", context["log_stream_name"])
    assert 0 < context["remaining_ms"] <= 3000  # the function's timeout is 3 s


def test_environment_merges_functions_and_keeps_digest_for_connect(recorder_spec):
    """Table and stack names for all; the token digest (never the token) is present."""
    env = environment(recorder_spec, "eu-west-1", token_digest("secret"))
    assert env["WSCTL_TABLE"] == "rec-test-connections"
    assert env["WSCTL_TOKEN_SHA256"] == token_digest("secret")
    assert "secret" not in env.values()
    assert env["AWS_REGION"] == "eu-west-1"


def test_environment_is_restored_after_stop(recorder_spec, monkeypatch):
    """The service sets the functions' variables while it runs and removes them after."""
    monkeypatch.delenv("WSCTL_TABLE", raising=False)
    with LocalService(recorder_spec, auth_token="tok"):
        assert os.environ["WSCTL_TABLE"] == "rec-test-connections"
        assert os.environ["WSCTL_TOKEN_SHA256"] == token_digest("tok")
    assert "WSCTL_TABLE" not in os.environ and "WSCTL_TOKEN_SHA256" not in os.environ


SLOW_HANDLER = """
import time

def connect(event, context):
    return {"statusCode": 200}

def disconnect(event, context):
    return None

def default(event, context):
    time.sleep(1.5)
"""


def test_timeout_gives_internal_server_error(tmp_path, capsys):
    """A handler running past its timeout: the client gets AWS's error frame."""
    toml = RECORDER_TOML.replace("timeout = 3", "timeout = 1")
    spec = write_service(tmp_path / "slow", toml, SLOW_HANDLER)

    async def scenario(service):
        async with connect(service.url) as ws:
            await ws.send("anything")
            frame = await next_json(ws, timeout=5)
            assert frame["message"] == "Internal server error"

    with LocalService(spec) as service:
        asyncio.run(scenario(service))
    assert "Task timed out after 1.00 seconds" in capsys.readouterr().err


def test_unimportable_handler_fails_each_invocation(tmp_path, capsys):
    """A handler module that fails at import: reported at start; its routes answer 500."""
    broken = "raise RuntimeError('broken at import')\n" + "".join(
        f"def {name}(e, c): pass\n" for name in ("connect", "disconnect", "default")
    )
    spec = write_service(tmp_path / "broken", RECORDER_TOML, broken)

    async def scenario(service):
        from websockets.exceptions import InvalidStatus

        try:
            async with connect(service.url):
                raise AssertionError("the handshake should have been refused")
        except InvalidStatus as exc:
            assert exc.response.status_code == 500

    with LocalService(spec) as service:
        asyncio.run(scenario(service))
    err = capsys.readouterr().err
    assert "broken at import" in err and "cannot be imported" in err

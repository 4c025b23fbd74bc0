"""LocalService as a whole: hot reload, port conflicts, records left behind."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.asyncio.client import connect

from tests.local.conftest import next_json
from wsctl.errors import WsctlError
from wsctl.local import LocalService


def test_hot_reload_runs_new_code_without_reconnecting(recorder_spec, capsys):
    """Editing a handler: the same connection's next message runs the new code."""
    handler = recorder_spec.code_dir / "handler.py"

    async def scenario(service):
        async with connect(service.url) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            assert (await next_json(ws))["version"] == "v1"
            handler.write_text(handler.read_text().replace('"v1"', '"v2"'))
            for _ in range(100):  # bounded: up to 10 s
                await ws.send(json.dumps({"action": "echo"}))
                if (await next_json(ws))["version"] == "v2":
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("the edited handler never ran")
            assert ws.close_code is None  # still the same, open connection

    with LocalService(recorder_spec, reload=True) as service:
        asyncio.run(scenario(service))
    assert "Reloaded handler.py" in capsys.readouterr().err


def test_hot_reload_reports_a_broken_edit_and_recovers(recorder_spec, capsys):
    """A syntax error: reported, invocations fail; fixing it brings the function back."""
    handler = recorder_spec.code_dir / "handler.py"
    good = handler.read_text()

    async def until(ws, predicate):
        for _ in range(100):  # bounded: up to 10 s
            await ws.send(json.dumps({"action": "echo"}))
            if predicate(await next_json(ws)):
                return
            await asyncio.sleep(0.1)
        raise AssertionError("reload did not take effect")

    async def scenario(service):
        async with connect(service.url) as ws:
            handler.write_text(good + "\ndef oops(:\n")
            await until(ws, lambda frame: frame.get("message") == "Internal server error")
            handler.write_text(good.replace('"v1"', '"v3"'))
            await until(ws, lambda frame: frame.get("version") == "v3")

    with LocalService(recorder_spec, reload=True) as service:
        asyncio.run(scenario(service))
    assert "cannot be imported" in capsys.readouterr().err


def test_port_in_use_is_a_clear_error(recorder_spec):
    """A taken port: one WsctlError line that says what to do."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(WsctlError, match="--port"):
            LocalService(recorder_spec, port=port).start()


def test_connect_disconnect_cycles_leave_no_connections(recorder):
    """Many short connections: every one is gone from the gateway afterwards."""

    async def scenario():
        for _ in range(50):
            async with connect(recorder.url):
                pass

    asyncio.run(scenario())
    recorder.close_connections()
    assert recorder.connection_count() == 0


def test_table_is_created_as_the_deployer_defines_it(recorder):
    """The embedded table: key connectionId, on-demand, TTL on ttl, tagged with the stack."""
    import boto3

    client = boto3.client("dynamodb", region_name="us-east-1")
    table = client.describe_table(TableName=recorder.table_name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    ttl = client.describe_time_to_live(TableName=recorder.table_name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "ttl")
    tags = client.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]
    assert {"Key": "wsctl:stack", "Value": "rec-test"} in tags

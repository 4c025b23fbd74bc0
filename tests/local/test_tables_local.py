"""Tables of one's own under the emulator: a service written for AWS (a table keyed
connection_id, its name in an environment variable the author chose) runs unchanged,
configured only in wsctl.toml; real websockets clients against LocalService."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import boto3
import pytest
from websockets.asyncio.client import connect

from tests.local.conftest import eventually, next_json, write_service
from tests.tables_chat import CHAT_HANDLER, CHAT_TOML
from wsctl.config import ServiceSpec
from wsctl.local import LocalService


@pytest.fixture
def chat_spec(tmp_path: Path) -> ServiceSpec:
    return write_service(tmp_path / "chat", CHAT_TOML, CHAT_HANDLER)


def test_every_table_is_emulated_with_the_deployed_name_keys_indexes_and_ttl(chat_spec):
    """The embedded DynamoDB has chat-test-sessions and chat-test-messages as `up` defines
    them: keys, sort key type, the GSI, TTL on the attribute the table names."""
    with LocalService(chat_spec) as service:
        client = boto3.client("dynamodb", region_name=service.region)
        assert sorted(client.list_tables()["TableNames"]) == [
            "chat-test-messages",
            "chat-test-sessions",
        ]
        messages = client.describe_table(TableName="chat-test-messages")["Table"]
        assert messages["KeySchema"] == [
            {"AttributeName": "room", "KeyType": "HASH"},
            {"AttributeName": "at", "KeyType": "RANGE"},
        ]
        assert {"AttributeName": "at", "AttributeType": "N"} in messages["AttributeDefinitions"]
        (index,) = messages["GlobalSecondaryIndexes"]
        assert index["IndexName"] == "by_author"
        ttl = client.describe_time_to_live(TableName="chat-test-sessions")
        assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


@pytest.mark.parametrize("sandboxes", [True, False], ids=["sandboxes", "threads"])
def test_a_service_written_for_aws_runs_unchanged_configured_in_wsctl_toml(chat_spec, sandboxes):
    """Clients connect (records keyed connection_id), say things (stored by room and time,
    fanned out through the management API), read the history by room and by the index, and
    a disconnect removes the record: in sandboxes (as up --local runs) and in threads."""

    async def scenario(url: str) -> tuple[list, list, list]:
        async with connect(url + "?user=ada") as ada, connect(url + "?user=bob") as bob:
            await ada.send(json.dumps({"action": "say", "room": "r1", "at": 1, "text": "hi"}))
            heard = [await next_json(ada), await next_json(bob)]
            await bob.send(json.dumps({"action": "say", "room": "r1", "at": 2, "text": "yo"}))
            heard += [await next_json(ada), await next_json(bob)]
            await ada.send(json.dumps({"action": "history", "room": "r1"}))
            by_room = await next_json(ada)
            await ada.send(json.dumps({"action": "history", "author": "bob"}))
            by_author = await next_json(ada)
        return heard, by_room["texts"], by_author["texts"]

    with LocalService(chat_spec, sandboxes=sandboxes) as service:
        heard, by_room, by_author = asyncio.run(scenario(service.url))
        assert heard == [
            {"from": "ada", "text": "hi"},
            {"from": "ada", "text": "hi"},
            {"from": "bob", "text": "yo"},
            {"from": "bob", "text": "yo"},
        ]
        assert by_room == ["yo", "hi"]  # newest first: the sort key is a number
        assert by_author == ["yo"]
        sessions = boto3.resource("dynamodb", region_name=service.region).Table(
            "chat-test-sessions"
        )
        eventually(lambda: sessions.scan()["Count"] == 0, timeout=10.0)


def test_a_table_the_function_does_not_name_is_access_denied_with_a_hint(chat_spec, capsys):
    """history names only messages: its Query on sessions fails AccessDeniedException, as
    its role would on AWS, and the console says which table to add to its tables."""

    async def scenario(url: str) -> dict:
        async with connect(url) as ws:
            await ws.send(json.dumps({"action": "history", "peek": True}))
            return await next_json(ws, timeout=20)

    with LocalService(chat_spec, sandboxes=True) as service:
        assert asyncio.run(scenario(service.url)) == {"error": "AccessDeniedException"}
    err = " ".join(capsys.readouterr().err.split())
    assert 'does not name table sessions: add "sessions" to tables in [functions.history]' in err

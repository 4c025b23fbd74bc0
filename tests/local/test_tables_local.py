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
from wsctl.config import ServiceSpec
from wsctl.local import LocalService

CHAT_TOML = """
[stack]
name = "chat"
stage = "test"

[tables.sessions]
partition_key = "connection_id"
ttl = "expires_at"

[tables.messages]
partition_key = "room"
sort_key = { name = "at", type = "N" }
indexes = [{ name = "by_author", partition_key = "author", sort_key = { name = "at" } }]
retain = true

[stack.environment]
table_name = "${tables.sessions}"
messages_table = "${tables.messages}"

[functions.connect]
handler = "handler.on_connect"
tables = ["sessions"]
permissions = ["dynamodb:PutItem"]

[functions.disconnect]
handler = "handler.on_disconnect"
tables = ["sessions"]
permissions = ["dynamodb:DeleteItem"]

[functions.say]
handler = "handler.on_say"
tables = ["sessions", "messages"]
permissions = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Scan",
               "execute-api:ManageConnections"]

[functions.history]
handler = "handler.on_history"
tables = ["messages"]
permissions = ["dynamodb:Query"]

[routes]
"$connect" = "connect"
"$disconnect" = "disconnect"
say = "say"
history = { function = "history", respond = true }
"""

# Written for AWS as a Serverless user would: boto3 resources, the table names from variables
# the author named, the management API at the event's own domain and stage.
CHAT_HANDLER = """
import json
import os
import time

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

dynamodb = boto3.resource("dynamodb")
sessions = dynamodb.Table(os.environ["table_name"])
messages = dynamodb.Table(os.environ["messages_table"])


def on_connect(event, context):
    ctx = event["requestContext"]
    user = (event.get("queryStringParameters") or {}).get("user", "anonymous")
    sessions.put_item(Item={
        "connection_id": ctx["connectionId"],
        "user": user,
        "expires_at": int(time.time()) + 7200,
    })
    return {"statusCode": 200}


def on_disconnect(event, context):
    sessions.delete_item(Key={"connection_id": event["requestContext"]["connectionId"]})
    return {"statusCode": 200}


def on_say(event, context):
    ctx = event["requestContext"]
    body = json.loads(event["body"])
    me = sessions.get_item(Key={"connection_id": ctx["connectionId"]})["Item"]
    at = int(body["at"])
    messages.put_item(Item={"room": body["room"], "at": at, "author": me["user"],
                            "text": body["text"]})
    api = boto3.client("apigatewaymanagementapi",
                       endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}")
    frame = json.dumps({"from": me["user"], "text": body["text"]}).encode()
    for item in sessions.scan()["Items"]:
        api.post_to_connection(ConnectionId=item["connection_id"], Data=frame)
    return {"statusCode": 200}


def on_history(event, context):
    body = json.loads(event["body"])
    if body.get("peek"):  # sessions is not among this function's tables
        try:
            sessions.query(KeyConditionExpression=Key("connection_id").eq("x"))
        except ClientError as exc:
            error = exc.response["Error"]["Code"]
            return {"statusCode": 200, "body": json.dumps({"error": error})}
        return {"statusCode": 200, "body": json.dumps({"error": None})}
    if "author" in body:
        found = messages.query(IndexName="by_author",
                               KeyConditionExpression=Key("author").eq(body["author"]))
    else:
        found = messages.query(KeyConditionExpression=Key("room").eq(body["room"]),
                               ScanIndexForward=False)
    texts = [item["text"] for item in found["Items"]]
    return {"statusCode": 200, "body": json.dumps({"texts": texts})}
"""


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

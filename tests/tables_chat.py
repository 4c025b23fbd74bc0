"""A chat service written for AWS as a Serverless user would (boto3 resources, a sessions
table keyed connection_id, its name in the variable table_name), configured for wsctl only
in its wsctl.toml: run by the emulator's tests and deployed by the deploy tests."""

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

"""Lambda's Invoke API for the stack's own functions, served by the emulator to its handlers."""

from __future__ import annotations

import asyncio
import json

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect

from tests.local.conftest import next_json, write_service
from wsctl.local import LocalService
from wsctl.local.invoke import FunctionRef, parse_ref

TOML = """
[stack]
name = "inv"
stage = "test"

[functions.caller]
handler = "handler.caller"
permissions = ["execute-api:ManageConnections", "lambda:InvokeFunction"]
invokes = ["target"]

[functions.target]
handler = "handler.target"
timeout = 2
permissions = ["execute-api:ManageConnections"]

[routes]
"$default" = "caller"
"""

# caller invokes target as the message asks and posts what Invoke returned; target answers
# with what it saw, posts to the connection it is given, raises or sleeps on request.
HANDLER = """
import base64
import json
import time

import boto3


def _post(domain, stage, connection_id, document):
    client = boto3.client("apigatewaymanagementapi", endpoint_url=f"https://{domain}/{stage}")
    client.post_to_connection(ConnectionId=connection_id, Data=json.dumps(document).encode())


def caller(event, context):
    ctx = event["requestContext"]
    ask = json.loads(event["body"])
    payload = {"domain": ctx["domainName"], "stage": ctx["stage"],
               "connectionId": ctx["connectionId"], **ask.get("payload", {})}
    kwargs = {"FunctionName": ask["name"], "InvocationType": ask.get("type", "RequestResponse"),
              "Payload": json.dumps(payload).encode()}
    if "clientContext" in ask:
        raw = json.dumps(ask["clientContext"]).encode()
        kwargs["ClientContext"] = base64.b64encode(raw).decode()
    try:
        answer = boto3.client("lambda").invoke(**kwargs)
    except Exception as exc:
        _post(ctx["domainName"], ctx["stage"], ctx["connectionId"],
              {"error": exc.response["Error"]["Code"],
               "status": exc.response["ResponseMetadata"]["HTTPStatusCode"]})
        return {"statusCode": 200}
    _post(ctx["domainName"], ctx["stage"], ctx["connectionId"], {
        "status": answer["StatusCode"],
        "functionError": answer.get("FunctionError"),
        "payload": answer["Payload"].read().decode(),
    })
    return {"statusCode": 200}


def target(event, context):
    if event.get("raise"):
        raise ValueError("target fails on purpose")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    seen = {
        "event": event,
        "functionName": context.function_name,
        "requestId": context.aws_request_id,
        "clientContext": context.client_context and context.client_context.custom,
    }
    if event.get("post"):
        _post(event["domain"], event["stage"], event["connectionId"], {"async": seen})
    return seen
"""


@pytest.fixture
def service(tmp_path):
    spec = write_service(tmp_path / "inv", TOML, HANDLER)
    with LocalService(spec) as running:
        yield running


async def _ask(service: LocalService, request: dict, replies: int = 1) -> list[dict]:
    async with connect(service.url) as ws:
        await ws.send(json.dumps(request))
        return [await next_json(ws) for _ in range(replies)]


def test_request_response_by_name_returns_the_result(service):
    """RequestResponse by name runs the function and returns its JSON result (200)."""
    (reply,) = asyncio.run(_ask(service, {"name": "inv-test-target", "payload": {"n": 7}}))
    assert reply["status"] == 200 and reply["functionError"] is None
    seen = json.loads(reply["payload"])
    assert seen["event"]["n"] == 7
    assert seen["functionName"] == "inv-test-target"


def test_request_response_by_arn_and_partial_arn(service):
    """A full ARN, a partial ARN and a :$LATEST qualifier name the same function."""
    names = [
        "arn:aws:lambda:us-east-1:123456789012:function:inv-test-target",
        "123456789012:function:inv-test-target",
        "inv-test-target:$LATEST",
    ]
    for name in names:
        (reply,) = asyncio.run(_ask(service, {"name": name}))
        assert reply["status"] == 200, name
        assert json.loads(reply["payload"])["functionName"] == "inv-test-target"


def test_event_invocation_returns_202_and_runs_on_its_own(service):
    """InvocationType=Event answers 202 with an empty payload; the function runs afterwards."""
    request = {"name": "inv-test-target", "type": "Event", "payload": {"post": True, "n": 3}}
    first, second = asyncio.run(_ask(service, request, replies=2))
    replies = {("async" in r): r for r in (first, second)}
    assert replies[False]["status"] == 202 and replies[False]["payload"] == ""
    assert replies[True]["async"]["event"]["n"] == 3


def test_a_raising_function_answers_unhandled_with_the_error(service):
    """A function that raises: 200 with FunctionError Unhandled and errorType/errorMessage."""
    (reply,) = asyncio.run(_ask(service, {"name": "inv-test-target", "payload": {"raise": 1}}))
    assert reply["status"] == 200 and reply["functionError"] == "Unhandled"
    error = json.loads(reply["payload"])
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "target fails on purpose"


def test_a_timed_out_function_answers_unhandled(service):
    """A function that runs past its timeout: FunctionError Unhandled, Lambda's message."""
    request = {"name": "inv-test-target", "payload": {"sleep": 4}}
    (reply,) = asyncio.run(_ask(service, request))
    assert reply["functionError"] == "Unhandled"
    assert "Task timed out after 2.00 seconds" in json.loads(reply["payload"])["errorMessage"]


def test_client_context_reaches_the_function(service):
    """ClientContext (base64 JSON) becomes context.client_context."""
    request = {"name": "inv-test-target", "clientContext": {"custom": {"room": "a"}}}
    (reply,) = asyncio.run(_ask(service, request))
    assert json.loads(reply["payload"])["clientContext"] == {"room": "a"}


def test_request_ids_are_uuids_of_lambda_own(service):
    """Each invocation gets a fresh UUID as aws_request_id."""
    ids = set()
    for _ in range(2):
        (reply,) = asyncio.run(_ask(service, {"name": "inv-test-target"}))
        request_id = json.loads(reply["payload"])["requestId"]
        assert len(request_id) == 36 and request_id.count("-") == 4
        ids.add(request_id)
    assert len(ids) == 2


def test_unknown_functions_are_resource_not_found(service):
    """A function of this stack that does not exist, or another version: 404, AWS's code."""
    for name in ("inv-test-nothing", "inv-test-target:7"):
        (reply,) = asyncio.run(_ask(service, {"name": name}))
        assert reply == {"error": "ResourceNotFoundException", "status": 404}, name


def test_invoke_from_the_test_process_too(service):
    """Invoke from outside a handler (a test, a script) reaches the emulator's function."""
    client = boto3.client("lambda", region_name="us-east-1")
    answer = client.invoke(FunctionName="inv-test-target", Payload=b'{"n": 1}')
    assert json.loads(answer["Payload"].read())["event"] == {"n": 1}
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="inv-test-target", Payload=b"{not json")
    assert caught.value.response["Error"]["Code"] == "InvalidRequestContentException"


def test_parse_ref_reads_names_and_arns():
    """Names, qualified names, ARNs and partial ARNs parse; anything else is None."""
    assert parse_ref("f") == FunctionRef("f")
    assert parse_ref("f:$LATEST") == FunctionRef("f", "$LATEST")
    assert parse_ref("f", "v2") == FunctionRef("f", "v2")
    assert parse_ref("arn:aws:lambda:eu-west-1:123456789012:function:f:live") == FunctionRef(
        "f", "live", "eu-west-1", "123456789012"
    )
    assert parse_ref("123456789012:function:f") == FunctionRef("f", None, None, "123456789012")
    assert parse_ref("arn:aws:s3:::bucket") is None

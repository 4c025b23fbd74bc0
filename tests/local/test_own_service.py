"""A service of one's own on the emulator: authorizers, two-way routes, subprotocols, the
environment, the built-in token authorizer: real websockets clients against LocalService."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.local.conftest import next_json, write_service
from wsctl.config import ServiceSpec
from wsctl.local import LocalService

OWN_TOML = """
[stack]
name = "own"
stage = "test"
auth = "custom"

[stack.environment]
GREETING = "hello"

[functions.authorize]
handler = "handler.authorize"

[functions.connect]
handler = "handler.connect"
permissions = ["dynamodb:PutItem"]

[functions.default]
handler = "handler.default"

[functions.who]
handler = "handler.who"

[functions.who.environment]
WHO_ONLY = "yes"

[authorizer]
function = "authorize"
identity_sources = ["route.request.querystring.key"]

[routes]
"$connect" = "connect"
"$default" = "default"
whoami = { function = "who", respond = true }
oneway = "who"
"""

OWN_HANDLER = """
import json
import os
import pathlib

import boto3

CALLS = pathlib.Path(__file__).with_name("authorizer_calls.txt")


def authorize(event, context):
    with CALLS.open("a") as handle:
        handle.write(event["methodArn"] + "\\n")
    key = event["queryStringParameters"]["key"]
    if key == "unauthorized":
        raise Exception("Unauthorized")
    if key == "boom":
        raise RuntimeError("the authorizer has a bug")
    if key == "malformed":
        return {"allow": True}
    effect = "Deny" if key == "deny" else "Allow"
    return {
        "principalId": "user-" + key,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
            ],
        },
        "context": {"role": "admin", "level": 2, "beta": True},
    }


def connect(event, context):
    boto3.client("dynamodb").put_item(
        TableName=os.environ["WSCTL_TABLE"],
        Item={"connectionId": {"S": event["requestContext"]["connectionId"]}},
    )
    query = event.get("queryStringParameters") or {}
    if "proto" in query:
        return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": query["proto"]}}
    return {"statusCode": 200}


def default(event, context):
    return {"statusCode": 200, "body": "a one-way route's body is discarded"}


def who(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "route": event["requestContext"]["routeKey"],
                "authorizer": event["requestContext"].get("authorizer"),
                "greeting": os.environ.get("GREETING"),
                "whoOnly": os.environ.get("WHO_ONLY"),
            }
        ),
    }
"""


@pytest.fixture
def own_spec(tmp_path: Path) -> ServiceSpec:
    return write_service(tmp_path / "own", OWN_TOML, OWN_HANDLER)


def authorizer_calls(spec: ServiceSpec) -> int:
    calls = spec.code_dir / "authorizer_calls.txt"
    return len(calls.read_text().splitlines()) if calls.exists() else 0


async def refused(url: str, **kwargs) -> int:
    with pytest.raises(InvalidStatus) as caught:
        async with connect(url, **kwargs):
            pass
    return caught.value.response.status_code


def test_an_allowed_connection_carries_the_authorizers_context_into_every_event(own_spec):
    """Allow: the connection opens, and a MESSAGE handler of it sees principalId and context."""

    async def scenario(service):
        async with connect(service.url + "?key=ann") as ws:
            await ws.send(json.dumps({"action": "whoami"}))
            reply = await next_json(ws)
            assert reply["route"] == "whoami"
            authorizer = reply["authorizer"]
            assert authorizer["principalId"] == "user-ann"
            assert (authorizer["role"], authorizer["level"], authorizer["beta"]) == (
                "admin",
                2,
                True,
            )
            assert isinstance(authorizer["integrationLatency"], int)

    with LocalService(own_spec) as service:
        asyncio.run(scenario(service))
        assert service.record_count() == 1
        assert authorizer_calls(own_spec) == 1


@pytest.mark.parametrize(
    ("key", "status"), [("deny", 403), ("unauthorized", 401), ("boom", 500), ("malformed", 500)]
)
def test_refusals_write_no_record(own_spec, key, status):
    """Deny 403, raise Unauthorized 401, other raise or malformed answer 500; no record."""
    with LocalService(own_spec) as service:
        assert asyncio.run(refused(f"{service.url}?key={key}")) == status
        assert service.record_count() == 0
        assert authorizer_calls(own_spec) == 1


def test_a_missing_identity_source_is_401_without_invoking_the_authorizer(own_spec):
    """No ?key= (or an empty one): 401, and the authorizer function never runs."""
    with LocalService(own_spec) as service:
        assert asyncio.run(refused(service.url)) == 401
        assert asyncio.run(refused(service.url + "?key=")) == 401
        assert authorizer_calls(own_spec) == 0
        assert service.record_count() == 0


def test_a_two_way_route_replies_with_the_body_and_a_one_way_route_does_not(own_spec):
    """whoami (respond = true) sends the handler's body back; oneway and $default send none."""

    async def scenario(service):
        async with connect(service.url + "?key=bo") as ws:
            await ws.send(json.dumps({"action": "oneway"}))
            await ws.send("not json: goes to $default")
            await ws.send(json.dumps({"action": "whoami"}))
            # Only whoami's reply arrives: the frames before it produced nothing.
            assert (await next_json(ws))["route"] == "whoami"
            with pytest.raises(TimeoutError):
                async with asyncio.timeout(0.3):
                    await ws.recv()

    with LocalService(own_spec) as service:
        asyncio.run(scenario(service))


def test_connect_selects_one_of_the_offered_subprotocols(own_spec):
    """$connect's Sec-WebSocket-Protocol header chooses the subprotocol the client gets."""

    async def scenario(service):
        offered = ["chat.v1", "chat.v2"]
        async with connect(f"{service.url}?key=a&proto=chat.v2", subprotocols=offered) as ws:
            assert ws.subprotocol == "chat.v2"
        async with connect(f"{service.url}?key=a", subprotocols=offered) as ws:
            assert ws.subprotocol is None  # $connect chose none

    with LocalService(own_spec) as service:
        asyncio.run(scenario(service))


def test_functions_see_the_stacks_variables_and_their_own(own_spec):
    """[stack.environment] and [functions.who.environment] reach the who function."""

    async def scenario(service):
        async with connect(service.url + "?key=env") as ws:
            await ws.send(json.dumps({"action": "whoami"}))
            reply = await next_json(ws)
            assert (reply["greeting"], reply["whoOnly"]) == ("hello", "yes")

    with LocalService(own_spec) as service:
        asyncio.run(scenario(service))


TOKEN_TOML = """
[stack]
name = "tok"
stage = "test"
auth = "token"

[functions.connect]
handler = "handler.connect"
permissions = ["dynamodb:PutItem"]

[routes]
"$connect" = "connect"
"$default" = "connect"
"""

# A $connect that admits everyone: the built-in authorizer must still hold.
LENIENT_HANDLER = """
import os

import boto3


def connect(event, context):
    if event["requestContext"]["eventType"] == "CONNECT":
        boto3.client("dynamodb").put_item(
            TableName=os.environ["WSCTL_TABLE"],
            Item={"connectionId": {"S": event["requestContext"]["connectionId"]}},
        )
    return {"statusCode": 200}
"""


def test_token_auth_holds_whatever_a_custom_connect_returns(tmp_path):
    """auth = "token" with a $connect returning 200: no/wrong token 401 and no record;
    the token as a Bearer header or as ?token= connects."""
    spec = write_service(tmp_path / "tok", TOKEN_TOML, LENIENT_HANDLER)

    async def scenario(service):
        assert await refused(service.url) == 401
        assert await refused(service.url + "?token=wrong") == 401
        assert await refused(service.url, additional_headers={"Authorization": "Bearer no"}) == 401
        assert service.record_count() == 0
        async with connect(service.url, additional_headers={"Authorization": "Bearer s3cret"}):
            pass
        async with connect(service.url + "?token=s3cret"):
            pass

    with LocalService(spec, auth_token="s3cret") as service:
        asyncio.run(scenario(service))
        assert service.record_count() == 2


def test_unknown_action_names_the_routes_the_stack_really_has(tmp_path):
    """The bundled service with a route of the user's own: its unknown_action error lists it."""
    import shutil

    from wsctl.config import bundled_service_dir, parse_spec_file

    root = tmp_path / "mine"
    shutil.copytree(bundled_service_dir() / "lambda_code", root / "lambda_code")
    toml = (bundled_service_dir() / "wsctl.toml").read_text()
    (root / "wsctl.toml").write_text(toml + 'hello = "default"\n')
    spec = parse_spec_file(root / "wsctl.toml")

    async def scenario(service):
        async with connect(service.url) as ws:
            await ws.send(json.dumps({"action": "nope"}))
            frame = await next_json(ws)
            assert frame["error"] == "unknown_action"
            assert "hello" in frame["actions"] and "broadcast" in frame["actions"]
            assert "hello" in frame["message"]

    with LocalService(spec) as service:
        asyncio.run(scenario(service))


def test_wsctl_connect_shows_the_subprotocol_the_server_chose(own_spec, cli):
    """`wsctl connect -s a -s b` says which subprotocol $connect selected, or that none was."""
    with LocalService(own_spec) as service:
        chosen = cli(
            "connect",
            f"{service.url}?key=a&proto=chat.v2",
            "-s",
            "chat.v1",
            "-s",
            "chat.v2",
            "-w",
            "0.2",
        )
        assert chosen.exit_code == 0, chosen.stderr
        assert "Subprotocol: chat.v2 (chosen by the server)." in chosen.stderr
        none = cli("connect", f"{service.url}?key=a", "-s", "chat.v1", "-w", "0.2")
        assert "The server chose no subprotocol (offered: chat.v1)." in none.stderr


def test_the_emulator_says_when_functions_disagree_on_a_variable(tmp_path):
    """Two functions setting one name to different values: a one-line note naming it (never
    the values), since one emulator process holds one environment."""
    toml = OWN_TOML.replace('WHO_ONLY = "yes"', 'WHO_ONLY = "yes"\nGREETING = "hi-secret"')
    spec = write_service(tmp_path / "own", toml, OWN_HANDLER)
    output = io.StringIO()
    with LocalService(spec, console=Console(file=output, width=400, no_color=True)):
        pass
    notes = [line for line in output.getvalue().splitlines() if "different values" in line]
    assert len(notes) == 1 and "GREETING" in notes[0]
    assert "hi-secret" not in output.getvalue()

"""A service of one's own, deployed on moto: Lambda environment variables converge (drift
detected and repaired, values never printed), the $connect authorizer (custom, and token's
built-in one), and two-way routes' route responses."""

from __future__ import annotations

import io
import json
import sys
import zipfile

import boto3
import botocore.client
import pytest
from moto.core import DEFAULT_ACCOUNT_ID

from wsctl import authorizer as rules
from wsctl.aws import resources
from wsctl.packaging import build_package

REGION = "us-east-1"
SECRET = "value-that-must-never-print"


def variables(function: str) -> dict[str, str]:
    lam = boto3.client("lambda", region_name=REGION)
    configuration = lam.get_function(FunctionName=function)["Configuration"]
    return configuration.get("Environment", {}).get("Variables", {})


def test_environment_is_deployed_per_function_and_converges(cli, aws, service):
    """[stack.environment], env_file and [functions.X.environment] become each function's
    variables; a changed value, and a value changed behind wsctl's back, are converged."""
    (service.root / ".env").write_text(f"API_KEY={SECRET}\n")
    service.rewrite(
        'auth = "none"',
        'auth = "none"\nenv_file = ".env"\n\n[stack.environment]\nLOG_LEVEL = "info"',
    )
    service.rewrite("[routes]", '[functions.chat.environment]\nLOG_LEVEL = "debug"\n\n[routes]')
    first = cli("up", "--config", str(service.config))
    assert first.exit_code == 0, first.stderr
    connect, chat = variables("demo-test-connect"), variables("demo-test-chat")
    assert (connect["API_KEY"], connect["LOG_LEVEL"]) == (SECRET, "info")
    assert (chat["API_KEY"], chat["LOG_LEVEL"]) == (SECRET, "debug")
    assert connect["WSCTL_TABLE"] == "demo-test-connections"  # wsctl's own stay
    assert json.loads(connect["WSCTL_ROUTES"]) == ["say"]

    service.rewrite('LOG_LEVEL = "info"', 'LOG_LEVEL = "warning"')
    changed = cli("up", "--config", str(service.config))
    assert changed.exit_code == 0, changed.stderr
    assert variables("demo-test-connect")["LOG_LEVEL"] == "warning"

    # Someone edits the function by hand: the next up puts wsctl.toml's values back.
    boto3.client("lambda", region_name=REGION).update_function_configuration(
        FunctionName="demo-test-chat", Environment={"Variables": {"LOG_LEVEL": "hacked"}}
    )
    repaired = cli("up", "--config", str(service.config))
    assert repaired.exit_code == 0, repaired.stderr
    assert "environment" in repaired.stdout + repaired.stderr  # the drift is reported
    assert variables("demo-test-chat")["LOG_LEVEL"] == "debug"
    assert variables("demo-test-chat")["API_KEY"] == SECRET

    status = cli("status", "--config", str(service.config), "--json")
    for result in (first, changed, repaired, status):
        assert SECRET not in result.stdout + result.stderr


# -- authorizer and two-way routes -------------------------------------------------------------


def gateway():
    client = boto3.client("apigatewayv2", region_name=REGION)
    api_id = next(a["ApiId"] for a in client.get_apis()["Items"] if a["Name"] == "demo-test")
    routes = {r["RouteKey"]: r for r in client.get_routes(ApiId=api_id)["Items"]}
    return client, api_id, routes


def permission_sources(function: str) -> dict[str, str]:
    lam = boto3.client("lambda", region_name=REGION)
    try:
        policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
    except lam.exceptions.ResourceNotFoundException:  # no statement left
        return {}
    return {s["Sid"]: s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]}


AUTHORIZE = """

def authorize(event, context):
    raise Exception("Unauthorized")
"""


def test_a_custom_authorizer_is_deployed_on_connect_and_removed_by_down(cli, aws, service, strict):
    """auth = "custom": CreateAuthorizer (REQUEST, the function's URI, identity sources),
    $connect CUSTOM with its AuthorizerId, an invoke permission scoped to the authorizer's ARN;
    a re-run changes nothing; identity sources converge; down removes everything."""
    service.handler.write_text(service.handler.read_text() + AUTHORIZE)
    service.rewrite('auth = "none"', 'auth = "custom"')
    service.rewrite(
        "[routes]",
        '[functions.authorize]\nhandler = "handler.authorize"\n\n[authorizer]\n'
        'function = "authorize"\nidentity_sources = ["route.request.querystring.key"]\n\n[routes]',
    )
    first = cli("up", "--config", str(service.config))
    assert first.exit_code == 0, first.stderr
    client, api_id, routes = gateway()
    (found,) = client.get_authorizers(ApiId=api_id)["Items"]
    assert found["AuthorizerType"] == "REQUEST"
    assert found["IdentitySource"] == ["route.request.querystring.key"]
    assert found["AuthorizerUri"].endswith(":function:demo-test-authorize/invocations")
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == found["AuthorizerId"]
    assert routes["say"]["AuthorizationType"] == "NONE"
    sources = permission_sources("demo-test-authorize")
    assert sources == {
        resources.AUTHORIZER_STATEMENT_ID: (
            f"arn:aws:execute-api:{REGION}:{DEFAULT_ACCOUNT_ID}:{api_id}/authorizers/"
            f"{found['AuthorizerId']}"
        )
    }

    again = cli("up", "--config", str(service.config))
    assert again.exit_code == 0 and "unchanged" in again.stdout + again.stderr
    assert "authorizer" not in _changed_lines(again)

    service.rewrite("route.request.querystring.key", "route.request.header.X-Key")
    assert cli("up", "--config", str(service.config)).exit_code == 0
    (found,) = client.get_authorizers(ApiId=api_id)["Items"]
    assert found["IdentitySource"] == ["route.request.header.X-Key"]

    # Deleted behind wsctl's back: the next up recreates it and points $connect and the
    # permission at the new one.
    with strict.paused():  # a person at the console, not wsctl: no conflict to retry
        client.delete_authorizer(ApiId=api_id, AuthorizerId=found["AuthorizerId"])
    added = []
    original_add = botocore.client.BaseClient._make_api_call

    def watch(self, operation, params):
        if operation == "AddPermission" and params.get("FunctionName") == "demo-test-authorize":
            # AWS refuses an existing statement id (409): the old one must be gone first.
            assert resources.AUTHORIZER_STATEMENT_ID not in permission_sources(
                "demo-test-authorize"
            )
            added.append(params["StatementId"])
        return original_add(self, operation, params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.client.BaseClient, "_make_api_call", watch)
        assert cli("up", "--config", str(service.config)).exit_code == 0
    assert added == [resources.AUTHORIZER_STATEMENT_ID]
    (recreated,) = client.get_authorizers(ApiId=api_id)["Items"]
    assert recreated["AuthorizerId"] != found["AuthorizerId"]
    _, _, routes = gateway()
    assert routes["$connect"]["AuthorizerId"] == recreated["AuthorizerId"]
    assert permission_sources("demo-test-authorize")[resources.AUTHORIZER_STATEMENT_ID].endswith(
        f"/authorizers/{recreated['AuthorizerId']}"
    )

    assert cli("down", "--config", str(service.config), "--yes").exit_code == 0
    assert client.get_apis()["Items"] == []


def test_switching_the_authorizer_off_removes_it(cli, aws, service):
    """From auth = "custom" back to "none": the authorizer and its permission go, $connect is
    NONE again."""
    service.handler.write_text(service.handler.read_text() + AUTHORIZE)
    custom = (
        '\n[functions.authorize]\nhandler = "handler.authorize"\n\n'
        '[authorizer]\nfunction = "authorize"\n'
    )
    service.rewrite('auth = "none"', 'auth = "custom"')
    service.config.write_text(service.config.read_text().replace("[routes]", custom + "\n[routes]"))
    assert cli("up", "--config", str(service.config)).exit_code == 0
    service.rewrite('auth = "custom"', 'auth = "none"')
    service.config.write_text(
        service.config.read_text().replace('\n[authorizer]\nfunction = "authorize"\n', "")
    )
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 0, result.stderr
    client, api_id, routes = gateway()
    assert client.get_authorizers(ApiId=api_id)["Items"] == []
    assert routes["$connect"]["AuthorizationType"] == "NONE"
    assert resources.AUTHORIZER_STATEMENT_ID not in permission_sources("demo-test-authorize")


def test_two_way_routes_get_a_route_response_and_lose_it_when_one_way(cli, aws, service):
    """respond = true: RouteResponseSelectionExpression $default and a $default route
    response; back to one-way, the route response is gone (and stays so); other routes never
    have them."""
    service.rewrite('say = "chat"', 'say = { function = "chat", respond = true }')
    assert cli("up", "--config", str(service.config)).exit_code == 0
    client, api_id, routes = gateway()
    say = routes["say"]
    assert say["RouteResponseSelectionExpression"] == "$default"
    responses = client.get_route_responses(ApiId=api_id, RouteId=say["RouteId"])["Items"]
    assert [r["RouteResponseKey"] for r in responses] == ["$default"]
    assert not routes["$default"].get("RouteResponseSelectionExpression")

    again = cli("up", "--config", str(service.config))
    assert "route say" not in _changed_lines(again)

    service.rewrite('say = { function = "chat", respond = true }', 'say = "chat"')
    assert cli("up", "--config", str(service.config)).exit_code == 0
    # One-way again: no route response (the expression alone sends nothing back).
    assert client.get_route_responses(ApiId=api_id, RouteId=say["RouteId"])["Items"] == []
    settled = cli("up", "--config", str(service.config))
    assert "route say" not in _changed_lines(settled)


def test_token_auth_deploys_the_builtin_authorizer(cli, aws, tmp_path, monkeypatch):
    """auth = "token": wsctl's own authorizer function (digest only, from the same zip) on
    $connect, so a $connect returning 200 still cannot admit a client without the token:
    the packaged authorizer refuses it, which API Gateway answers 401."""
    from aws_testing import write_service

    from wsctl import state
    from wsctl.auth import token_digest

    service = write_service(tmp_path / "tok", auth="token")
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 0, result.stderr
    token = state.load_token("demo-test")
    env = variables("demo-test-wsctl-auth")
    assert env["WSCTL_TOKEN_SHA256"] == token_digest(token)
    lam = boto3.client("lambda", region_name=REGION)
    configuration = lam.get_function(FunctionName="demo-test-wsctl-auth")["Configuration"]
    assert configuration["Handler"] == "wsctl_authorizer.handler"
    client, api_id, routes = gateway()
    (found,) = client.get_authorizers(ApiId=api_id)["Items"]
    assert found["IdentitySource"] == []
    assert routes["$connect"]["AuthorizationType"] == "CUSTOM"
    assert routes["$connect"]["AuthorizerId"] == found["AuthorizerId"]

    # The deployed code: the zip's wsctl_authorizer, run with the deployed environment.
    spec = resources.deployable(service.spec())
    archive = zipfile.ZipFile(io.BytesIO(build_package(spec).data))
    extracted = tmp_path / "zip"
    archive.extractall(extracted)
    monkeypatch.syspath_prepend(str(extracted))
    monkeypatch.setenv("WSCTL_TOKEN_SHA256", env["WSCTL_TOKEN_SHA256"])
    sys.modules.pop("wsctl_authorizer", None)
    import wsctl_authorizer

    arn = rules.method_arn(REGION, DEFAULT_ACCOUNT_ID, api_id, "test")
    base = {"methodArn": arn, "headers": {}, "queryStringParameters": {}}

    def outcome(event):
        try:
            return rules.decide(wsctl_authorizer.handler(event, None), arn).status
        except Exception as exc:
            return rules.decide_failure(str(exc)).status

    assert outcome(base) == 401
    assert outcome({**base, "queryStringParameters": {"token": "wrong"}}) == 401
    assert outcome({**base, "queryStringParameters": {"token": token}}) == 200
    assert outcome({**base, "headers": {"Authorization": f"Bearer {token}"}}) == 200
    sys.modules.pop("wsctl_authorizer", None)


def _changed_lines(result) -> str:
    """The progress lines of resources that were created, updated or deleted."""
    text = result.stdout + result.stderr
    return "\n".join(
        line
        for line in text.splitlines()
        if any(w in line for w in ("created", "updated", "deleted"))
    )


def test_an_authorizer_still_referenced_for_a_moment_is_deleted_after_a_retry(
    aws, install_hook, strict
):
    """DeleteAuthorizer's ConflictException "is referenced in route" (seen on AWS right after
    the route let go) is retried, with the injected sleep, and then succeeds."""
    strict.conflicts = None  # only this test's refusals
    from botocore.exceptions import ClientError

    from wsctl.aws.awsclient import AwsClient
    from wsctl.aws.session import open_target

    refusals = {"left": 2}

    def refuse(model, **_):
        if model.name == "DeleteAuthorizer" and refusals["left"]:
            refusals["left"] -= 1
            raise ClientError(
                {
                    "Error": {
                        "Code": "ConflictException",
                        "Message": "Cannot delete authorizer 'a', is referenced in route: $connect",
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 409},
                },
                "DeleteAuthorizer",
            )

    install_hook("before-call", refuse)
    sleeps: list[float] = []
    client = AwsClient(
        open_target(profile=None, region=REGION, endpoint_url=None), sleep=sleeps.append
    )
    api = boto3.client("apigatewayv2", region_name=REGION).create_api(
        Name="x", ProtocolType="WEBSOCKET", RouteSelectionExpression="$request.body.action"
    )
    created = client.create_authorizer(
        api["ApiId"],
        {
            "Name": "x-authorizer",
            "AuthorizerType": "REQUEST",
            "AuthorizerUri": "arn:aws:apigateway:us-east-1:lambda:path/2015-03-31/functions/"
            "arn:aws:lambda:us-east-1:123456789012:function:f/invocations",
            "IdentitySource": [],
        },
    )
    client.delete_authorizer(api["ApiId"], created["AuthorizerId"])
    assert refusals["left"] == 0 and len(sleeps) == 2
    assert client.authorizers(api["ApiId"]) == []


def test_logs_of_a_token_stack_include_its_builtin_authorizer(cli, aws, tmp_path):
    """auth = "token": `wsctl logs --function wsctl-auth` reads the built-in authorizer's logs."""
    import time

    from aws_testing import write_service

    service = write_service(tmp_path / "tok", auth="token")
    assert cli("up", "--config", str(service.config)).exit_code == 0
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_stream(logGroupName="/aws/lambda/demo-test-wsctl-auth", logStreamName="s")
    logs.put_log_events(
        logGroupName="/aws/lambda/demo-test-wsctl-auth",
        logStreamName="s",
        logEvents=[{"timestamp": int(time.time() * 1000) - 1000, "message": "refused one"}],
    )
    result = cli(
        "logs", "--config", str(service.config), "--since", "1h", "--function", "wsctl-auth"
    )
    assert result.exit_code == 0, result.stderr
    assert "refused one" in result.stdout

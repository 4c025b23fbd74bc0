"""What gets deployed is least privilege: per-function roles, scoped resources, scoped invoke
permissions, non-zero throttling. Checked on the pure definitions and on a deployed stack."""

from __future__ import annotations

import dataclasses
import json
import re

import boto3
import pytest

from wsctl import naming
from wsctl.aws import resources
from wsctl.aws.resources import Place
from wsctl.config import load_spec

REGION = "us-east-1"
ACCOUNT = "123456789012"
PLACE = Place("aws", ACCOUNT, REGION)
LOG_ACTIONS = {"logs:CreateLogStream", "logs:PutLogEvents"}


def _actions(statement: dict) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def _resources(statement: dict) -> list[str]:
    resource = statement["Resource"]
    return [resource] if isinstance(resource, str) else list(resource)


def test_policy_without_connections_needs_no_api_id(service):
    """A function that does not post gets table and log access only, no execute-api."""
    spec = service.spec()
    policy = resources.function_policy(spec, spec.functions["connect"], PLACE, None)
    actions = {a for s in policy["Statement"] for a in _actions(s)}
    assert actions == {"dynamodb:PutItem"} | LOG_ACTIONS


def test_policy_with_connections_is_scoped_to_the_stage(service):
    """ManageConnections is granted on this API's stage @connections path only."""
    spec = service.spec()
    policy = resources.function_policy(spec, spec.functions["chat"], PLACE, "abc123")
    (connections,) = [s for s in policy["Statement"] if "execute-api" in _actions(s)[0]]
    assert connections["Resource"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:abc123/test/*/@connections/*"
    )
    with pytest.raises(ValueError):
        resources.function_policy(spec, spec.functions["chat"], PLACE, None)


def test_invoke_is_granted_on_the_listed_functions_only(service):
    """lambda:InvokeFunction is scoped to the ARNs of the functions in invokes; others get none."""
    spec = service.spec()
    caller = dataclasses.replace(
        spec.functions["chat"],
        permissions=(*spec.functions["chat"].permissions, "lambda:InvokeFunction"),
        invokes=("chat",),
    )
    policy = resources.function_policy(spec, caller, PLACE, "abc123")
    (invoke,) = [s for s in policy["Statement"] if _actions(s) == ["lambda:InvokeFunction"]]
    assert _resources(invoke) == [resources.function_arn(spec, "chat", PLACE)]
    plain = resources.function_policy(spec, spec.functions["chat"], PLACE, "abc123")
    assert not [s for s in plain["Statement"] if "lambda:InvokeFunction" in _actions(s)]


def test_statement_id_is_valid():
    """wsctl's one statement id per function is a valid Lambda statement id."""
    assert re.fullmatch(r"[A-Za-z0-9_-]{1,100}", resources.PERMISSION_SID)


def test_urls_come_from_the_api_endpoint_and_stage():
    """The wss:// and @connections URLs are built from ApiEndpoint plus the stage."""
    endpoint = "https://abc.execute-api.eu-west-1.amazonaws.com"
    assert resources.wss_url(endpoint, "dev") == "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"
    assert resources.management_url(endpoint, "dev") == (
        "https://abc.execute-api.eu-west-1.amazonaws.com/dev/@connections"
    )


def test_stage_settings_never_send_zero_throttling():
    """Both throttling values are sent, and neither is zero (an omitted one means zero)."""
    settings = resources.stage_route_settings()
    assert settings["ThrottlingBurstLimit"] > 0
    assert settings["ThrottlingRateLimit"] > 0


@pytest.fixture
def deployed(cli, aws, tmp_path, monkeypatch):
    """The bundled service deployed twice with --auth iam; returns its spec and API id."""
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        result = cli("up", "--auth", "iam")
        assert result.exit_code == 0, result.stderr
    spec = load_spec(None).with_overrides(auth="iam")
    (api,) = boto3.client("apigatewayv2", region_name=REGION).get_apis()["Items"]
    return spec, api["ApiId"]


def test_each_function_has_its_own_least_privilege_role(deployed):
    """One role per function; only the actions it declares; no `*` action or resource beyond
    the @connections path; logs only on its own log group."""
    spec, api_id = deployed
    iam = boto3.client("iam")
    lam = boto3.client("lambda", region_name=REGION)
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{naming.table_name(spec)}"
    connections = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/{spec.stage}/*/@connections/*"
    roles = set()
    for fn, function in spec.functions.items():
        config = lam.get_function(FunctionName=naming.function_name(spec, fn))["Configuration"]
        role = config["Role"].rsplit("/", 1)[1]
        roles.add(role)
        assert iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
        assert iam.list_role_policies(RoleName=role)["PolicyNames"] == ["wsctl"]
        document = iam.get_role_policy(RoleName=role, PolicyName="wsctl")["PolicyDocument"]
        if isinstance(document, str):
            document = json.loads(document)
        log_streams = (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
            f"{naming.log_group_name(spec, fn)}:log-stream:*"
        )
        granted: dict[str, set[str]] = {}
        for statement in document["Statement"]:
            assert statement["Effect"] == "Allow"
            for action in _actions(statement):
                assert "*" not in action
                granted.setdefault(action, set()).update(_resources(statement))
        for action, where in granted.items():
            assert "*" not in where
            if action.startswith("dynamodb:"):
                assert where == {table_arn}
            elif action.startswith("logs:"):
                assert where == {log_streams}
            elif action == "lambda:InvokeFunction":
                assert where == {
                    f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:"
                    f"{naming.function_name(spec, target)}"
                    for target in function.invokes
                }
            else:
                assert action == "execute-api:ManageConnections"
                assert where == {connections}
        assert set(granted) == set(function.table_actions) | LOG_ACTIONS | (
            {"execute-api:ManageConnections"} if function.manages_connections else set()
        ) | ({"lambda:InvokeFunction"} if function.invokes else set())
    assert len(roles) == len(spec.functions)


def test_invoke_permissions_are_scoped_to_the_api(deployed):
    """Every invoke permission names API Gateway and a SourceArn of this API, one per
    function a route calls; none is duplicated by a second `up`."""
    spec, api_id = deployed
    lam = boto3.client("lambda", region_name=REGION)
    for fn in resources.route_functions(spec):
        policy = json.loads(lam.get_policy(FunctionName=naming.function_name(spec, fn))["Policy"])
        sources = []
        for statement in policy["Statement"]:
            assert statement["Principal"] == {"Service": "apigateway.amazonaws.com"}
            assert statement["Action"] == "lambda:InvokeFunction"
            source = statement["Condition"]["ArnLike"]["AWS:SourceArn"]
            assert source.startswith(f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/")
            sources.append(source)
        assert sources == [f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*"]


def test_api_routes_stage_and_tags(deployed):
    """AWS_PROXY integrations, AWS_IAM on $connect only, non-zero stage throttling, retention
    on log groups, and the stack tag on every taggable resource."""
    spec, api_id = deployed
    gw = boto3.client("apigatewayv2", region_name=REGION)
    integrations = gw.get_integrations(ApiId=api_id)["Items"]
    assert {i["IntegrationType"] for i in integrations} == {"AWS_PROXY"}
    routes = gw.get_routes(ApiId=api_id)["Items"]
    assert {r["RouteKey"] for r in routes} == set(spec.routes)
    for route in routes:
        expected = "AWS_IAM" if route["RouteKey"] == "$connect" else "NONE"
        assert route["AuthorizationType"] == expected
    stage = gw.get_stage(ApiId=api_id, StageName=spec.stage)
    assert stage["AutoDeploy"] is True
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"] > 0
    tag = {naming.STACK_TAG: spec.stack}
    assert stage["Tags"] == tag
    assert gw.get_api(ApiId=api_id)["Tags"] == tag
    logs = boto3.client("logs", region_name=REGION)
    lam = boto3.client("lambda", region_name=REGION)
    iam = boto3.client("iam")
    for fn in spec.functions:
        (group,) = logs.describe_log_groups(logGroupNamePrefix=naming.log_group_name(spec, fn))[
            "logGroups"
        ]
        assert group["retentionInDays"] == spec.log_retention_days
        assert logs.list_tags_for_resource(resourceArn=group["logGroupArn"])["tags"] == tag
        arn = lam.get_function(FunctionName=naming.function_name(spec, fn))["Configuration"][
            "FunctionArn"
        ]
        assert lam.list_tags(Resource=arn)["Tags"] == tag
        role_tags = iam.list_role_tags(RoleName=naming.role_name(spec, fn))["Tags"]
        assert role_tags == [{"Key": naming.STACK_TAG, "Value": spec.stack}]
    ddb = boto3.client("dynamodb", region_name=REGION)
    table = ddb.describe_table(TableName=naming.table_name(spec))["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert ddb.describe_time_to_live(TableName=naming.table_name(spec))[
        "TimeToLiveDescription"
    ] == {"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}
    assert ddb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"] == [
        {"Key": naming.STACK_TAG, "Value": spec.stack}
    ]

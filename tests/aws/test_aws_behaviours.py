"""What real AWS does that moto does not, through the strict layer (tests/aws/strict_aws.py),
and how `up`, `status` and `down` survive it: issue 11's failures 1-11 and its drift cases."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_testing import assert_account_empty
from botocore.exceptions import ClientError

from wsctl.aws import deploy, permissions
from wsctl.aws.awsclient import AwsClient
from wsctl.aws.session import open_target
from wsctl.packaging import build_package

REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTIONS = ("demo-test-chat", "demo-test-connect")


@pytest.fixture
def status(cli, service):
    """`wsctl status --json`, as (exit code, parsed document)."""

    def run():
        result = cli("status", "--config", str(service.config), "--json")
        return result.exit_code, json.loads(result.stdout)

    return run


def _lambda():
    return boto3.client("lambda", region_name=REGION)


def _api_id() -> str:
    (api,) = boto3.client("apigatewayv2", region_name=REGION).get_apis()["Items"]
    return api["ApiId"]


def _states(document, kind) -> dict[str, str]:
    return {r["name"]: r["state"] for r in document["resources"] if r["kind"] == kind}


# -- 1. API Gateway's ConflictException ------------------------------------------------------
def test_up_and_down_survive_a_conflict_on_every_gateway_mutation(up, down, strict):
    """Every API Gateway mutation answered ConflictException ("concurrent modification")
    once: `up` retries each and deploys; `down` likewise removes everything."""
    strict.conflicts = "every"
    result = up()
    assert result.exit_code == 0, result.stderr
    refused_by_up = strict.seen["ConflictException"]
    assert refused_by_up >= 7  # API, 2 integrations, 3 routes, stage
    result = down()
    assert result.exit_code == 0, result.stderr
    assert strict.seen["ConflictException"] > refused_by_up
    assert_account_empty()


# -- 2. AddPermission 409 after the API went away -------------------------------------------
def test_up_after_the_api_is_deleted_out_of_band_replaces_permissions(up, strict):
    """The API deleted by hand: the next `up` builds a new one and replaces each function's
    statement (AddPermission on its id would answer 409) with one naming the new API."""
    assert up().exit_code == 0
    with strict.paused():
        boto3.client("apigatewayv2", region_name=REGION).delete_api(ApiId=_api_id())
    result = up()
    assert result.exit_code == 0, result.stderr
    new_api = _api_id()
    for name in FUNCTIONS:
        policy = json.loads(_lambda().get_policy(FunctionName=name)["Policy"])
        (statement,) = policy["Statement"]
        assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{new_api}/*"
        )
    assert "AddPermission existing Sid" not in strict.seen


def test_add_permission_on_an_existing_statement_id_is_refused_by_the_layer(aws, strict):
    """The layer itself: a second AddPermission with the same statement id is a 409."""
    iam = boto3.client("iam")
    role = iam.create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    strict.propagation_seconds = 0
    _lambda().create_function(
        FunctionName="f", Runtime="python3.12", Role=role, Handler="h.h", Code={"ZipFile": b"x"}
    )
    grant = dict(
        FunctionName="f",
        StatementId="s",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
    )
    _lambda().add_permission(**grant)
    with pytest.raises(ClientError) as caught:
        _lambda().add_permission(**grant)
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"


# -- 3. GetFunction without lambda:ListTags --------------------------------------------------
def _policy_without(service, action: str) -> dict:
    policy = permissions.deployer_policy(service.spec())
    for statement in policy["Statement"]:
        statement["Action"] = [a for a in statement["Action"] if a != action]
    return policy


def test_without_list_tags_up_says_which_permission_is_missing(up, down, service, strict):
    """README's old permission list lacked lambda:ListTags: GetFunction then has no Tags.
    The second `up` must not call its own functions foreign; it says what to grant, and
    `down` deletes nothing rather than half the stack."""
    assert up().exit_code == 0
    strict.identity_policy = _policy_without(service, "lambda:ListTags")
    result = up()
    assert result.exit_code == 1
    assert "Refusing to adopt" not in result.stderr
    assert "AccessDenied on lambda:ListTags" in result.stderr
    assert down().exit_code == 1
    assert sorted(f["FunctionName"] for f in _lambda().list_functions()["Functions"]) == list(
        FUNCTIONS
    )
    assert len(boto3.client("iam").list_roles()["Roles"]) == 2


def test_functions_are_recognised_by_list_tags_when_get_function_omits_them(up, strict):
    """With every permission, GetFunction still left without Tags by the layer: a second
    `up` finds its functions by ListTags and changes nothing."""
    assert up().exit_code == 0
    result = up()
    assert result.exit_code == 0, result.stderr
    assert strict.seen["GetFunction without Tags"] >= 2


# -- 4. PutRetentionPolicy's allowed values --------------------------------------------------
def test_retention_outside_cloudwatchs_values_is_refused_before_any_call(up, service, call_log):
    """log_retention_days = 10 (CloudWatch accepts 7 or 14, not 10): one-line config error,
    exit 2, no AWS call at all (so nothing half-created)."""
    service.rewrite('auth = "none"', 'auth = "none"\nlog_retention_days = 10')
    result = up()
    assert result.exit_code == 2
    assert "log_retention_days" in result.stderr and "1096" in result.stderr
    assert call_log.calls == []


def test_the_layer_refuses_retention_outside_the_allowed_values(aws, strict):
    """The layer itself: PutRetentionPolicy with 10 days is InvalidParameterException."""
    logs = boto3.client("logs", region_name=REGION)
    logs.create_log_group(logGroupName="g")
    with pytest.raises(ClientError) as caught:
        logs.put_retention_policy(logGroupName="g", retentionInDays=10)
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    logs.put_retention_policy(logGroupName="g", retentionInDays=14)


# -- 5. DeleteTable leaves the table DELETING ------------------------------------------------
def test_down_then_up_at_once_ends_with_an_active_table(up, down, status, strict):
    """`down` then `up` right away, DescribeTable reporting DELETING for a few reads: `up`
    ends with an ACTIVE table and a deployed stack."""
    strict.deleting_describes = 3
    assert up().exit_code == 0
    assert down().exit_code == 0
    result = up()
    assert result.exit_code == 0, result.stderr
    table = boto3.client("dynamodb", region_name=REGION).describe_table(
        TableName="demo-test-connections"
    )["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert strict.seen["DescribeTable DELETING"] >= 3
    assert "CreateTable while DELETING" not in strict.seen
    code, document = status()
    assert code == 0 and document["state"] == "deployed"


def test_up_waits_for_a_table_someone_is_deleting(up, status, strict):
    """The table deleted out of band and still DELETING: `up` waits for its name to be free,
    creates it again, and the stack is deployed."""
    assert up().exit_code == 0
    strict.deleting_describes = 4
    boto3.client("dynamodb", region_name=REGION).delete_table(TableName="demo-test-connections")
    result = up()
    assert result.exit_code == 0, result.stderr
    assert "CreateTable while DELETING" not in strict.seen
    code, document = status()
    assert code == 0 and document["state"] == "deployed"


# -- 6. The 20 KB resource policy -----------------------------------------------------------
def test_eighty_routes_on_one_function_stay_under_the_policy_cap(up, service, strict):
    """80 routes on one function: `up` succeeds and each function's policy stays < 20 KB."""
    routes = "\n".join(f'route{n:02d} = "chat"' for n in range(80))
    service.rewrite('say = "chat"', f'say = "chat"\n{routes}')
    result = up()
    assert result.exit_code == 0, result.stderr
    for name in FUNCTIONS:
        assert len(_lambda().get_policy(FunctionName=name)["Policy"]) < 20480
    assert "PolicyLengthExceededException" not in strict.seen
    gw = boto3.client("apigatewayv2", region_name=REGION)
    routes = gw.get_routes(ApiId=_api_id(), MaxResults="500")["Items"]
    assert len(routes) == 83


# -- 8. IAM propagation takes minutes --------------------------------------------------------
def test_a_role_that_takes_ninety_seconds_to_propagate_is_waited_for(up, strict, virtual_clock):
    """Lambda refuses the new roles for 90 s (IAM can take minutes): `up` keeps trying
    (virtual time) and deploys, where a count of 8 tries gave up after 24-48 s."""
    strict.propagation_seconds = 90
    result = up()
    assert result.exit_code == 0, result.stderr
    assert strict.seen["role cannot be assumed"] >= 2
    assert virtual_clock.slept >= 90


# -- 9. DeleteRole with a managed policy attached --------------------------------------------
def test_down_detaches_managed_policies_attached_by_hand(up, down):
    """A managed policy attached to a stack role by hand: `down` detaches it and deletes the
    role (DeleteRole would answer DeleteConflict), leaving nothing of the stack."""
    assert up().exit_code == 0
    iam = boto3.client("iam")
    arn = iam.create_policy(PolicyName="extra", PolicyDocument=json.dumps(_ANY_READ))["Policy"][
        "Arn"
    ]
    iam.attach_role_policy(RoleName="demo-test-chat", PolicyArn=arn)
    result = down()
    assert result.exit_code == 0, result.stderr
    assert_account_empty()


_ANY_READ = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
}


# -- 10. An account that enforces its own retention ------------------------------------------
def test_retention_left_to_the_account_is_not_drift(up, service, status, strict, call_log):
    """An organisation's automation resets every log group to 30 days: with the default,
    status reports the retention out of date; with log_retention_days = "account", the
    stack is deployed and a second `up` changes nothing."""
    strict.enforced_retention = 30
    assert up().exit_code == 0
    code, document = status()
    assert document["state"] == "out of date"
    assert set(_states(document, "log group").values()) == {"out of date (retention)"}
    service.rewrite('auth = "none"', 'auth = "none"\nlog_retention_days = "account"')
    code, document = status()
    assert code == 0 and document["state"] == "deployed"
    call_log.clear()
    assert up().exit_code == 0
    assert call_log.mutating == []


# -- 11. A function left InProgress ----------------------------------------------------------
def test_update_waits_for_a_function_left_in_progress(up, service, strict):
    """An interrupted run left chat mid-update: the next `up` waits for it, then updates
    its code and memory, without being refused."""
    assert up().exit_code == 0
    service.handler.write_text(service.handler.read_text() + "\n# edited\n")
    service.rewrite("memory = 256", "memory = 512")
    strict.leave_in_progress("demo-test-chat", reads=3)
    result = up()
    assert result.exit_code == 0, result.stderr
    config = _lambda().get_function(FunctionName="demo-test-chat")["Configuration"]
    assert config["MemorySize"] == 512
    assert config["CodeSha256"] == build_package(service.spec()).sha256
    assert "update while InProgress" not in strict.seen


def test_the_layer_refuses_an_update_while_one_is_in_progress(up, strict):
    """The layer itself: UpdateFunctionConfiguration while InProgress is a 409."""
    assert up().exit_code == 0
    strict.leave_in_progress("demo-test-chat")
    with pytest.raises(ClientError) as caught:
        _lambda().update_function_configuration(FunctionName="demo-test-chat", MemorySize=512)
    assert caught.value.response["Error"]["Code"] == "ResourceConflictException"


# -- drift: status shows it, up fixes it ----------------------------------------------------
def _drifted(status, kind: str, name: str) -> str:
    code, document = status()
    assert code == 0 and document["state"] == "out of date"
    return _states(document, kind)[name]


def test_architecture_drift(up, status, service):
    """A function moved to arm64 by hand: status says architecture; up moves it back."""
    assert up().exit_code == 0
    _lambda().update_function_code(
        FunctionName="demo-test-chat",
        ZipFile=build_package(service.spec()).data,
        Architectures=["arm64"],
    )
    assert _drifted(status, "Lambda function", "demo-test-chat") == "out of date (architecture)"
    assert up().exit_code == 0
    config = _lambda().get_function(FunctionName="demo-test-chat")["Configuration"]
    assert config["Architectures"] == ["x86_64"]
    assert status()[1]["state"] == "deployed"


def test_code_and_memory_changed_in_one_up_are_both_applied(up, status, service):
    """Code and memory changed together: status names both; one `up` applies both."""
    assert up().exit_code == 0
    service.handler.write_text(service.handler.read_text() + "\n# edited\n")
    service.rewrite("memory = 256", "memory = 512")
    assert _drifted(status, "Lambda function", "demo-test-chat") == "out of date (code, memory)"
    assert up().exit_code == 0
    config = _lambda().get_function(FunctionName="demo-test-chat")["Configuration"]
    assert config["MemorySize"] == 512
    assert config["CodeSha256"] == build_package(service.spec()).sha256
    assert status()[1]["state"] == "deployed"


def test_already_gone_on_delete_counts_as_done(up, service, strict):
    """Resources deleted by someone else between `down`'s look and its deletes: each is
    reported "already gone", `down` succeeds, and nothing is left."""
    assert up().exit_code == 0
    client = AwsClient(open_target(profile=None, region=REGION, endpoint_url=None))
    spec = service.spec()
    remote, _ = deploy.find(client, spec)
    with strict.paused():
        _lambda().delete_function(FunctionName="demo-test-chat")
        boto3.client("logs", region_name=REGION).delete_log_group(
            logGroupName="/aws/lambda/demo-test-chat"
        )
        boto3.client("apigatewayv2", region_name=REGION).delete_api(ApiId=_api_id())
    result = deploy.down(client, spec, remote=remote)
    gone = {(o.action.kind, o.action.name) for o in result.outcomes if o.outcome == "already gone"}
    assert ("function", "demo-test-chat") in gone
    assert ("log_group", "/aws/lambda/demo-test-chat") in gone
    assert any(kind == "api" for kind, _ in gone)
    assert_account_empty()


def test_source_arn_drift(up, status):
    """A function's invoke permission pointed at another API by hand: status says source
    ARN; up restores the statement scoped to this API."""
    assert up().exit_code == 0
    api_id = _api_id()
    lam = _lambda()
    lam.remove_permission(FunctionName="demo-test-chat", StatementId="wsctl-apigateway")
    lam.add_permission(
        FunctionName="demo-test-chat",
        StatementId="wsctl-apigateway",
        Action="lambda:InvokeFunction",
        Principal="apigateway.amazonaws.com",
        SourceArn=f"arn:aws:execute-api:{REGION}:{ACCOUNT}:other/*",
    )
    name = "demo-test-chat"
    assert _drifted(status, "invoke permission", name) == "out of date (source ARN)"
    assert up().exit_code == 0
    (statement,) = json.loads(lam.get_policy(FunctionName="demo-test-chat")["Policy"])["Statement"]
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == (
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*"
    )
    assert status()[1]["state"] == "deployed"


def test_stage_auto_deploy_drift(up, status, strict):
    """AutoDeploy switched off by hand (routes would stop deploying): status says auto
    deploy; up switches it back on."""
    assert up().exit_code == 0
    gw = boto3.client("apigatewayv2", region_name=REGION)
    with strict.paused():
        gw.update_stage(ApiId=_api_id(), StageName="test", AutoDeploy=False)
    assert gw.get_stage(ApiId=_api_id(), StageName="test")["AutoDeploy"] is False
    assert _drifted(status, "stage", "test") == "out of date (auto deploy)"
    assert up().exit_code == 0
    assert gw.get_stage(ApiId=_api_id(), StageName="test")["AutoDeploy"] is True
    assert status()[1]["state"] == "deployed"


def test_retention_drift(up, status):
    """A log group's retention changed by hand: status says retention; up restores 14."""
    assert up().exit_code == 0
    logs = boto3.client("logs", region_name=REGION)
    logs.put_retention_policy(logGroupName="/aws/lambda/demo-test-chat", retentionInDays=90)
    assert _drifted(status, "log group", "/aws/lambda/demo-test-chat") == (
        "out of date (retention)"
    )
    assert up().exit_code == 0
    (group,) = logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/demo-test-chat")[
        "logGroups"
    ]
    assert group["retentionInDays"] == 14
    assert status()[1]["state"] == "deployed"


def test_role_trust_policy_drift(up, status):
    """A role's trust policy changed by hand (Lambda could no longer assume it): status says
    trust policy; up restores lambda.amazonaws.com as the one principal."""
    assert up().exit_code == 0
    iam = boto3.client("iam")
    role = "demo-test-chat"
    foreign_trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    iam.update_assume_role_policy(RoleName=role, PolicyDocument=json.dumps(foreign_trust))
    assert _drifted(status, "IAM role", role) == "out of date (trust policy)"
    assert up().exit_code == 0
    trust = iam.get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    assert [s["Principal"] for s in trust["Statement"]] == [{"Service": "lambda.amazonaws.com"}]
    assert status()[1]["state"] == "deployed"


def test_table_billing_mode_drift(up, status):
    """A table switched to provisioned capacity by hand: status says billing mode; up puts it
    back on demand."""
    assert up().exit_code == 0
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = "demo-test-connections"
    dynamodb.update_table(
        TableName=table,
        BillingMode="PROVISIONED",
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    assert _drifted(status, "DynamoDB table", table) == "out of date (billing mode)"
    assert up().exit_code == 0
    summary = dynamodb.describe_table(TableName=table)["Table"]["BillingModeSummary"]
    assert summary["BillingMode"] == "PAY_PER_REQUEST"
    assert status()[1]["state"] == "deployed"


def test_integration_drift(up, status, strict):
    """An integration switched from the Lambda proxy to a plain HTTP one by hand: status names
    the settings; up puts back AWS_PROXY with POST."""
    assert up().exit_code == 0
    gw = boto3.client("apigatewayv2", region_name=REGION)

    def chats() -> list[dict]:
        items = gw.get_integrations(ApiId=_api_id())["Items"]
        return [i for i in items if ":function:demo-test-chat/" in i["IntegrationUri"]]

    (integration,) = chats()
    with strict.paused():
        gw.update_integration(
            ApiId=_api_id(),
            IntegrationId=integration["IntegrationId"],
            IntegrationType="AWS",
            IntegrationMethod="GET",
        )
    label = f"demo-test-chat ({integration['IntegrationId']})"
    assert _drifted(status, "integration", label) == (
        "out of date (integration type, integration method)"
    )
    assert up().exit_code == 0
    (fixed,) = chats()
    assert (fixed["IntegrationType"], fixed["IntegrationMethod"]) == ("AWS_PROXY", "POST")
    assert fixed["IntegrationId"] == integration["IntegrationId"]
    assert status()[1]["state"] == "deployed"

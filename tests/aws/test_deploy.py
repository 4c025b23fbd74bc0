"""`wsctl up` and `wsctl down` against moto: convergence both ways, teardown from any failure
point, interrupted runs, foreign resources and the security of what gets deployed."""

from __future__ import annotations

import json

import boto3
import pytest
from aws_testing import account_leftovers, assert_account_empty, write_service

from wsctl import state
from wsctl.aws import resources

REGION = "us-east-1"
ACCOUNT = "123456789012"


def _apis():
    return boto3.client("apigatewayv2", region_name=REGION).get_apis()["Items"]


def test_up_creates_the_stack_and_prints_its_urls(up):
    """A fresh `up` creates every resource and prints the wss:// and management URLs."""
    result = up()
    assert result.exit_code == 0, result.stderr
    (api,) = _apis()
    host = api["ApiEndpoint"].removeprefix("https://")
    assert f"wss://{host}/test" in result.stdout
    assert f"https://{host}/test/@connections" in result.stdout
    assert "demo-test" in result.stdout and REGION in result.stdout
    assert "created" in result.stderr and "unchanged" not in result.stderr.split("Done")[0]
    saved = state.load_deployed("demo-test")
    assert saved["url"] == f"wss://{host}/test" and saved["api_id"] == api["ApiId"]
    leftovers = account_leftovers()
    assert sorted(leftovers["functions"]) == ["demo-test-chat", "demo-test-connect"]
    assert sorted(leftovers["roles"]) == ["demo-test-chat", "demo-test-connect"]
    assert leftovers["tables"] == ["demo-test-connections"]
    assert sorted(leftovers["log_groups"]) == [
        "/aws/lambda/demo-test-chat",
        "/aws/lambda/demo-test-connect",
    ]


def test_second_up_makes_no_mutating_call(up, call_log):
    """With nothing changed, a second `up` only reads, and reports every resource unchanged."""
    assert up().exit_code == 0
    call_log.clear()
    result = up()
    assert result.exit_code == 0, result.stderr
    assert call_log.mutating == []
    assert call_log.read_only  # it did look
    assert "0 changed" in result.stderr
    assert "created" not in result.stderr and "updated" not in result.stderr


def test_code_change_updates_function_code_only(up, service, call_log):
    """Editing lambda_code/ updates the functions' code and makes no other mutating call."""
    assert up().exit_code == 0
    service.handler.write_text(service.handler.read_text() + "\n# edited\n")
    call_log.clear()
    result = up()
    assert result.exit_code == 0, result.stderr
    assert sorted(call_log.mutating) == [("lambda", "UpdateFunctionCode")] * 2
    lam = boto3.client("lambda", region_name=REGION)
    from wsctl.packaging import build_package

    expected = build_package(service.spec()).sha256
    assert lam.get_function(FunctionName="demo-test-chat")["Configuration"]["CodeSha256"] == (
        expected
    )


def test_memory_change_updates_configuration_only(up, service, call_log):
    """A function's memory change in wsctl.toml becomes one UpdateFunctionConfiguration."""
    assert up().exit_code == 0
    service.rewrite("memory = 256", "memory = 512")
    call_log.clear()
    assert up().exit_code == 0
    assert call_log.mutating == [("lambda", "UpdateFunctionConfiguration")]
    config = boto3.client("lambda", region_name=REGION).get_function(FunctionName="demo-test-chat")[
        "Configuration"
    ]
    assert config["MemorySize"] == 512


def test_two_ups_leave_one_api(up):
    """Running `up` twice never creates a second API."""
    assert up().exit_code == 0
    assert up().exit_code == 0
    assert len(_apis()) == 1


def test_added_route_and_function_are_created_then_removed(up, service, call_log):
    """Routes are data: a new route (and function) appears on `up`, and goes when removed."""
    assert up().exit_code == 0
    before = service.config.read_text()
    service.rewrite(
        "[routes]",
        '[functions.echo]\nhandler = "handler.chat"\n\n[routes]\necho = "echo"\nping = "chat"',
    )
    assert up().exit_code == 0
    api_id = _apis()[0]["ApiId"]
    gw = boto3.client("apigatewayv2", region_name=REGION)
    keys = {r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]}
    assert keys == {"$connect", "$default", "say", "echo", "ping"}
    assert len(gw.get_integrations(ApiId=api_id)["Items"]) == 3
    lam = boto3.client("lambda", region_name=REGION)
    policy = json.loads(lam.get_policy(FunctionName="demo-test-echo")["Policy"])
    assert [s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"]] == [
        f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*"
    ]

    service.config.write_text(before)
    call_log.clear()
    result = up()
    assert result.exit_code == 0, result.stderr
    keys = {r["RouteKey"] for r in gw.get_routes(ApiId=api_id)["Items"]}
    assert keys == {"$connect", "$default", "say"}
    assert len(gw.get_integrations(ApiId=api_id)["Items"]) == 2
    leftovers = account_leftovers()
    assert "demo-test-echo" not in leftovers["functions"]
    assert "demo-test-echo" not in leftovers["roles"]
    assert "/aws/lambda/demo-test-echo" not in leftovers["log_groups"]
    chat = json.loads(lam.get_policy(FunctionName="demo-test-chat")["Policy"])
    assert len(chat["Statement"]) == 1  # one statement per function, whatever its routes
    # and it has now converged
    call_log.clear()
    assert up().exit_code == 0
    assert call_log.mutating == []


def test_down_removes_everything_and_twice_is_fine(up, down):
    """`down --yes` empties the account of the stack; a second `down` also exits 0."""
    assert up().exit_code == 0
    first = down()
    assert first.exit_code == 0, first.stderr
    assert_account_empty()
    assert state.load_deployed("demo-test") is None
    second = down()
    assert second.exit_code == 0
    assert "nothing to delete" in second.stderr


def test_down_finds_the_stack_without_local_state(up, down, tmp_path, monkeypatch):
    """`down` on another machine (empty WSCTL_HOME) still finds and deletes the stack."""
    assert up().exit_code == 0
    monkeypatch.setenv("WSCTL_HOME", str(tmp_path / "other-machine"))
    assert down().exit_code == 0
    assert_account_empty()


def test_down_deletes_functions_no_longer_in_wsctl_toml(up, down, service):
    """A function dropped from wsctl.toml after deploying is still deleted by `down`."""
    service.rewrite("[routes]", '[functions.extra]\nhandler = "handler.chat"\n\n[routes]')
    assert up().exit_code == 0
    service.rewrite('[functions.extra]\nhandler = "handler.chat"\n\n', "")
    assert down().exit_code == 0
    assert_account_empty()


def test_down_without_terminal_or_yes_refuses(cli, up, service):
    """Without --yes and without a terminal to ask on, `down` refuses with exit 2."""
    assert up().exit_code == 0
    result = cli("down", "--config", str(service.config))
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert len(_apis()) == 1


def _count_mutating_calls_of_fresh_up(up, call_log) -> int:
    result = up()
    assert result.exit_code == 0, result.stderr
    return len(call_log.mutating)


def test_failure_at_every_step_then_down_leaves_nothing(cli, service, breaker, call_log):
    """For every mutating step k of `up`: fail step k, run `down`, the account is empty."""
    from moto import mock_aws

    def up():
        return cli("up", "--config", str(service.config))

    with mock_aws():
        total = _count_mutating_calls_of_fresh_up(up, call_log)
    assert total > 15
    for k in range(1, total + 1):
        with mock_aws():
            breaker.arm(k)
            failed = up()
            breaker.disarm()
            assert failed.exit_code == 1, (k, failed.stderr)
            assert "injected failure" in failed.stderr
            assert "Traceback" not in failed.stderr
            result = cli("down", "--config", str(service.config), "--yes")
            assert result.exit_code == 0, (k, breaker.failed, result.stderr)
            assert_account_empty()


@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.7, 1.0])
def test_interrupted_up_is_finished_by_the_next_up(up, down, breaker, call_log, fraction):
    """Ctrl-C in the middle of `up` exits 130; the next `up` finishes, converges, and `down`
    removes it all."""
    breaker.arm(int(21 * fraction) or 1, KeyboardInterrupt())  # a fresh up: 21 mutations
    interrupted = up()
    breaker.disarm()
    assert interrupted.exit_code == 130
    assert "run 'wsctl up' to finish" in interrupted.stderr
    assert breaker.failed is not None
    assert up().exit_code == 0
    call_log.clear()
    assert up().exit_code == 0
    assert call_log.mutating == []
    assert len(_apis()) == 1
    assert down().exit_code == 0
    assert_account_empty()


def test_interrupted_up_is_cleaned_by_down(up, down, breaker):
    """`down` after an interrupted `up` removes what the interrupted run created."""
    breaker.arm(9, KeyboardInterrupt())
    assert up().exit_code == 130
    breaker.disarm()
    assert down().exit_code == 0
    assert_account_empty()


def test_foreign_resource_with_the_stack_name_is_refused(up, service, call_log):
    """A table named like the stack's but without wsctl's tag: `up` refuses, changes nothing."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        **resources.table_definition(service.spec())
    )
    call_log.clear()
    result = up()
    assert result.exit_code == 1
    assert "Refusing to adopt DynamoDB table demo-test-connections" in result.stderr
    assert "wsctl:stack" in result.stderr
    assert call_log.mutating == []


def test_down_leaves_foreign_resources_alone(up, down, service):
    """`down` warns about an untagged look-alike role and does not delete it."""
    assert up().exit_code == 0
    iam = boto3.client("iam")
    iam.create_role(
        RoleName="demo-test-stranger",
        AssumeRolePolicyDocument=json.dumps(resources.LAMBDA_TRUST_POLICY),
    )
    iam.create_role(
        RoleName="demo-test-connect-x",
        Path=resources.role_path(service.spec()),
        AssumeRolePolicyDocument=json.dumps(resources.LAMBDA_TRUST_POLICY),
    )
    result = down()
    assert result.exit_code == 0
    assert "leaving IAM role demo-test-connect-x alone" in result.stderr
    roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
    assert roles == {"demo-test-stranger", "demo-test-connect-x"}


def test_token_auth_deploys_the_digest_and_never_prints_the_token(cli, aws, tmp_path):
    """--auth token puts the token's SHA-256 in $connect's environment, not the token."""
    svc = write_service(tmp_path / "tok", auth="token")
    result = cli("up", "--config", str(svc.config))
    assert result.exit_code == 0, result.stderr
    token = state.load_token("demo-test")
    assert token and token not in result.stdout + result.stderr
    lam = boto3.client("lambda", region_name=REGION)
    env = lam.get_function(FunctionName="demo-test-connect")["Configuration"]["Environment"]
    from wsctl.auth import token_digest

    assert env["Variables"]["WSCTL_TOKEN_SHA256"] == token_digest(token)
    assert token not in json.dumps(env)
    chat_env = lam.get_function(FunctionName="demo-test-chat")["Configuration"]["Environment"]
    assert "WSCTL_TOKEN_SHA256" not in chat_env["Variables"]
    status = cli("status", "--config", str(svc.config), "--json")
    assert token not in status.stdout + status.stderr
    rotated = cli("up", "--config", str(svc.config), "--rotate-token")
    assert rotated.exit_code == 0
    assert state.load_token("demo-test") != token


def test_auth_none_warns_that_anyone_can_connect(up):
    """`up --auth none` says plainly that anyone with the URL can connect."""
    result = up("--auth", "none")
    assert result.exit_code == 0
    assert "anyone with the URL can connect" in result.stderr


def test_auth_flag_switches_connect_route_authorization(up, call_log):
    """`--auth iam` sets AWS_IAM on $connect only; back to none updates that one route."""
    assert up("--auth", "iam").exit_code == 0
    gw = boto3.client("apigatewayv2", region_name=REGION)
    api_id = _apis()[0]["ApiId"]
    auth = {r["RouteKey"]: r["AuthorizationType"] for r in gw.get_routes(ApiId=api_id)["Items"]}
    assert auth == {"$connect": "AWS_IAM", "$default": "NONE", "say": "NONE"}
    call_log.clear()
    assert up("--auth", "none").exit_code == 0
    assert call_log.mutating == [("apigatewayv2", "UpdateRoute")]


def test_bundled_service_deploys_and_tears_down(cli, aws, tmp_path, monkeypatch):
    """The bundled service (no wsctl.toml here) goes up and comes down completely."""
    monkeypatch.chdir(tmp_path)
    result = cli("up")
    assert result.exit_code == 0, result.stderr
    assert "wsctl-dev" in result.stdout
    assert cli("down", "--yes").exit_code == 0
    assert_account_empty()


def test_down_keeps_the_token_unless_told_to_forget_it(cli, aws, tmp_path):
    """`down` keeps the stack's token (a later `up` reuses it); --forget-token deletes it."""
    svc = write_service(tmp_path / "tok", auth="token")
    assert cli("up", "--config", str(svc.config)).exit_code == 0
    token = state.load_token("demo-test")
    assert cli("down", "--config", str(svc.config), "--yes").exit_code == 0
    assert state.load_token("demo-test") == token
    assert cli("up", "--config", str(svc.config)).exit_code == 0
    assert state.load_token("demo-test") == token
    forget = cli("down", "--config", str(svc.config), "--yes", "--forget-token")
    assert forget.exit_code == 0
    assert state.load_token("demo-test") is None
    assert_account_empty()


def test_init_then_routes_converge_each_way(cli, aws, tmp_path, call_log):
    """A service from `wsctl init`: a route added in wsctl.toml appears on `up`, disappears
    when removed, and the stack then converges (no mutating call)."""
    root = tmp_path / "mine"
    assert cli("init", str(root)).exit_code == 0
    config = root / "wsctl.toml"
    assert cli("up", "--config", str(config)).exit_code == 0
    original = config.read_text()
    config.write_text(original.replace("[routes]\n", '[routes]\nshout = "broadcast"\n'))
    assert cli("up", "--config", str(config)).exit_code == 0
    gw = boto3.client("apigatewayv2", region_name=REGION)
    (api,) = gw.get_apis()["Items"]
    assert "shout" in {r["RouteKey"] for r in gw.get_routes(ApiId=api["ApiId"])["Items"]}
    config.write_text(original)
    assert cli("up", "--config", str(config)).exit_code == 0
    assert "shout" not in {r["RouteKey"] for r in gw.get_routes(ApiId=api["ApiId"])["Items"]}
    call_log.clear()
    assert cli("up", "--config", str(config)).exit_code == 0
    assert call_log.mutating == []

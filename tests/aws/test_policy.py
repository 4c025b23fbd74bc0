"""`wsctl policy`: the deploying identity's least-privilege policy, checked by deploying with
it enforced (the strict layer refuses every call the policy does not allow)."""

from __future__ import annotations

import json

import pytest

from wsctl.aws import permissions


@pytest.fixture
def policy_of(cli):
    def run(config):
        result = cli("policy", "--config", str(config))
        assert result.exit_code == 0, result.stderr
        return json.loads(result.stdout)

    return run


def test_policy_is_json_scoped_to_the_stack(policy_of, service):
    """The policy is a valid document; no statement allows `*` actions, and every resource
    except the listings names the stack."""
    policy = policy_of(service.config)
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert all("*" not in action for action in statement["Action"])
        resources = statement["Resource"]
        resources = resources if isinstance(resources, list) else [resources]
        if statement["Sid"] not in ("List", "FindRoles"):
            assert all("demo-test" in r or ":apigateway:" in r for r in resources), statement


@pytest.mark.parametrize("auth", ["none", "token", "iam"])
def test_a_full_cycle_needs_nothing_beyond_the_policy(cli, tmp_path, aws, strict, auth):
    """up (twice, then a change), status, logs and down, with the identity allowed exactly
    what `wsctl policy` prints: every call passes and the cycle ends with nothing left."""
    from aws_testing import assert_account_empty, write_service

    service = write_service(tmp_path / "svc", auth=auth)
    config = ("--config", str(service.config))
    printed = cli("policy", *config)
    strict.identity_policy = json.loads(printed.stdout)
    steps = [("up",), ("up",), ("change",), ("up",), ("status",), ("logs",), ("down", "--yes")]
    for args in steps:
        if args == ("change",):
            service.rewrite("memory = 256", "memory = 512")
            service.handler.write_text(service.handler.read_text() + "# edited\n")
            continue
        result = cli(*args, *config)
        assert result.exit_code == 0, (args, result.stderr)
    assert "AccessDenied" not in strict.seen
    strict.identity_policy = None  # the test's own look at the account
    assert_account_empty()


def test_the_layer_enforces_the_policy(cli, service, aws, strict):
    """The check can fail: without iam:PassRole the first `up` stops at CreateFunction."""
    policy = permissions.deployer_policy(service.spec())
    policy["Statement"] = [s for s in policy["Statement"] if s["Sid"] != "PassRoleToLambda"]
    strict.identity_policy = policy
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 1
    assert "AccessDenied on lambda:CreateFunction" in result.stderr
    assert strict.seen["AccessDenied"] >= 1  # each function tried at once


def test_every_operation_the_client_can_call_is_in_the_policy(service):
    """Each operation in wsctl's list maps to actions the printed policy grants."""
    policy = permissions.deployer_policy(service.spec())
    granted = {action for s in policy["Statement"] for action in s["Action"]}
    for (service_name, operation), needs in permissions.OPERATIONS.items():
        assert set(needs.actions) <= granted, (service_name, operation)

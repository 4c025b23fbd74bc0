"""Errors translated where each AWS call is made: not found, AccessDenied naming the action,
rejected credentials, and how they reach the user through the CLI."""

from __future__ import annotations

import re
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from wsctl import naming
from wsctl.aws.awsclient import AwsClient, ResourceDoesNotExist, iam_action, translate
from wsctl.aws.session import open_target
from wsctl.errors import ConfigError, WsctlError


def _error(code: str, message: str = "nope") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Operation")


def test_access_denied_names_the_step_and_the_action():
    """AccessDenied becomes the README-pointing sentence with the IAM action."""
    error = translate(
        _error("AccessDeniedException"),
        "lambda",
        "CreateFunction",
        "Creating Lambda function wsctl-dev-broadcast",
    )
    assert isinstance(error, WsctlError) and not isinstance(error, ConfigError)
    assert str(error) == (
        "Creating Lambda function wsctl-dev-broadcast failed: AccessDenied on "
        "lambda:CreateFunction. Your credentials need that permission; see README, "
        "'IAM permissions for wsctl'."
    )


def test_api_gateway_actions_are_http_verbs():
    """API Gateway's IAM actions are apigateway:POST/GET/PATCH/DELETE."""
    assert iam_action("apigatewayv2", "CreateRoute").startswith("apigateway:POST")
    assert iam_action("apigatewayv2", "DeleteApi").startswith("apigateway:DELETE")
    assert iam_action("iam", "PutRolePolicy") == "iam:PutRolePolicy"


@pytest.mark.parametrize("code", ["ResourceNotFoundException", "NotFoundException", "NoSuchEntity"])
def test_not_found_codes_become_resource_does_not_exist(code):
    """Each service's not-found code is one exception type."""
    assert isinstance(translate(_error(code), "x", "GetThing", "Reading x"), ResourceDoesNotExist)


def test_rejected_credentials_are_a_configuration_error():
    """An unknown or expired key is a configuration error (exit 2), not a failure."""
    error = translate(_error("ExpiredTokenException"), "sts", "GetCallerIdentity", "Checking")
    assert isinstance(error, ConfigError)
    assert "ExpiredTokenException" in str(error)


def test_other_errors_keep_code_and_message():
    """Anything else says the step, the code and AWS's message."""
    error = translate(_error("ValidationException", "bad name"), "x", "CreateThing", "Creating y")
    assert str(error) == "Creating y failed: ValidationException: bad name"


def test_missing_table_reads_as_does_not_exist(aws):
    """Against moto, describing an absent table raises ResourceDoesNotExist."""
    client = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    with pytest.raises(ResourceDoesNotExist):
        client.describe_table("absent")


def test_access_denied_during_up_is_one_line_exit_1(cli, service, aws, install_hook):
    """A step AWS refuses: exit 1, one line naming the function and lambda:CreateFunction."""

    def deny(model, **kwargs):
        if model.name == "CreateFunction":
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}},
                model.name,
            )

    install_hook("before-call", deny)
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    # The functions are created at once: whichever AWS refused first is named.
    assert len(lines) == 1
    assert re.fullmatch(
        r"Error: Creating Lambda function demo-test-(chat|connect) failed: AccessDenied on "
        r"lambda:CreateFunction\. Your credentials need that permission; see README, "
        r"'IAM permissions for wsctl'\.",
        lines[0],
    )
    assert "Traceback" not in result.stderr


def test_count_items_counts_connections_not_the_services_own_records(aws):
    """status's count skips the segmented broadcast's counter records (wsctl# keys), and the
    prefix is the one the service writes (lambda_code/connection_store.py)."""
    code = (Path(__file__).parents[2] / "lambda_code" / "connection_store.py").read_text()
    assert f'RESERVED_PREFIX = "{naming.RESERVED_KEY_PREFIX}"' in code
    dynamodb = boto3.client("dynamodb", region_name="us-east-1")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for key in ("abc=", "def=", f"{naming.RESERVED_KEY_PREFIX}broadcast#1"):
        dynamodb.put_item(TableName="t", Item={"connectionId": {"S": key}})
    client = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    assert client.count_items("t") == 2

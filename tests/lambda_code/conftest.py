"""Fixtures for the service's handlers: lambda_code/ importable as Lambda imports it (zip root
on sys.path), moto's DynamoDB with the connections table, and the fake management API."""

from __future__ import annotations

import sys
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

LAMBDA_CODE = Path(__file__).resolve().parents[2] / "lambda_code"
if str(LAMBDA_CODE) not in sys.path:
    sys.path.insert(0, str(LAMBDA_CODE))

import aws_clients  # noqa: E402
from service_fakes import ENDPOINT, TABLE, FakeGateway  # noqa: E402


@pytest.fixture(scope="session")
def dynamodb_client():
    """One client for the whole run: creating one costs ~0.2 s, and moto hooks every client."""
    return boto3.client(
        "dynamodb",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def aws(monkeypatch, dynamodb_client):
    """moto's DynamoDB with an empty connections table, and the handlers' environment.

    The handlers' cached clients stay warm from test to test, as in a warm Lambda container.
    """
    monkeypatch.setenv("WSCTL_TABLE", TABLE)
    monkeypatch.setenv("WSCTL_STACK", "wsctl-dev")
    monkeypatch.delenv("WSCTL_TOKEN_SHA256", raising=False)
    with mock_aws():
        dynamodb_client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "connectionId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "connectionId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb_client


@pytest.fixture
def gateway(aws):
    """The fake management API, hooked into the client the handlers will use."""
    fake = FakeGateway()
    client = aws_clients.management(ENDPOINT)
    fake.attach(client)
    yield fake
    fake.detach(client)

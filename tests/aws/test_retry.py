"""The one retry helper: backoff with an injected sleep, its predicates, and what happens when
AWS throttles (429 injected under moto with a before-send hook) or IAM has not propagated."""

from __future__ import annotations

import re

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from wsctl.aws import deploy, retry
from wsctl.aws.awsclient import AwsClient
from wsctl.aws.session import botocore_config, open_target
from wsctl.errors import WsctlError


def _client_error(code: str, message: str = "", status: int = 400) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        },
        "Operation",
    )


class FlakyCall:
    """Fails ``failures`` times with ``error``, then returns "ok"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "ok"


def test_retries_until_success_with_growing_delays():
    """Throttled twice: three calls, two sleeps, the second longer on average (capped)."""
    sleeps: list[float] = []
    call = FlakyCall(2, _client_error("TooManyRequestsException", status=429))
    result = retry.call_with_retries(
        call, should_retry=retry.throttling, base_delay=1.0, sleep=sleeps.append
    )
    assert result == "ok" and call.calls == 3
    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0 and 1.0 <= sleeps[1] <= 2.0


def test_gives_up_with_the_cause():
    """After the last attempt the error carries the reason and the attempt count."""
    call = FlakyCall(10, _client_error("ThrottlingException"))
    with pytest.raises(retry.RetriesExhausted) as caught:
        retry.call_with_retries(
            call, should_retry=retry.throttling, attempts=4, sleep=lambda s: None
        )
    assert call.calls == 4
    assert "ThrottlingException" in str(caught.value) and "4 attempts" in str(caught.value)


def test_other_errors_are_not_retried():
    """An error the predicate does not recognise propagates at once."""
    call = FlakyCall(1, _client_error("ValidationException"))
    with pytest.raises(ClientError):
        retry.call_with_retries(call, should_retry=retry.throttling, sleep=lambda s: None)
    assert call.calls == 1


def test_predicates_recognise_their_errors():
    """Throttling by code or HTTP 429; IAM propagation by Lambda's message."""
    assert retry.throttling(_client_error("TooManyRequestsException"))
    assert retry.throttling(_client_error("Whatever", status=429))
    assert retry.throttling(_client_error("ValidationException")) is None
    propagation = _client_error(
        "InvalidParameterValueException",
        "The role defined for the function cannot be assumed by Lambda.",
    )
    assert retry.role_not_yet_assumable(propagation)
    assert (
        retry.role_not_yet_assumable(_client_error("InvalidParameterValueException", "x")) is None
    )
    either = retry.any_of(retry.role_not_yet_assumable, retry.throttling)
    assert either(propagation) and either(_client_error("Throttling"))


class _Body:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs):
        yield self.data


class TooManyRequests:
    """A before-send hook answering the first ``count`` calls of ``operation`` with a 429."""

    def __init__(self, operation: str, count: int) -> None:
        self.operation, self.count, self.sent = operation, count, 0

    def __call__(self, request, event_name, **kwargs):
        if not event_name.endswith(f".{self.operation}"):
            return None
        if self.sent >= self.count:
            return None
        self.sent += 1
        return AWSResponse(
            request.url,
            429,
            {"x-amzn-ErrorType": "TooManyRequestsException", "Content-Type": "application/json"},
            _Body(b'{"__type": "TooManyRequestsException", "message": "Too Many Requests"}'),
        )


@pytest.fixture
def target(aws):
    """A session factory: call it after installing hooks (sessions copy them when made)."""
    return lambda: open_target(profile=None, region="us-east-1", endpoint_url=None)


def test_injected_429s_are_retried_by_the_helper(target, install_hook):
    """Five 429s on DescribeTable with botocore's own attempts off: the helper sleeps five
    times (injected) and then returns the table. (A before-send hook cannot stop moto from
    running the request too, so 429s are injected on reads.)"""
    boto3.client("dynamodb", region_name="us-east-1").create_table(
        TableName="t",
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    hook = TooManyRequests("DescribeTable", 5)
    install_hook("before-send", hook, first=True)
    sleeps: list[float] = []
    client = AwsClient(target(), sleep=sleeps.append, config=botocore_config(total_max_attempts=1))
    assert client.describe_table("t")["TableName"] == "t"
    assert hook.sent == 5 and len(sleeps) == 5


def test_429s_beyond_botocore_retries_are_retried_with_standard_mode(target, install_hook):
    """With botocore's standard mode on (3 attempts), 4 429s are absorbed by botocore then
    the helper: the call still succeeds, with one sleep of ours."""
    hook = TooManyRequests("GetApis", 4)
    install_hook("before-send", hook, first=True)
    sleeps: list[float] = []
    client = AwsClient(target(), sleep=sleeps.append)
    assert client.apis_named("nothing") == []
    assert hook.sent == 4 and len(sleeps) == 1


def test_throttling_that_never_ends_names_the_resource_and_cause(target, install_hook):
    """When retries run out the error says which resource and why, in one line."""
    install_hook("before-send", TooManyRequests("DescribeTable", 100), first=True)
    client = AwsClient(
        target(),
        sleep=lambda s: None,
        config=botocore_config(total_max_attempts=1),
        retry_attempts=3,
    )
    with pytest.raises(WsctlError) as caught:
        client.describe_table("chat-dev-connections")
    message = str(caught.value)
    assert message.startswith("Reading table chat-dev-connections failed")
    assert "throttling" in message and "TooManyRequestsException" in message
    assert "3 attempts" in message and "\n" not in message


def test_role_propagation_on_create_function_is_retried(service, target, install_hook, strict):
    """CreateFunction refused twice because the new role is not assumable yet: `up` retries
    and finishes, sleeping only through the injected sleep."""
    # Only this test's refusals: no other behaviour of the strict layer that sleeps.
    strict.propagation_seconds, strict.settling_reads, strict.conflicts = 0, 0, None
    refusals = {"left": 2}

    def refuse(model, **kwargs):
        if model.name == "CreateFunction" and refusals["left"]:
            refusals["left"] -= 1
            raise _client_error(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )

    install_hook("before-call", refuse)
    sleeps: list[float] = []
    client = AwsClient(target(), sleep=sleeps.append)
    result = deploy.up(client, service.spec())
    assert refusals["left"] == 0 and len(sleeps) == 2
    lam = boto3.client("lambda", region_name="us-east-1")
    assert sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]) == [
        "demo-test-chat",
        "demo-test-connect",
    ]
    assert result.endpoint.url.startswith("wss://")


def test_role_that_never_propagates_names_the_function(
    service, target, install_hook, virtual_clock
):
    """If the role never becomes assumable within IAM's propagation budget (minutes, not a
    count of tries), the error names the function and the cause."""

    def refuse(model, **kwargs):
        if model.name == "CreateFunction":
            raise _client_error(
                "InvalidParameterValueException",
                "The role defined for the function cannot be assumed by Lambda.",
            )

    install_hook("before-call", refuse)
    client = AwsClient(target(), retry_attempts=3)
    with pytest.raises(WsctlError) as caught:
        deploy.up(client, service.spec())
    message = str(caught.value)
    assert message.startswith("Creating Lambda function demo-test-")
    assert "IAM role has not propagated" in message
    # The functions retry at once on one virtual clock, so each sees the others' waits too:
    # how far past the budget it gives up varies, never that it waited the budget out.
    waited = re.search(r"attempts over (\d+) s\)", message)
    assert waited and int(waited.group(1)) >= retry.IAM_PROPAGATION_SECONDS, message
    assert virtual_clock.slept >= retry.IAM_PROPAGATION_SECONDS

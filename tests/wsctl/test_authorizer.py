"""The REQUEST authorizer's rules, as API Gateway applies them on $connect."""

from __future__ import annotations

import pytest

from wsctl.authorizer import (
    authorizer_event,
    decide,
    decide_failure,
    method_arn,
    missing_identity,
)

ARN = method_arn("us-east-1", "123456789012", "abcdef1234", "dev")
CONNECT_EVENT = {
    "headers": {"Host": "h", "Authorization": "Bearer t"},
    "multiValueHeaders": {"Host": ["h"], "Authorization": ["Bearer t"]},
    "queryStringParameters": {"token": "abc", "empty": ""},
    "multiValueQueryStringParameters": {"token": ["abc"], "empty": [""]},
    "requestContext": {"routeKey": "$connect", "eventType": "CONNECT", "connectionId": "c1"},
    "isBase64Encoded": False,
}


def policy(effect: str = "Allow", resource: object = ARN, action: object = "execute-api:Invoke"):
    return {
        "principalId": "user-1",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": action, "Effect": effect, "Resource": resource}],
        },
        "context": {"role": "admin", "level": 3, "beta": True},
    }


def test_method_arn_ends_with_connect():
    """methodArn has no HTTP verb for WebSocket APIs: stage then $connect."""
    assert ARN == "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/dev/$connect"


@pytest.mark.parametrize(
    ("sources", "missing"),
    [
        ([], None),
        (["route.request.header.authorization"], None),  # header names ignore case
        (["route.request.querystring.token"], None),
        (["route.request.header.X-Api-Key"], "route.request.header.X-Api-Key"),
        (["route.request.querystring.TOKEN"], "route.request.querystring.TOKEN"),
        (["route.request.querystring.empty"], "route.request.querystring.empty"),
        (["route.request.querystring.token", "route.request.header.X"], "route.request.header.X"),
    ],
)
def test_missing_identity_sources(sources, missing):
    """The first absent or empty identity source is reported; all present means None."""
    assert missing_identity(sources, CONNECT_EVENT) == missing


def test_the_authorizer_event_is_the_connect_request_with_type_and_method_arn():
    """type REQUEST, methodArn, headers, query string and requestContext of the handshake."""
    event = authorizer_event(CONNECT_EVENT, ARN)
    assert event["type"] == "REQUEST"
    assert event["methodArn"] == ARN
    assert event["headers"]["Authorization"] == "Bearer t"
    assert event["queryStringParameters"]["token"] == "abc"
    assert event["multiValueQueryStringParameters"]["token"] == ["abc"]
    assert event["requestContext"]["routeKey"] == "$connect"
    assert event["stageVariables"] == {}


def test_allow_passes_principal_and_context_for_every_event():
    """Allow on the methodArn: 200, with principalId, the context and integrationLatency."""
    decision = decide(policy(), ARN, latency_ms=12)
    assert decision.allowed
    assert decision.context == {
        "principalId": "user-1",
        "role": "admin",
        "level": 3,
        "beta": True,
        "integrationLatency": 12,
    }


@pytest.mark.parametrize(
    "resource",
    [ARN, "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/*", "*", [ARN, "other"]],
)
def test_allow_matches_resources_with_wildcards(resource):
    """Resource may be exact, wildcarded, or a list, as in IAM."""
    assert decide(policy(resource=resource), ARN).status == 200


@pytest.mark.parametrize(
    "action", ["execute-api:*", "*", ["execute-api:Invoke"], "Execute-API:invoke"]
)
def test_allow_matches_actions_as_iam_does(action):
    """Action may be wildcarded, listed, and is case-insensitive."""
    assert decide(policy(action=action), ARN).status == 200


def test_deny_is_403_and_wins_over_allow():
    """An explicit Deny refuses 403, even beside an Allow."""
    assert decide(policy("Deny"), ARN).status == 403
    answer = policy()
    answer["policyDocument"]["Statement"].append(
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*"}
    )
    assert decide(answer, ARN).status == 403


def test_allow_on_another_resource_is_an_implicit_deny():
    """Allowing some other ARN allows nothing here: 403."""
    other = "arn:aws:execute-api:us-east-1:123456789012:other/dev/$connect"
    assert decide(policy(resource=other), ARN).status == 403
    assert decide(policy(action="execute-api:ManageConnections"), ARN).status == 403


@pytest.mark.parametrize(
    "answer",
    [
        None,
        "Allow",
        {"policyDocument": policy()["policyDocument"]},
        {"principalId": "u"},
        {"principalId": "u", "policyDocument": {"Statement": "Allow"}},
        {**policy(), "context": {"nested": {"a": 1}}},
        {**policy(), "context": {"list": [1]}},
        policy(effect="Maybe"),
    ],
)
def test_malformed_answers_are_500(answer):
    """No principalId, no policy, a nested context, a bad Effect: 500, as API Gateway answers."""
    assert decide(answer, ARN).status == 500


def test_raising_unauthorized_is_401_and_anything_else_500():
    """Exception("Unauthorized") is API Gateway's 401; any other failure is 500."""
    assert decide_failure("Unauthorized").status == 401
    assert decide_failure("unauthorized").status == 500
    assert decide_failure("KeyError: 'x'").status == 500
    assert decide_failure(None).status == 500

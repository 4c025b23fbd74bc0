"""A Lambda REQUEST authorizer on ``$connect``, as API Gateway runs it for WebSocket APIs.

Pure: the authorizer's event, the identity-source check, and what its answer means. Sources:
API Gateway developer guide, "Control access to WebSocket APIs with AWS Lambda REQUEST
authorizers" (the input event, methodArn ending in ``$connect``) and "Output from an API
Gateway Lambda authorizer" (principalId, policyDocument, a context of strings, numbers and
booleans only).

- An identity source that is missing or empty: 401, without calling the function.
- The function raises ``Exception("Unauthorized")``: 401. Any other failure, or an answer that
  is not a valid policy: 500.
- The policy denies ``execute-api:Invoke`` on the methodArn (explicitly, or by allowing
  nothing that matches): 403. Allowed: ``requestContext.authorizer`` holds the principalId,
  the context's keys, and ``integrationLatency``, in every event of the connection.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

HEADER_SOURCE = "route.request.header."
QUERY_SOURCE = "route.request.querystring."
UNAUTHORIZED = "Unauthorized"  # the exception message API Gateway maps to 401


@dataclass(frozen=True)
class Decision:
    """The handshake's fate: ``status`` 200 lets it through with ``context`` for its events."""

    status: int
    context: Mapping[str, Any] = field(default_factory=dict)
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.status == 200


def method_arn(region: str, account: str, api_id: str, stage: str) -> str:
    return f"arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/$connect"


def missing_identity(sources: Iterable[str], connect_event: Mapping[str, Any]) -> str | None:
    """The first identity source absent (or empty) in the $connect request, else None."""
    headers = {k.lower(): v for k, v in (connect_event.get("headers") or {}).items()}
    query = connect_event.get("queryStringParameters") or {}
    for source in sources:
        if source.startswith(HEADER_SOURCE):
            value = headers.get(source[len(HEADER_SOURCE) :].lower())
        elif source.startswith(QUERY_SOURCE):
            value = query.get(source[len(QUERY_SOURCE) :])
        else:
            value = None
        if not value:
            return source
    return None


def authorizer_event(connect_event: Mapping[str, Any], arn: str) -> dict[str, Any]:
    """The REQUEST authorizer's input: the $connect request plus ``type`` and ``methodArn``."""
    event: dict[str, Any] = {
        "type": "REQUEST",
        "methodArn": arn,
        "headers": dict(connect_event.get("headers") or {}),
        "multiValueHeaders": dict(connect_event.get("multiValueHeaders") or {}),
        "stageVariables": {},
        "requestContext": dict(connect_event.get("requestContext") or {}),
    }
    for key in ("queryStringParameters", "multiValueQueryStringParameters"):
        if key in connect_event:
            event[key] = dict(connect_event[key])
    return event


def decide_failure(error_message: str | None) -> Decision:
    """The function raised: ``Unauthorized`` is a 401, anything else a 500."""
    if error_message == UNAUTHORIZED:
        return Decision(401, reason="the authorizer raised Unauthorized")
    return Decision(500, reason="the authorizer failed")


def decide(answer: Any, arn: str, latency_ms: int = 0) -> Decision:
    """What the function's answer means for the handshake on ``arn``."""
    if not isinstance(answer, Mapping):
        return Decision(500, reason="the authorizer's answer is not an object")
    principal = answer.get("principalId")
    document = answer.get("policyDocument")
    if not isinstance(principal, str | int | float) or isinstance(principal, bool):
        return Decision(500, reason="the authorizer's answer has no principalId")
    if not isinstance(document, Mapping):
        return Decision(500, reason="the authorizer's answer has no policyDocument")
    statements = document.get("Statement")
    if isinstance(statements, Mapping):
        statements = [statements]
    if not isinstance(statements, list) or not all(isinstance(s, Mapping) for s in statements):
        return Decision(500, reason="the policyDocument has no Statement list")
    context = answer.get("context") or {}
    if not isinstance(context, Mapping) or not all(
        isinstance(v, str | int | float | bool) for v in context.values()
    ):
        # Documented: a context value cannot be an object or an array.
        return Decision(500, reason="the context holds something other than strings/numbers")
    effects = {_effect(s) for s in statements if _applies(s, arn)}
    if None in effects:
        return Decision(500, reason="a statement's Effect is neither Allow nor Deny")
    if "Deny" in effects or "Allow" not in effects:
        return Decision(403, reason="the policy does not allow execute-api:Invoke on $connect")
    return Decision(
        200,
        context={**context, "principalId": principal, "integrationLatency": latency_ms},
    )


def _effect(statement: Mapping[str, Any]) -> str | None:
    effect = statement.get("Effect")
    return effect if effect in ("Allow", "Deny") else None


def _applies(statement: Mapping[str, Any], arn: str) -> bool:
    actions = _strings(statement.get("Action"))
    resources = _strings(statement.get("Resource"))
    action_matches = any(fnmatch.fnmatchcase("execute-api:invoke", a.lower()) for a in actions if a)
    # IAM wildcards: '*' any run of characters, '?' one; fnmatch's [] sets never occur in ARNs.
    resource_matches = any(fnmatch.fnmatchcase(arn, r.replace("[", "[[]")) for r in resources)
    return action_matches and resource_matches


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str)]
    return []

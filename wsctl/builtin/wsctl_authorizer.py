"""wsctl's built-in REQUEST authorizer for ``auth = "token"`` (DESIGN.md sections 5 and 6).

It runs on $connect before the service's own code, so a ``$connect`` handler that lets
everyone in still cannot admit a client without the token. Standard library only: the same
file is packaged into the stack's zip (handler ``wsctl_authorizer.handler``) and imported by
the emulator. It has no identity sources (optional for REQUEST authorizers), so the token may
come as ``Authorization: Bearer <token>`` or, for browsers, as the query parameter ``token``.

The function holds only the token's SHA-256 (``WSCTL_TOKEN_SHA256``) and compares in constant
time; a missing or wrong token raises ``Exception("Unauthorized")``, which API Gateway answers
with 401. Nothing here logs: the token must never reach a log line.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

TOKEN_DIGEST_ENV = "WSCTL_TOKEN_SHA256"
PRINCIPAL = "wsctl-token"
HANDLER = "wsctl_authorizer.handler"


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return answer(event, os.environ.get(TOKEN_DIGEST_ENV))


def answer(event: dict[str, Any], expected_digest: str | None) -> dict[str, Any]:
    """An Allow policy on the event's methodArn, or ``Exception("Unauthorized")``."""
    if not expected_digest:
        raise Exception("Unauthorized")  # no digest deployed: fail closed
    expected = expected_digest.strip().lower().encode("ascii", "replace")
    # Every candidate is compared, so timing says nothing about which one matched.
    matches = [hmac.compare_digest(_digest(token), expected) for token in _presented(event)]
    if not any(matches):
        raise Exception("Unauthorized")
    return {
        "principalId": PRINCIPAL,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": event.get("methodArn", "*"),
                }
            ],
        },
    }


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest().encode("ascii")


def _presented(event: dict[str, Any]) -> list[str]:
    tokens = []
    headers = event.get("headers") or {}
    for name, value in headers.items():
        if name.lower() == "authorization" and isinstance(value, str):
            scheme, _, token = value.strip().partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                tokens.append(token.strip())
    query = event.get("queryStringParameters") or {}
    if isinstance(query.get("token"), str) and query["token"]:
        tokens.append(query["token"])
    return tokens

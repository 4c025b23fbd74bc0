"""The $connect authorizer of the emulated API: a Lambda REQUEST authorizer (``auth =
"custom"``) or wsctl's built-in token authorizer (``auth = "token"``), run before the
``$connect`` function as API Gateway runs them. The rules are ``wsctl.authorizer``'s."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from typing import Any

from wsctl import authorizer
from wsctl.builtin import wsctl_authorizer
from wsctl.config import ServiceSpec
from wsctl.local import events
from wsctl.local.runtime import ACCOUNT_ID, FunctionFailed, FunctionHost

# What API Gateway's refusals carry (the body of the handshake's HTTP answer).
REFUSAL_BODIES = {
    401: '{"message":"Unauthorized"}',
    403: '{"message":"Forbidden"}',
    500: '{"message":"Internal server error"}',
}


class ConnectAuthorizer:
    """Decides a handshake from its $connect event; None when the stack has no authorizer."""

    def __init__(
        self,
        spec: ServiceSpec,
        functions: FunctionHost,
        *,
        region: str,
        api_id: str,
        token_digest: str | None,
    ) -> None:
        self.functions = functions
        self.region = region
        self.api_id = api_id
        self.token_digest = token_digest
        self.spec = spec

    async def check(self, connect_event: Mapping[str, Any]) -> authorizer.Decision | None:
        spec = self.spec  # one configuration per handshake, even if a reload swaps it
        arn = authorizer.method_arn(self.region, ACCOUNT_ID, self.api_id, spec.stage)
        if spec.auth == "token":
            return self._builtin(connect_event, arn)
        if spec.auth != "custom" or spec.authorizer is None:
            return None
        missing = authorizer.missing_identity(spec.authorizer.identity_sources, connect_event)
        if missing is not None:
            # Documented: a missing identity source is a 401 without calling the function.
            return authorizer.Decision(401, reason=f"no {missing} in the request")
        function = spec.functions[spec.authorizer.function]
        request_id = events.new_id()
        started = time.monotonic()
        try:
            answer = await self.functions.invoke(
                function, authorizer.authorizer_event(connect_event, arn), request_id
            )
        except FunctionFailed as failure:
            return authorizer.decide_failure(failure.error_message)
        latency = int((time.monotonic() - started) * 1000)
        return authorizer.decide(answer, arn, latency)

    def _builtin(self, connect_event: Mapping[str, Any], arn: str) -> authorizer.Decision:
        event = authorizer.authorizer_event(connect_event, arn)
        try:
            answer = wsctl_authorizer.answer(event, self.token_digest)
        except Exception as exc:
            # No reason to print: a wrong token is the client's business, as on AWS.
            return dataclasses.replace(authorizer.decide_failure(str(exc)), reason="")
        return authorizer.decide(answer, arn)


def refusal_body(status: int) -> str:
    return REFUSAL_BODIES.get(status, REFUSAL_BODIES[500])

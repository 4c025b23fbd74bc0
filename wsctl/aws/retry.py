"""One retry helper for AWS control-plane calls, with a predicate and an injectable clock.

botocore's ``standard`` retry mode already retries throttling a few times; this helper covers
what it does not:
- IAM's eventual consistency: a new role is not yet assumable by Lambda. Propagation can take
  minutes, so that retry runs on a time budget, not a count (chalice waits up to 150 s:
  ``chalice/awsclient.py``, ``_call_client_method_with_retries``).
- API Gateway's ``ConflictException`` "Unable to complete operation due to concurrent
  modification. Please try again later." on back-to-back mutations of one API (Terraform's
  provider retries it: hashicorp/terraform-provider-aws#18018, PR #29735).
- Lambda's ``ResourceConflictException`` "The operation cannot be performed at this time. An
  update is in progress for resource" while ``LastUpdateStatus`` is InProgress
  (ansible-collections/community.aws#830; Lambda developer guide, "Lambda function states").
- throttling that outlasts botocore's attempts (API Gateway allows few control-plane calls).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

from wsctl.aws.clock import Clock, SleepOnly, SystemClock

T = TypeVar("T")

THROTTLING_CODES = frozenset(
    {
        "TooManyRequestsException",
        "ThrottlingException",
        "Throttling",
        "ThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


# How long a new role may take to reach Lambda before wsctl gives up (chalice: 150 s).
IAM_PROPAGATION_SECONDS = 180.0


class RetriesExhausted(Exception):
    """The call kept failing for a retryable reason; ``cause`` says which."""

    def __init__(self, cause: str, attempts: int, last: Exception, seconds: float = 0.0) -> None:
        over = f" over {seconds:.0f} s" if seconds >= 1 else ""
        super().__init__(f"{cause} (gave up after {attempts} attempts{over})")
        self.cause = cause
        self.attempts = attempts
        self.last = last


def _code(exc: Exception) -> tuple[str, str, int]:
    if not isinstance(exc, ClientError):
        return "", "", 0
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return error.get("Code", ""), error.get("Message", ""), status


def throttling(exc: Exception) -> str | None:
    """Why to retry a throttled call, or None."""
    code, _, status = _code(exc)
    if code in THROTTLING_CODES or status == 429:
        return f"AWS is throttling requests ({code or 'HTTP 429'})"
    return None


def role_not_yet_assumable(exc: Exception) -> str | None:
    """A role created moments ago has not reached Lambda yet (IAM is eventually consistent)."""
    code, message, _ = _code(exc)
    if code == "InvalidParameterValueException" and "cannot be assumed by Lambda" in message:
        return f"the IAM role has not propagated to Lambda yet ({message})"
    return None


def authorizer_still_referenced(exc: Exception) -> str | None:
    """DeleteAuthorizer right after the route let go of it: API Gateway may still answer
    ConflictException "Cannot delete authorizer ..., is referenced in route" for a moment
    (terraform-provider-aws#37732 retries it)."""
    code, message, _ = _code(exc)
    if code == "ConflictException" and "referenced" in message:
        return f"the route still refers to the authorizer ({message})"
    return None


def concurrent_modification(exc: Exception) -> str | None:
    """API Gateway serialises the mutations of one API; a conflict that does not say the
    thing exists is that, and passes."""
    code, message, _ = _code(exc)
    lowered = message.lower()
    if code == "ConflictException" and "exist" not in lowered:
        return f"API Gateway is busy with another change of this API ({message or code})"
    return None


def update_in_progress(exc: Exception) -> str | None:
    """A Lambda function still applying an earlier update refuses the next one."""
    code, message, _ = _code(exc)
    if code == "ResourceConflictException" and "in progress" in message:
        return f"the function is still being updated ({message})"
    return None


def any_of(*predicates: Callable[[Exception], str | None]) -> Callable[[Exception], str | None]:
    def predicate(exc: Exception) -> str | None:
        for check in predicates:
            reason = check(exc)
            if reason:
                return reason
        return None

    return predicate


def transient(exc: Exception) -> str | None:
    """What every control-plane call retries: throttling and API Gateway's busy conflicts."""
    return throttling(exc) or concurrent_modification(exc)


def call_with_retries(
    call: Callable[[], T],
    *,
    should_retry: Callable[[Exception], str | None],
    attempts: int | None = 8,
    budget_seconds: float | None = None,
    base_delay: float = 0.5,
    max_delay: float | None = None,
    sleep: Callable[[float], None] | None = None,
    clock: Clock | None = None,
) -> T:
    """``call()``, retried with capped exponential backoff and jitter while ``should_retry``
    gives a reason, for at most ``attempts`` tries and (if given) ``budget_seconds`` of the
    clock; then ``RetriesExhausted`` carries the last reason. Waiting out a time (a budget)
    backs off to 2 s at most, so the call passes soon after the cause does; counted tries
    back off to 16 s."""
    if max_delay is None:
        max_delay = 2.0 if budget_seconds is not None else 16.0
    if clock is None:
        clock = SleepOnly(sleep) if sleep is not None else SystemClock()
        sleep = None
    pause = sleep or clock.sleep
    started = clock.now()
    attempt = 0
    while True:
        attempt += 1
        try:
            return call()
        except Exception as exc:
            reason = should_retry(exc)
            if reason is None:
                raise
            elapsed = clock.now() - started
            out_of_tries = attempts is not None and attempt >= attempts
            out_of_time = budget_seconds is not None and elapsed >= budget_seconds
            if out_of_tries or out_of_time:
                raise RetriesExhausted(reason, attempt, exc, elapsed) from exc
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            pause(delay * (0.5 + random.random() / 2))

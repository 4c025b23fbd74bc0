"""One retry helper for AWS control-plane calls, with a predicate and an injectable sleep.

botocore's ``standard`` retry mode already retries throttling a few times; this helper covers
what it does not: IAM's eventual consistency (a new role is not yet assumable by Lambda) and
throttling that outlasts botocore's attempts (API Gateway allows few control-plane calls).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from botocore.exceptions import ClientError

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


class RetriesExhausted(Exception):
    """The call kept failing for a retryable reason; ``cause`` says which."""

    def __init__(self, cause: str, attempts: int, last: Exception) -> None:
        super().__init__(f"{cause} (gave up after {attempts} attempts)")
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


def any_of(*predicates: Callable[[Exception], str | None]) -> Callable[[Exception], str | None]:
    def predicate(exc: Exception) -> str | None:
        for check in predicates:
            reason = check(exc)
            if reason:
                return reason
        return None

    return predicate


def call_with_retries(
    call: Callable[[], T],
    *,
    should_retry: Callable[[Exception], str | None],
    attempts: int = 8,
    base_delay: float = 0.5,
    max_delay: float = 16.0,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried with capped exponential backoff and jitter while ``should_retry``
    gives a reason; after ``attempts`` tries, ``RetriesExhausted`` carries the last reason."""
    for attempt in range(1, attempts + 1):
        try:
            return call()
        except Exception as exc:
            reason = should_retry(exc)
            if reason is None:
                raise
            if attempt == attempts:
                raise RetriesExhausted(reason, attempts, exc) from exc
            delay = min(max_delay, base_delay * 2 ** (attempt - 1))
            sleep(delay * (0.5 + random.random() / 2))
    raise AssertionError("unreachable")  # pragma: no cover

"""The ``$connect`` token check: SHA-256 of what the client presented against the deployed digest.

The function holds only the digest (``WSCTL_TOKEN_SHA256``), never the token, and compares in
constant time. Nothing here logs: the token must never reach a log line.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from api_events import bearer_tokens


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest().encode("ascii")


def is_authorized(event: Any, expected_digest: str | None) -> bool:
    """True when no token is required, or one presented token hashes to ``expected_digest``."""
    if not expected_digest:
        return True
    expected = expected_digest.strip().lower().encode("utf-8", "replace")
    # Every candidate is compared, so timing says nothing about which one matched.
    matches = [hmac.compare_digest(_digest(token), expected) for token in bearer_tokens(event)]
    return any(matches)

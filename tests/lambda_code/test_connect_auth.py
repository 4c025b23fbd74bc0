"""The $connect token check against the deployed SHA-256 digest."""

from __future__ import annotations

import hashlib

import pytest
from connect_auth import is_authorized
from service_fakes import connect_event

TOKEN = "tok-Z9"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()


def test_without_a_digest_everyone_is_accepted():
    """No token configured: connect accepts all clients."""
    assert is_authorized(connect_event("abc="), None)
    assert is_authorized(connect_event("abc="), "")


@pytest.mark.parametrize(
    ("headers", "query"),
    [({"Authorization": f"Bearer {TOKEN}"}, None), (None, {"token": TOKEN})],
)
def test_the_right_token_is_accepted(headers, query):
    """The token by header or by query matches its digest."""
    assert is_authorized(connect_event("abc=", headers, query), DIGEST)


def test_digest_comparison_ignores_case_and_whitespace_of_the_setting():
    """An upper-case digest or a trailing newline in the variable still matches."""
    event = connect_event("abc=", None, {"token": TOKEN})
    assert is_authorized(event, DIGEST.upper() + "\n")


@pytest.mark.parametrize("digest", [DIGEST[:-1] + "0", "not-a-digest", "é"])
def test_a_mismatched_or_malformed_digest_refuses(digest):
    """Any other digest, even a malformed one, refuses: the check fails closed."""
    assert not is_authorized(connect_event("abc=", None, {"token": TOKEN}), digest)


def test_presenting_the_digest_itself_is_refused():
    """Someone who read the digest cannot use it as the token."""
    assert not is_authorized(connect_event("abc=", None, {"token": DIGEST}), DIGEST)

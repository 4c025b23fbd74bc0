"""The stack's connect token: generated once, kept owner-only, deployed only as a digest."""

from __future__ import annotations

import hashlib
import secrets

from wsctl import state


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What the $connect function holds: a SHA-256 of 256 random bits cannot be reversed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def ensure_token(stack: str, *, rotate: bool = False) -> str:
    """The stack's token, created on first use; kept across `up` runs unless ``rotate``."""
    token = None if rotate else state.load_token(stack)
    if token is None:
        token = new_token()
        state.save_token(stack, token)
    return token

"""The stack's connect token: generated once, kept owner-only, deployed only as a digest."""

from __future__ import annotations

import hashlib
import secrets
from urllib.parse import unquote, urlsplit, urlunsplit

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


# Query parameters that carry a secret: the connect token (for browsers) and SigV4's session
# token and signature (presigned URLs).
SECRET_PARAMETERS = frozenset({"token", "x-amz-security-token", "x-amz-signature"})
REDACTED = "REDACTED"


def redact_url(url: str) -> str:
    """``url`` fit to print: secret query values and a password in it replaced by REDACTED."""
    parts = urlsplit(url)
    pairs = []
    for pair in parts.query.split("&") if parts.query else []:
        key, sep, _ = pair.partition("=")
        secret = sep and unquote(key).lower() in SECRET_PARAMETERS
        pairs.append(f"{key}={REDACTED}" if secret else pair)
    netloc = parts.netloc
    if parts.password is not None:
        netloc = f"{parts.username}:{REDACTED}@" + netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "&".join(pairs), parts.fragment))

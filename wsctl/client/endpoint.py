"""Which URL a client command talks to: the one given, else the current stack's endpoint (the
running local emulator first, then the deployed stack), and whether the stack's token goes
with it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from wsctl import state
from wsctl.errors import WsctlError

Source = Literal["given", "local", "deployed"]


@dataclass(frozen=True)
class Endpoint:
    """A WebSocket URL and what wsctl knows about it."""

    url: str
    source: Source
    stack: str | None = None  # the stack the URL belongs to, when it is one of ours
    auth: str | None = None  # the stack's auth mode (none, token, iam), when recorded
    token: str | None = field(default=None, repr=False)
    region: str | None = None  # a deployed stack's region (what a SigV4 signature needs)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _same_url(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def resolve_endpoint(url: str | None, stack: str, *, hint: str = "give a URL") -> Endpoint:
    """The endpoint for ``url`` or, without one, for ``stack``.

    The stack's token goes only to the stack's own endpoint: a URL given by hand gets it only
    when it is that endpoint, so a token is never sent to some other server; the local
    emulator gets the local token, never the deployed stack's.
    """
    local = state.load_local(stack)
    local_token = state.load_token(state.local_token_key(stack)) if local is not None else None
    deployed = state.load_deployed(stack) or {}
    deployed_url = _text(deployed.get("url"))
    deployed_auth = _text(deployed.get("auth"))
    deployed_region = _text(deployed.get("region"))

    if url is None:
        if local is not None:
            return Endpoint(local.url, "local", stack, local.auth, local_token, local.region)
        if deployed_url is not None:
            return Endpoint(
                deployed_url,
                "deployed",
                stack,
                deployed_auth,
                state.load_token(stack),
                deployed_region,
            )
        raise WsctlError(
            f"No running local service or deployed stack for {stack}: run "
            f"`wsctl up --local` or `wsctl up`, or {hint}"
        )

    if local is not None and _same_url(url, local.url):
        return Endpoint(url, "given", stack, local.auth, local_token, local.region)
    if deployed_url is not None and _same_url(url, deployed_url):
        return Endpoint(
            url, "given", stack, deployed_auth, state.load_token(stack), deployed_region
        )
    return Endpoint(url, "given")

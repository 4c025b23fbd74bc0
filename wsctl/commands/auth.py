"""``wsctl token``: the one command that shows a stack's connect token, and only when asked.

The token itself is created by ``wsctl up --auth token`` (``wsctl.auth.ensure_token``) and
rotated by ``wsctl up --rotate-token``, which also redeploys its digest; rotating it here alone
would leave the service expecting the old one.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit, urlunsplit

import typer

from wsctl import state
from wsctl.console import out
from wsctl.errors import WsctlError
from wsctl.options import ConfigOpt, NameOpt, StageOpt, resolve_spec


def url_with_token(url: str, token: str) -> str:
    """``url`` with ``token=`` in its query: what browsers use, as they cannot set headers."""
    parts = urlsplit(url)
    query = "&".join(part for part in (parts.query, urlencode({"token": token})) if part)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def _endpoint(stack: str) -> str:
    local = state.load_local(stack)
    if local is not None:
        return local.url
    deployed = state.load_deployed(stack) or {}
    url = deployed.get("url")
    if not isinstance(url, str):
        raise WsctlError(
            f"no endpoint known for stack {stack}: start it with `wsctl up --local` or deploy "
            "it with `wsctl up`, or drop --url and add ?token= to the URL yourself"
        )
    return url


def token(
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
    url: Annotated[
        bool,
        typer.Option(
            "--url", help="Print the endpoint with ?token= appended, for browsers instead."
        ),
    ] = False,
) -> None:
    """Print the stack's connect token (from `up --auth token`). Treat the output as a secret."""
    spec = resolve_spec(config, name=name, stage=stage)
    secret = state.load_token(spec.stack)
    if secret is None:
        raise WsctlError(
            f"stack {spec.stack} has no connect token on this machine: create one with "
            "`wsctl up --auth token` (or `wsctl up --local --auth token`)"
        )
    text = url_with_token(_endpoint(spec.stack), secret) if url else secret
    out.print(text, markup=False, highlight=False, emoji=False)


def register(app: typer.Typer) -> None:
    app.command("token")(token)

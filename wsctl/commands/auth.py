"""``wsctl token``: the one command that shows a stack's connect token, and only when asked.

The token itself is created by ``wsctl up --auth token`` (``wsctl.auth.ensure_token``) and
rotated by ``wsctl up --rotate-token``, which also redeploys its digest; rotating it here alone
would leave the service expecting the old one. ``--browser-url`` prints what a browser (which
cannot set handshake headers) opens: the URL with ``?token=``, or for an iam stack a presigned
URL.
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


def token(
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
    browser_url: Annotated[
        bool,
        typer.Option(
            "--browser-url",
            help="Print the endpoint a browser can open instead: with ?token= appended, or "
            "for an --auth iam stack presigned with your AWS credentials.",
        ),
    ] = False,
    expires: Annotated[
        int,
        typer.Option(
            "--expires", min=1, max=604800, help="With --browser-url on an iam stack: seconds."
        ),
    ] = 300,
) -> None:
    """Print the stack's connect token (from `up --auth token`). Treat the output as a secret."""
    from wsctl.client.endpoint import resolve_endpoint

    spec = resolve_spec(config, name=name, stage=stage)
    endpoint = (
        resolve_endpoint(None, spec.stack, hint="drop --browser-url") if browser_url else None
    )
    if endpoint is not None and endpoint.auth == "iam":
        from wsctl import sigv4

        presigned = sigv4.presign_as_caller(endpoint.url, endpoint.region, expires)
        out.print(presigned, markup=False, highlight=False, emoji=False)
        return
    secret = state.load_token(spec.stack)
    if secret is None:
        raise WsctlError(
            f"stack {spec.stack} has no connect token on this machine: create one with "
            "`wsctl up --auth token` (or `wsctl up --local --auth token`)"
        )
    text = url_with_token(endpoint.url, secret) if endpoint is not None else secret
    out.print(text, markup=False, highlight=False, emoji=False)


def register(app: typer.Typer) -> None:
    app.command("token")(token)

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
    local: Annotated[
        bool,
        typer.Option("--local", help="The token of `up --local --auth token` (kept apart)."),
    ] = False,
    expires: Annotated[
        int,
        typer.Option(
            "--expires", min=1, max=604800, help="With --browser-url on an iam stack: seconds."
        ),
    ] = 300,
) -> None:
    """Print the stack's connect token (from `up --auth token`). Treat the output as a secret.

    Examples:

    \b
      wscat -c "$URL" -H "Authorization: Bearer $(wsctl token)"   # another client
      wsctl token --local --browser-url       # open it in a browser
    """
    spec = resolve_spec(config, name=name, stage=stage)
    if browser_url:
        _print_browser_url(spec.stack, local, expires)
        return
    key = state.local_token_key(spec.stack) if local else spec.stack
    secret = state.load_token(key)
    if secret is None:
        command = "wsctl up --local --auth token" if local else "wsctl up --auth token"
        raise WsctlError(
            f"stack {spec.stack} has no {'local ' if local else ''}connect token on this "
            f"machine: create one with `{command}`"
        )
    out.print(secret, markup=False, highlight=False, emoji=False)


def _print_browser_url(stack: str, local: bool, expires: int) -> None:
    """The URL a browser opens: the running local service's (or, by default, the stack's
    current endpoint) with its own token, or presigned for an iam stack."""
    from wsctl.client.endpoint import resolve_endpoint

    endpoint = resolve_endpoint(None, stack, hint="drop --browser-url")
    if local and endpoint.source != "local":
        raise WsctlError(f"stack {stack} is not running on this machine: run `wsctl up --local`")
    if endpoint.auth == "iam":
        from wsctl import sigv4

        presigned = sigv4.presign_as_caller(endpoint.url, endpoint.region, expires)
        out.print(presigned, markup=False, highlight=False, emoji=False)
        return
    if endpoint.token is None:
        raise WsctlError(
            f"stack {stack} has no connect token for {endpoint.source} use on this machine: "
            "create one with `wsctl up --auth token` (or `wsctl up --local --auth token`)"
        )
    out.print(
        url_with_token(endpoint.url, endpoint.token), markup=False, highlight=False, emoji=False
    )


def register(app: typer.Typer) -> None:
    app.command("token")(token)

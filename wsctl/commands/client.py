"""The client commands: ``connect`` (a wscat replacement), ``send``, ``broadcast``,
``connections``. They never import boto3; prompt_toolkit loads only for an interactive session.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from wsctl import state
from wsctl.console import err, out
from wsctl.errors import ExitCode
from wsctl.options import (
    ConfigOpt,
    JsonOpt,
    NameOpt,
    StageOpt,
    UrlAliasOpt,
    UrlArg,
    pick_url,
    resolve_spec,
)

if TYPE_CHECKING:  # the client modules load inside the commands, keeping other commands light
    from wsctl.client.endpoint import Endpoint
    from wsctl.client.handshake import ConnectOptions

# wscat spells the URL option -c/--connect: connect accepts it beside --url.
ConnectUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--url",
        "-c",
        "--connect",
        metavar="URL",
        help="The URL, as an option (wscat's -c).",
        show_default=False,
    ),
]
HeaderOpt = Annotated[
    list[str] | None,
    typer.Option("-H", "--header", help="Extra handshake header 'Name: value' (repeatable)."),
]
SubprotocolOpt = Annotated[
    list[str] | None,
    typer.Option("-s", "--subprotocol", help="Subprotocol to offer (repeatable)."),
]
OriginOpt = Annotated[str | None, typer.Option("-o", "--origin", help="Origin header.")]
AuthOpt = Annotated[
    str | None,
    typer.Option("--auth", metavar="USER:PASS", help="HTTP basic authentication."),
]
NoCheckOpt = Annotated[
    bool, typer.Option("-n", "--no-check", help="Do not check the server's TLS certificate.")
]
CaOpt = Annotated[
    Path | None,
    typer.Option("--ca", help="Trust this CA certificate (PEM) for wss://.", show_default=False),
]
TimeoutOpt = Annotated[
    float,
    typer.Option("--timeout", min=0.1, help="Seconds to wait for the connection (and replies)."),
]
WaitOpt = Annotated[
    float,
    typer.Option(
        "-w", "--wait", min=0.0, help="Seconds to keep printing replies after the last message."
    ),
]
ShowPingPongOpt = Annotated[
    bool, typer.Option("-P", "--show-ping-pong", help="Show pings and pongs received.")
]


def _endpoint(
    urls: tuple[str | None, str | None], config: Path | None, name: str | None, stage: str | None
) -> Endpoint:
    """The endpoint of the URL given (positional or --url), else of the current stack."""
    from wsctl.client.endpoint import resolve_endpoint

    url = pick_url(*urls)
    spec = resolve_spec(config, name=name, stage=stage)
    return resolve_endpoint(url, spec.stack, hint="give a URL")


def _options(
    header: list[str] | None,
    subprotocol: list[str] | None,
    origin: str | None,
    auth: str | None,
    ca: Path | None,
    no_check: bool,
    timeout: float,
) -> ConnectOptions:
    from wsctl.client.handshake import ConnectOptions, parse_header

    return ConnectOptions(
        headers=tuple(parse_header(h) for h in header or ()),
        subprotocols=tuple(subprotocol or ()),
        origin=origin,
        basic_auth=auth,
        ca_file=ca,
        no_check=no_check,
        open_timeout=timeout,
    )


def _finish(code: int) -> None:
    if code != ExitCode.OK:
        raise typer.Exit(code)


def _is_terminal(stream: TextIO | None) -> bool:
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def connect(
    url: UrlArg = None,
    url_option: ConnectUrlOpt = None,
    header: HeaderOpt = None,
    subprotocol: SubprotocolOpt = None,
    execute: Annotated[
        list[str] | None,
        typer.Option(
            "-x",
            "--execute",
            help="Send this message, then exit after --wait (repeatable; stdin is not read).",
        ),
    ] = None,
    wait: WaitOpt = 1.0,
    show_ping_pong: ShowPingPongOpt = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours.")] = False,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    json_output: JsonOpt = False,
    timeout: TimeoutOpt = 10.0,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Talk to a WebSocket endpoint: interactive in a terminal, one message per line if piped.

    In a terminal, /broadcast, /send, /list, /whoami, /ping, /close and /quit speak the
    service's protocol; /help lists them.
    """
    from wsctl.client import script

    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(header, subprotocol, origin, auth, ca, no_check, timeout)
    if not execute and not json_output and _is_terminal(sys.stdin) and _is_terminal(sys.stdout):
        from rich.console import Console

        from wsctl.client.interactive import run_interactive

        console = Console(
            highlight=False, soft_wrap=True, no_color=no_color or bool(os.environ.get("NO_COLOR"))
        )
        history = state.home() / "history"
        history.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _finish(
            asyncio.run(
                run_interactive(
                    endpoint,
                    options,
                    console=console,
                    history=history,
                    show_ping_pong=show_ping_pong,
                )
            )
        )
        return

    async def piped() -> int:
        if execute:
            lines = script.queue_of(execute)
        else:
            lines = asyncio.Queue()
            if sys.stdin is None:
                lines.put_nowait(None)
            else:
                if hasattr(sys.stdin, "reconfigure"):
                    sys.stdin.reconfigure(errors="replace")
                script.feed_from_stream(sys.stdin, asyncio.get_running_loop(), lines)
        return await script.run_script(
            endpoint,
            options,
            lines,
            wait=wait,
            printer=script.LinePrinter(out, json_output),
            err=err,
            show_ping_pong=show_ping_pong,
        )

    _finish(asyncio.run(piped()))


def send(
    message: Annotated[str, typer.Argument(help="The message, sent as one text frame.")],
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    wait: WaitOpt = 1.0,
    json_output: JsonOpt = False,
    header: HeaderOpt = None,
    subprotocol: SubprotocolOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    show_ping_pong: ShowPingPongOpt = False,
    timeout: TimeoutOpt = 10.0,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Send one message and print the replies that arrive within --wait seconds."""
    from wsctl.client import script
    from wsctl.client.protocol import check_size

    check_size(message)
    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(header, subprotocol, origin, auth, ca, no_check, timeout)

    async def one() -> int:
        return await script.run_script(
            endpoint,
            options,
            script.queue_of([message]),
            wait=wait,
            printer=script.LinePrinter(out, json_output),
            err=err,
            show_ping_pong=show_ping_pong,
        )

    _finish(asyncio.run(one()))


def broadcast(
    message: Annotated[
        str, typer.Argument(help="What to send everyone: JSON if it parses, else text.")
    ],
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    json_output: JsonOpt = False,
    header: HeaderOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    timeout: TimeoutOpt = 10.0,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Broadcast a message through the service; prints how many got it, were gone or failed."""
    import json

    from wsctl.client import protocol, replies
    from wsctl.client.exchange import exchange

    frame = protocol.broadcast_frame(protocol.message_value(message))
    protocol.check_size(frame)
    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(header, None, origin, auth, ca, no_check, timeout)
    answers = asyncio.run(exchange(endpoint, options, [frame], {"ack"}, timeout))
    ack = answers["ack"]
    if json_output:
        out.out(json.dumps(replies.ack_counts(ack)), highlight=False)
    else:
        out.print(replies.ack_summary(ack), markup=False)


def connections(
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    json_output: JsonOpt = False,
    header: HeaderOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    timeout: TimeoutOpt = 10.0,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """The live connections: id, connected since, source IP, user agent; * marks yours."""
    import json

    from wsctl.client import protocol, replies
    from wsctl.client.exchange import exchange
    from wsctl.client.render import utc_now

    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(header, None, origin, auth, ca, no_check, timeout)
    frames = [protocol.list_frame(), protocol.whoami_frame()]
    answers = asyncio.run(exchange(endpoint, options, frames, {"connections", "whoami"}, timeout))
    listing, me = answers["connections"], answers["whoami"].get("connectionId")
    if json_output:
        out.out(json.dumps(replies.connections_facts(listing, me)), highlight=False)
    else:
        out.print(replies.connections_table(listing, me, utc_now()))


def register(app: typer.Typer) -> None:
    app.command("connect")(connect)
    app.command("send")(send)
    app.command("broadcast")(broadcast)
    app.command("connections")(connections)

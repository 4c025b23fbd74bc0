"""The client commands: ``connect`` (a wscat replacement), ``send``, ``broadcast``,
``connections``. They never import boto3; prompt_toolkit loads only for an interactive session.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from wsctl import console, state
from wsctl.errors import ConfigError, ExitCode
from wsctl.options import (
    ConfigOpt,
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
    typer.Option(
        "-H",
        "--header",
        metavar="'NAME: VALUE'",
        help="Extra handshake header (repeatable).",
    ),
]
SubprotocolOpt = Annotated[
    list[str] | None,
    typer.Option(
        "-s",
        "--subprotocol",
        metavar="NAME",
        help="Subprotocol to offer (repeatable).",
    ),
]
OriginOpt = Annotated[
    str | None,
    typer.Option("-o", "--origin", metavar="ORIGIN", help="Origin header."),
]
HostOpt = Annotated[
    str | None,
    typer.Option(
        "--host",
        metavar="HOST",
        help="Host header, in place of the URL's.",
    ),
]
AuthOpt = Annotated[
    str | None,
    typer.Option(
        "--auth",
        metavar="USER:PASS",
        help="HTTP basic authentication (wins over -H Authorization, as in wscat).",
    ),
]
NoCheckOpt = Annotated[
    bool,
    typer.Option("-n", "--no-check", help="Do not check the server's TLS certificate."),
]
CaOpt = Annotated[
    Path | None,
    typer.Option(
        "--ca",
        metavar="FILE",
        help="Trust this CA certificate (PEM) for wss://.",
        show_default=False,
    ),
]
CertOpt = Annotated[
    Path | None,
    typer.Option(
        "--cert",
        metavar="FILE",
        help="Client certificate (PEM) for servers that ask for one.",
        show_default=False,
    ),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        metavar="FILE",
        help="The client certificate's private key (PEM), if not in --cert.",
        show_default=False,
    ),
]
PassphraseOpt = Annotated[
    str | None,
    typer.Option(
        "--passphrase",
        metavar="TEXT",
        envvar="WSCTL_PASSPHRASE",
        help="The private key's passphrase.",
        show_default=False,
        show_envvar=True,
    ),
]
ProxyOpt = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        metavar="URL",
        help="Connect through this proxy (http://, https://, socks5://); default: "
        "HTTPS_PROXY/ALL_PROXY from the environment.",
        show_default=False,
    ),
]
LocationOpt = Annotated[bool, typer.Option("-L", "--location", help="Follow redirects.")]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.1,
        metavar="SECONDS",
        help="Seconds to wait for the connection (and replies).",
    ),
]
WaitOpt = Annotated[
    float,
    typer.Option(
        "-w",
        "--wait",
        min=-1.0,
        metavar="SECONDS",
        help="Seconds to keep printing replies after the last message; -1 holds the "
        "connection open until the server closes it (or Ctrl-C).",
    ),
]
ShowPingPongOpt = Annotated[
    bool,
    typer.Option("-P", "--show-ping-pong", help="Show pings and pongs received."),
]
ClientJsonOpt = Annotated[
    bool,
    typer.Option("--json", help="Machine-readable output on stdout, nothing else."),
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
    header: list[str] | None = None,
    subprotocol: list[str] | None = None,
    origin: str | None = None,
    auth: str | None = None,
    ca: Path | None = None,
    no_check: bool = False,
    timeout: float = 10.0,
    *,
    cert: Path | None = None,
    key: Path | None = None,
    passphrase: str | None = None,
    proxy: str | None = None,
    location: bool = False,
    host: str | None = None,
) -> ConnectOptions:
    from wsctl.client.handshake import ConnectOptions, check_options, parse_header

    options = ConnectOptions(
        headers=tuple(parse_header(h) for h in header or ()),
        subprotocols=tuple(subprotocol or ()),
        origin=origin,
        basic_auth=auth,
        ca_file=ca,
        no_check=no_check,
        open_timeout=timeout,
        cert_file=cert,
        key_file=key,
        passphrase=passphrase,
        proxy=proxy,
        follow_redirects=location,
        host=host,
    )
    check_options(options)
    return options


def _finish(code: int) -> None:
    if code != ExitCode.OK:
        raise typer.Exit(code)


def _is_terminal(stream: TextIO | None) -> bool:
    return stream is not None and hasattr(stream, "isatty") and stream.isatty()


def _hold(wait: float) -> float | None:
    """``-w``: seconds, or None (hold open) for a negative value such as wscat-style -1."""
    return None if wait < 0 else wait


def connect(
    url: UrlArg = None,
    url_option: ConnectUrlOpt = None,
    execute: Annotated[
        list[str] | None,
        typer.Option(
            "-x",
            "--execute",
            metavar="MESSAGE",
            help="Send this message, then exit after --wait (repeatable; stdin is not read).",
        ),
    ] = None,
    wait: WaitOpt = 1.0,
    header: HeaderOpt = None,
    subprotocol: SubprotocolOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    host: HostOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
    passphrase: PassphraseOpt = None,
    proxy: ProxyOpt = None,
    location: LocationOpt = False,
    timeout: TimeoutOpt = 10.0,
    show_ping_pong: ShowPingPongOpt = False,
    pretty: Annotated[
        bool,
        typer.Option("--pretty", help="Indent JSON frames over several lines."),
    ] = False,
    no_color: Annotated[bool, typer.Option("--no-color", help="No colours.")] = False,
    json_output: ClientJsonOpt = False,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Talk to a WebSocket endpoint: interactive in a terminal, one message per line if piped.

    In a terminal, /broadcast, /send, /list, /whoami, /ping, /pong, /close and /quit speak
    the service's protocol; /help lists them. Piped, each line is one message (blank lines
    are skipped) and each frame received is one line of output.

    Examples:

    \b
      wsctl connect                              # the stack's running local service
      wsctl connect wss://abc.execute-api.eu-west-1.amazonaws.com/dev
      wsctl connect -c 127.0.0.1:8765/dev -x '{"action":"whoami"}'
      printf '%s\\n' hello there | wsctl connect ws://127.0.0.1:8765/dev --json
    """
    from wsctl.client import script

    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(
        header, subprotocol, origin, auth, ca, no_check, timeout,
        cert=cert, key=key, passphrase=passphrase, proxy=proxy, location=location, host=host,
    )  # fmt: skip
    if not execute and not json_output and _is_terminal(sys.stdin) and _is_terminal(sys.stdout):
        from wsctl.client.interactive import run_interactive

        _finish(
            asyncio.run(
                run_interactive(
                    endpoint,
                    options,
                    console=console.make_console(no_color=no_color),
                    history=state.history_file(),
                    show_ping_pong=show_ping_pong,
                    pretty=pretty,
                )
            )
        )
        return

    async def piped() -> int:
        if execute:
            lines = script.queue_of(execute)
        else:
            lines = asyncio.Queue()
            stdin = getattr(sys.stdin, "buffer", None)
            if stdin is None:
                lines.put_nowait(None)
            else:
                script.feed_from_stream(stdin, asyncio.get_running_loop(), lines)
        return await script.run_script(
            endpoint,
            options,
            lines,
            wait=_hold(wait),
            printer=script.LinePrinter(json_output),
            show_ping_pong=show_ping_pong,
        )

    _finish(asyncio.run(piped()))


def _message_from_stdin() -> str:
    """``send -``: the whole of stdin is the message, less one final line ending."""
    stdin = getattr(sys.stdin, "buffer", None)
    if stdin is None:
        raise ConfigError("send -: there is no standard input to read the message from")
    try:
        text = stdin.read().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"send -: standard input is not valid UTF-8 (byte {exc.start}); not sent"
        ) from None
    return text.removesuffix("\n").removesuffix("\r")


def send(
    message: Annotated[
        str,
        typer.Argument(
            metavar="MESSAGE",
            help="The message, sent as one text frame; - reads it from standard input.",
            show_default=False,
        ),
    ],
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    wait: Annotated[
        float,
        typer.Option(
            "-w",
            "--wait",
            min=-1.0,
            metavar="SECONDS",
            help="Longest wait for replies; stops earlier at the action's final reply (ack, "
            "connections, whoami or error); -1 waits until the server closes.",
        ),
    ] = 5.0,
    header: HeaderOpt = None,
    subprotocol: SubprotocolOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    host: HostOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
    passphrase: PassphraseOpt = None,
    proxy: ProxyOpt = None,
    location: LocationOpt = False,
    timeout: TimeoutOpt = 10.0,
    show_ping_pong: ShowPingPongOpt = False,
    json_output: ClientJsonOpt = False,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Send one message and print the replies, until the action's final reply or --wait.

    Exit code 1 when the service answers with an error.

    Examples:

    \b
      wsctl send '{"action":"whoami"}'
      wsctl send '{"action":"broadcast","message":"hi"}' ws://127.0.0.1:8765/dev --json
      jq -c . request.json | wsctl send -
    """
    from wsctl.client import protocol, script

    if message == "-":
        message = _message_from_stdin()
    protocol.check_size(message)
    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(
        header, subprotocol, origin, auth, ca, no_check, timeout,
        cert=cert, key=key, passphrase=passphrase, proxy=proxy, location=location, host=host,
    )  # fmt: skip
    expected = protocol.final_reply_type(message)

    def final(frame: str | bytes) -> bool:
        reply = protocol.json_object(frame)
        if reply is None:
            return False
        return (expected is not None and reply.get("type") == expected) or _failed(reply)

    def failure(frame: str | bytes) -> bool:
        reply = protocol.json_object(frame)
        return reply is not None and _failed(reply)

    async def one() -> int:
        return await script.run_script(
            endpoint,
            options,
            script.queue_of([message]),
            wait=_hold(wait),
            printer=script.LinePrinter(json_output),
            show_ping_pong=show_ping_pong,
            final=final,
            failure=failure,
        )

    _finish(asyncio.run(one()))


def _failed(reply: dict) -> bool:
    from wsctl.client.replies import reply_problem

    return reply_problem(reply) is not None


def broadcast(
    message: Annotated[
        str,
        typer.Argument(
            metavar="MESSAGE",
            help="What to send everyone: JSON if it parses, else text.",
            show_default=False,
        ),
    ],
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    header: HeaderOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    host: HostOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
    passphrase: PassphraseOpt = None,
    proxy: ProxyOpt = None,
    location: LocationOpt = False,
    timeout: TimeoutOpt = 10.0,
    json_output: ClientJsonOpt = False,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Broadcast a message through the service; print how many got it, were gone or failed.

    The service delivers to every connection, this command's own included: the summary says
    how many of the deliveries were to others.

    Examples:

    \b
      wsctl broadcast '"hello"'
      wsctl broadcast '{"text":"deploy done"}' wss://abc.execute-api.eu-west-1.amazonaws.com/dev
    """
    import json

    from wsctl.client import protocol, replies
    from wsctl.client.exchange import exchange

    value = protocol.message_value(message)
    frame = protocol.broadcast_frame(value)
    protocol.check_size(frame)
    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(
        header, None, origin, auth, ca, no_check, timeout,
        cert=cert, key=key, passphrase=passphrase, proxy=proxy, location=location, host=host,
    )  # fmt: skip
    seen: list[dict] = []
    answers = asyncio.run(exchange(endpoint, options, [frame], {"ack"}, timeout, seen=seen))
    ack = answers["ack"]
    echoed = replies.sender_included(seen, value)
    if json_output:
        console.write_line(json.dumps(replies.ack_facts(ack, echoed)))
    else:
        console.write_line(replies.ack_summary(ack, echoed))


def connections(
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    header: HeaderOpt = None,
    auth: AuthOpt = None,
    origin: OriginOpt = None,
    host: HostOpt = None,
    no_check: NoCheckOpt = False,
    ca: CaOpt = None,
    cert: CertOpt = None,
    key: KeyOpt = None,
    passphrase: PassphraseOpt = None,
    proxy: ProxyOpt = None,
    location: LocationOpt = False,
    timeout: TimeoutOpt = 10.0,
    json_output: ClientJsonOpt = False,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """The live connections: id, connected since, source IP, user agent; * marks this one.

    Examples:

    \b
      wsctl connections
      wsctl connections ws://127.0.0.1:8765/dev --json
    """
    import json

    from wsctl.client import protocol, replies
    from wsctl.client.exchange import exchange
    from wsctl.client.render import utc_now

    endpoint = _endpoint((url, url_option), config, name, stage)
    options = _options(
        header, None, origin, auth, ca, no_check, timeout,
        cert=cert, key=key, passphrase=passphrase, proxy=proxy, location=location, host=host,
    )  # fmt: skip
    frames = [protocol.list_frame(), protocol.whoami_frame()]
    answers = asyncio.run(exchange(endpoint, options, frames, {"connections", "whoami"}, timeout))
    listing, me = answers["connections"], answers["whoami"].get("connectionId")
    if json_output:
        console.write_line(json.dumps(replies.connections_facts(listing, me)))
    else:
        console.out.print(replies.connections_table(listing, me, utc_now()))


def register(app: typer.Typer) -> None:
    app.command("connect")(connect)
    app.command("send")(send)
    app.command("broadcast")(broadcast)
    app.command("connections")(connections)

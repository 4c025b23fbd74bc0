"""``wsctl connect`` in a terminal: a prompt with line editing and history, frames printed
above it (prompt_toolkit's ``patch_stdout``) so they never corrupt the line being typed.

prompt_toolkit is imported here only, so scripts and the other commands never load it.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from prompt_toolkit import PromptSession
from prompt_toolkit.history import FileHistory
from prompt_toolkit.patch_stdout import patch_stdout
from rich.console import Console
from rich.text import Text
from websockets.exceptions import ConcurrencyError, ConnectionClosed

from wsctl.auth import redact_url
from wsctl.client import render, slash
from wsctl.client.connection import (
    WatchedConnection,
    close_outcome,
    open_connection,
    send_message,
)
from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import ConnectOptions, subprotocol_note
from wsctl.client.protocol import MessageTooLarge
from wsctl.errors import ExitCode

PROMPT = "> "
PING_TIMEOUT = 10.0


class Screen:
    """Writes above the prompt; everything from the wire is escaped by ``render``."""

    def __init__(self, console: Console, *, pretty: bool = False) -> None:
        self.console = console
        self.pretty = pretty

    def frame(self, data: str | bytes, direction: render.Direction = "in") -> None:
        self.console.print(
            render.render_frame(data, render.utc_now(), direction, pretty=self.pretty)
        )

    def note(self, note: str, style: str = "yellow") -> None:
        self.console.print(render.render_note(note, render.utc_now(), style))

    def error(self, message: str) -> None:
        self.note(f"Error: {message}", "bold red")

    def control(self, kind: str, data: bytes) -> None:
        self.note(render.control_line(kind, data), "dim")


async def _receive(connection: WatchedConnection, screen: Screen) -> None:
    try:
        async for message in connection:
            screen.frame(message)
    except ConnectionClosed:
        pass


async def _ping(connection: WatchedConnection, screen: Screen, data: str | None) -> None:
    try:
        waiter = await connection.ping(data)
        latency = await asyncio.wait_for(waiter, PING_TIMEOUT)
    except ConcurrencyError:
        screen.error("a ping with that data is already waiting for its pong")
    except TimeoutError:
        screen.error(f"no pong within {PING_TIMEOUT:g} s")
    except ConnectionClosed:
        return
    else:
        screen.note(f"pong after {latency * 1000:.1f} ms", "green")


async def _prompt_loop(
    session: PromptSession, connection: WatchedConnection, screen: Screen
) -> slash.CloseRequest:
    """Read lines until the user closes; return how to close."""
    pings: set[asyncio.Task] = set()
    while True:
        try:
            line = await session.prompt_async(PROMPT)
        except (EOFError, KeyboardInterrupt):
            return slash.CloseRequest()
        try:
            command = slash.parse_line(line)
        except slash.SlashError as exc:
            screen.error(str(exc))
            continue
        if command is None:
            continue
        if isinstance(command, slash.CloseRequest):
            return command
        if isinstance(command, slash.ShowHelp):
            screen.console.print(Text(slash.HELP))
        elif isinstance(command, slash.Pong):
            try:
                await connection.pong(command.data or b"")
            except ConnectionClosed:
                return slash.CloseRequest()
            screen.note("pong sent", "green")
        elif isinstance(command, slash.Ping):
            task = asyncio.create_task(_ping(connection, screen, command.data))
            pings.add(task)
            task.add_done_callback(pings.discard)
        else:
            try:
                await send_message(connection, command.text)
            except MessageTooLarge as exc:
                screen.error(str(exc))
                continue
            except ConnectionClosed:
                return slash.CloseRequest()  # the receiver reports how it ended
            if command.text != line:  # a slash command: show the frame it sent
                screen.frame(command.text, "out")


async def run_interactive(
    endpoint: Endpoint,
    options: ConnectOptions,
    *,
    console: Console,
    history: Path | None,
    show_ping_pong: bool = False,
    pretty: bool = False,
) -> int:
    """The interactive session; returns 0 after a clean close, 1 otherwise."""
    connection = await open_connection(endpoint, options)
    screen = Screen(console, pretty=pretty)
    shown = redact_url(endpoint.url)
    screen.note(f"Connected to {shown}. /help lists the commands; Ctrl-D closes.", "green")
    note = subprotocol_note(options.subprotocols, connection.subprotocol)
    if note is not None:
        screen.note(note, "green")
    if show_ping_pong:
        connection.on_control = screen.control
    session: PromptSession = PromptSession(
        history=FileHistory(str(history)) if history is not None else None
    )
    with patch_stdout(raw=True):
        receiver = asyncio.create_task(_receive(connection, screen))
        prompter = asyncio.create_task(_prompt_loop(session, connection, screen))
        await asyncio.wait({receiver, prompter}, return_when=asyncio.FIRST_COMPLETED)
        if receiver.done():  # the server closed: stop prompting
            prompter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await prompter
        else:
            request = prompter.result()
            await connection.close(request.code, request.reason)
            await receiver
    outcome = close_outcome(connection)
    screen.note(outcome.describe(), "green" if outcome.clean else "bold red")
    return int(ExitCode.OK if outcome.clean else ExitCode.FAILED)

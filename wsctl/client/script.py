"""Line mode, for scripts: each input line (or ``-x`` message) is one message; each received
frame is one output line (or one JSON object with ``--json``); exits ``wait`` seconds after the
input ends, or when the server closes."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import TextIO

from rich.console import Console
from websockets.exceptions import ConnectionClosed

from wsctl.client import render
from wsctl.client.connection import close_outcome, open_connection, send_message
from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import ConnectOptions, subprotocol_note
from wsctl.client.protocol import MessageTooLarge
from wsctl.errors import ExitCode

Lines = asyncio.Queue[str | None]  # None marks the end of the input


class LinePrinter:
    """Writes frames for scripts on ``out``: one line each, or one JSON object each."""

    def __init__(self, out: Console, as_json: bool) -> None:
        self.out = out
        self.as_json = as_json

    def _write(self, text: str) -> None:
        self.out.out(text, highlight=False)

    def incoming(self, data: str | bytes) -> None:
        if self.as_json:
            self._write(render.json_line(data, render.utc_now(), "in"))
        else:
            self._write(render.line(data))

    def outgoing(self, text: str) -> None:
        if self.as_json:  # the plain form shows replies only, as wscat does
            self._write(render.json_line(text, render.utc_now(), "out"))

    def control(self, kind: str, data: bytes) -> None:
        if self.as_json:
            self._write(render.json_event(kind, data.hex(), render.utc_now(), "in"))
        else:
            self._write(render.control_line(kind, data))


def feed_from_stream(stream: TextIO, loop: asyncio.AbstractEventLoop, lines: Lines) -> None:
    """Read ``stream`` line by line in a daemon thread (a blocked read must not keep the
    process alive after the server has gone) and queue each line for sending."""

    def read() -> None:
        while True:
            try:
                raw = stream.readline()
            except (OSError, ValueError):
                raw = ""
            text = raw.rstrip("\r\n") if raw else None
            try:
                loop.call_soon_threadsafe(lines.put_nowait, text)
            except RuntimeError:  # the loop is closed: nobody is listening any more
                return
            if text is None:
                return

    threading.Thread(target=read, name="wsctl-stdin", daemon=True).start()


def queue_of(messages: Iterable[str]) -> Lines:
    lines: Lines = asyncio.Queue()
    for message in messages:
        lines.put_nowait(message)
    lines.put_nowait(None)
    return lines


async def _receive(connection, printer: LinePrinter) -> None:
    try:
        async for message in connection:
            printer.incoming(message)
    except ConnectionClosed:
        pass


async def run_script(
    endpoint: Endpoint,
    options: ConnectOptions,
    lines: Lines,
    *,
    wait: float,
    printer: LinePrinter,
    err: Console,
    show_ping_pong: bool = False,
) -> int:
    """Send each queued line, print what arrives, and return the exit code: 0 after a clean
    close, 1 when the server closed with an error or a message could not be sent."""
    connection = await open_connection(endpoint, options)
    note = subprotocol_note(options.subprotocols, connection.subprotocol)
    if note is not None:
        err.print(note, markup=False, highlight=False)
    if show_ping_pong:
        connection.on_control = printer.control
    receiver = asyncio.create_task(_receive(connection, printer))
    failed = False
    try:
        while True:
            next_line = asyncio.ensure_future(lines.get())
            await asyncio.wait({next_line, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if not next_line.done():
                next_line.cancel()
                break  # the server closed the connection
            text = next_line.result()
            if text is None:
                await asyncio.wait({receiver}, timeout=wait)
                break
            try:
                await send_message(connection, text)
            except MessageTooLarge as exc:
                err.print(f"Error: {exc}", markup=False, highlight=False)
                failed = True
                continue
            except ConnectionClosed:
                break
            printer.outgoing(text)
    finally:
        await connection.close()
        await receiver
    outcome = close_outcome(connection)
    if outcome.by_server:
        err.print(outcome.describe(), markup=False, highlight=False)
    return int(ExitCode.OK if outcome.clean and not failed else ExitCode.FAILED)

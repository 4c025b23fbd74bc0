"""Line mode, for scripts: each input line (or ``-x`` message) is one message; each received
frame is one output line (or one JSON object with ``--json``); exits ``wait`` seconds after the
input ends (or at the reply that ends the exchange, for ``send``), or when the server closes.

Blank input lines are skipped (an empty frame is never what a script meant), and a line that
is not UTF-8 is reported and not sent (replacing its bytes would send something else)."""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO, TextIO

from websockets.exceptions import ConnectionClosed

from wsctl.client import render
from wsctl.client.connection import close_outcome, open_connection, send_message
from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import ConnectOptions, subprotocol_note
from wsctl.client.protocol import MessageTooLarge
from wsctl.console import write_line
from wsctl.errors import ExitCode


@dataclass(frozen=True)
class NotText:
    """An input line that is not UTF-8: reported, not sent."""

    number: int


Lines = asyncio.Queue[str | NotText | None]  # None marks the end of the input
FinalFrame = Callable[[str | bytes], bool]  # True for the reply that ends the exchange


class LinePrinter:
    """Writes frames for scripts on stdout: one line each, or one JSON object each (plain
    writes: rich would cost startup time and adds nothing to one line)."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json

    def _write(self, text: str) -> None:
        write_line(text)

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


def decode_line(raw: bytes, number: int) -> str | NotText | None:
    """One input line as a message: None for a blank line (skipped), ``NotText`` when it is
    not UTF-8, else its text without the line ending."""
    try:
        text = raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        return NotText(number)
    return text if text.strip() else None


def feed_from_stream(stream: BinaryIO, loop: asyncio.AbstractEventLoop, lines: Lines) -> None:
    """Read ``stream`` (bytes) line by line in a daemon thread (a blocked read must not keep
    the process alive after the server has gone) and queue each message line for sending."""

    def put(item: str | NotText | None) -> bool:
        try:
            loop.call_soon_threadsafe(lines.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    def read() -> None:
        number = 0
        while True:
            try:
                raw = stream.readline()
            except (OSError, ValueError):
                raw = b""
            if not raw:
                put(None)
                return
            number += 1
            item = decode_line(raw, number)
            if item is not None and not put(item):
                return

    threading.Thread(target=read, name="wsctl-stdin", daemon=True).start()


def queue_of(messages: Iterable[str]) -> Lines:
    lines: Lines = asyncio.Queue()
    for message in messages:
        lines.put_nowait(message)
    lines.put_nowait(None)
    return lines


async def _receive(
    connection, printer: LinePrinter, final: FinalFrame | None
) -> str | bytes | None:
    """Print what arrives; return the frame that ends the exchange, if it came."""
    try:
        async for message in connection:
            printer.incoming(message)
            if final is not None and final(message):
                return message
    except ConnectionClosed:
        pass
    return None


async def run_script(
    endpoint: Endpoint,
    options: ConnectOptions,
    lines: Lines,
    *,
    wait: float | None,
    printer: LinePrinter,
    err: TextIO | None = None,
    show_ping_pong: bool = False,
    final: FinalFrame | None = None,
    failure: FinalFrame | None = None,
) -> int:
    """Send each queued line, print what arrives, and return the exit code: 0 after a clean
    close, 1 when the server closed with an error, a line could not be sent, or the final
    frame is a ``failure``. ``wait`` None (``-w -1``) holds the connection open until the
    server closes it; ``final`` ends the wait at the reply that completes the exchange."""
    connection = await open_connection(endpoint, options)
    note = subprotocol_note(options.subprotocols, connection.subprotocol)
    if note is not None:
        write_line(note, err or sys.stderr)
    if show_ping_pong:
        connection.on_control = printer.control
    receiver = asyncio.create_task(_receive(connection, printer, final))
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
            if isinstance(text, NotText):
                write_line(
                    f"Error: input line {text.number} is not valid UTF-8; not sent",
                    err or sys.stderr,
                )
                failed = True
                continue
            try:
                await send_message(connection, text)
            except MessageTooLarge as exc:
                write_line(f"Error: {exc}", err or sys.stderr)
                failed = True
                continue
            except ConnectionClosed:
                break
            printer.outgoing(text)
    finally:
        await connection.close()
        ending = await receiver  # raises what the printer raised (a closed stdout)
    if ending is not None and failure is not None and failure(ending):
        failed = True
    outcome = close_outcome(connection)
    if outcome.by_server:
        write_line(outcome.describe(), err or sys.stderr)
    return int(ExitCode.OK if outcome.clean and not failed else ExitCode.FAILED)

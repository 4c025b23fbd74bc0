"""How frames are shown: for people in a terminal, one per line for scripts, or JSON lines.

Pure: each function turns a frame into text (or a rich ``Text``); the caller writes it. rich
loads only for the frames shown to people (scripts' lines do not need it).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import TYPE_CHECKING, Literal

from wsctl.client.escaping import binary_summary, escape

if TYPE_CHECKING:
    from rich.highlighter import JSONHighlighter
    from rich.text import Text

Direction = Literal["in", "out"]
_ARROWS = {"in": "<", "out": ">"}


@functools.cache
def _json_highlighter() -> JSONHighlighter:
    from rich.highlighter import JSONHighlighter

    return JSONHighlighter()


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso_time(at: dt.datetime) -> str:
    """``2026-11-27T18:42:21.123Z``: UTC to the millisecond."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def clock(at: dt.datetime) -> str:
    """The local wall-clock time a person reads next to a frame."""
    return at.astimezone().strftime("%H:%M:%S")


def _coloured_json(text: str, pretty: bool) -> Text | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if not isinstance(value, dict | list):
        return None
    # json.dumps escapes C0 controls inside strings but not DEL and C1: escape() covers those,
    # line by line, since the only raw newlines are the indentation's.
    if pretty:
        dumped = json.dumps(value, indent=2, ensure_ascii=False)
    else:
        dumped = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    from rich.text import Text

    return _json_highlighter()(Text("\n".join(escape(part) for part in dumped.split("\n"))))


def render_frame(
    data: str | bytes, at: dt.datetime, direction: Direction = "in", *, pretty: bool = False
) -> Text:
    """A frame for a person: time, arrow, then JSON coloured on one line (indented when
    ``pretty``), text escaped, or a hex summary of binary data."""
    from rich.text import Text

    head = Text.assemble((clock(at), "dim"), " ", (_ARROWS[direction], "bold cyan"), " ")
    if isinstance(data, bytes):
        return head + Text(binary_summary(data), style="magenta")
    coloured = _coloured_json(data, pretty)
    if coloured is not None:
        return head + coloured
    return head + Text(escape(data))


def render_note(note: str, at: dt.datetime, style: str = "yellow") -> Text:
    """A line about the connection (a pong, a close), not a frame's content."""
    from rich.text import Text

    return Text.assemble((clock(at), "dim"), " ", (escape(note), style))


def line(data: str | bytes) -> str:
    """A frame on one line, for scripts: text as is (control characters, newlines included,
    escaped so one frame stays one line), binary as a hex summary."""
    if isinstance(data, bytes):
        return binary_summary(data)
    return escape(data)


def json_line(data: str | bytes, at: dt.datetime, direction: Direction) -> str:
    """A frame as one JSON object: ``{"time", "direction", "type", "data"}`` (binary as hex)."""
    if isinstance(data, bytes):
        return json_event("binary", data.hex(), at, direction)
    return json_event("text", data, at, direction)


def json_event(kind: str, data: str, at: dt.datetime, direction: Direction) -> str:
    """One event (a frame, a ping or a pong) as one line of JSON."""
    event = {"time": iso_time(at), "direction": direction, "type": kind, "data": data}
    return json.dumps(event, ensure_ascii=False, separators=(",", ":"))


def control_payload(data: bytes) -> str:
    """A ping's or pong's payload shown as text when it is text (escaped), else as hex."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return data.hex(" ")
    if not text.isprintable():
        return data.hex(" ")
    return escape(text)


def control_line(kind: str, data: bytes) -> str:
    """A received ping or pong, for ``-P``: ``(ping hello)``, or ``(ping 0a 0b)`` for bytes
    that are not text (wscat shows text)."""
    return f"({kind} {control_payload(data)})" if data else f"({kind})"

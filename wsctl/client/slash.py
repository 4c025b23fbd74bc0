"""What a line typed in ``wsctl connect`` asks for: a message, or a slash command."""

from __future__ import annotations

from dataclasses import dataclass

from wsctl.client import protocol
from wsctl.client.close_codes import CLEAN_CLOSE, is_sendable

MAX_CLOSE_REASON_BYTES = 123  # a close frame's payload is at most 125 bytes, 2 of them the code

HELP = """\
Lines are sent as text messages. Commands:
  /broadcast MESSAGE     send MESSAGE to every connection (JSON if it parses, else text)
  /send ID MESSAGE       send MESSAGE to connection ID
  /list                  list the live connections
  /whoami                this connection's id, connected time and source IP
  /ping [DATA]           ping the server and show the round trip
  /pong [DATA]           send an unsolicited pong
  /close [CODE] [REASON] close the connection (default 1000)
  /quit                  close with 1000 and exit (also Ctrl-D, Ctrl-C)
  /help                  this help
  //TEXT                 send /TEXT as a message"""


@dataclass(frozen=True)
class SendText:
    text: str


@dataclass(frozen=True)
class Ping:
    data: str | None = None


@dataclass(frozen=True)
class Pong:
    data: str | None = None


@dataclass(frozen=True)
class CloseRequest:
    code: int = CLEAN_CLOSE
    reason: str = ""


@dataclass(frozen=True)
class ShowHelp:
    pass


Command = SendText | Ping | Pong | CloseRequest | ShowHelp


class SlashError(ValueError):
    """A slash command that cannot be carried out; the message says how to use it."""


def parse_line(line: str) -> Command | None:
    """The command a typed line stands for; None for an empty line (nothing to do)."""
    if not line.strip():
        return None
    if line.startswith("//"):
        return SendText(line[1:])
    if not line.startswith("/"):
        return SendText(line)
    name, _, rest = line[1:].partition(" ")
    rest = rest.strip()
    handler = _COMMANDS.get(name)
    if handler is None:
        raise SlashError(f"unknown command /{name}; /help lists them (send //{name} as text)")
    return handler(rest)


def _no_arguments(name: str, rest: str) -> None:
    if rest:
        raise SlashError(f"/{name} takes no arguments")


def _broadcast(rest: str) -> Command:
    if not rest:
        raise SlashError("usage: /broadcast MESSAGE")
    return SendText(protocol.broadcast_frame(protocol.message_value(rest)))


def _send(rest: str) -> Command:
    to, _, message = rest.partition(" ")
    if not to or not message.strip():
        raise SlashError("usage: /send ID MESSAGE")
    return SendText(protocol.send_frame(to, protocol.message_value(message.strip())))


def _list(rest: str) -> Command:
    _no_arguments("list", rest)
    return SendText(protocol.list_frame())


def _whoami(rest: str) -> Command:
    _no_arguments("whoami", rest)
    return SendText(protocol.whoami_frame())


def _control_data(name: str, rest: str) -> str | None:
    if len(rest.encode("utf-8")) > 125:  # a control frame's payload (RFC 6455 section 5.5)
        raise SlashError(f"/{name} data is at most 125 bytes")
    return rest or None


def _ping(rest: str) -> Command:
    return Ping(_control_data("ping", rest))


def _pong(rest: str) -> Command:
    return Pong(_control_data("pong", rest))


def _close(rest: str) -> Command:
    if not rest:
        return CloseRequest()
    first, _, reason = rest.partition(" ")
    try:
        code = int(first)
    except ValueError:
        raise SlashError("usage: /close [CODE] [REASON], CODE a number like 1000") from None
    if not is_sendable(code):
        raise SlashError(f"close code {code} cannot be sent: use 1000-1003, 1007-1011 or 3000-4999")
    reason = reason.strip()
    if len(reason.encode("utf-8")) > MAX_CLOSE_REASON_BYTES:
        raise SlashError(f"close reason is at most {MAX_CLOSE_REASON_BYTES} bytes")
    return CloseRequest(code, reason)


def _quit(rest: str) -> Command:
    _no_arguments("quit", rest)
    return CloseRequest()


def _help(rest: str) -> Command:
    return ShowHelp()


_COMMANDS = {
    "broadcast": _broadcast,
    "send": _send,
    "list": _list,
    "whoami": _whoami,
    "ping": _ping,
    "pong": _pong,
    "close": _close,
    "quit": _quit,
    "help": _help,
}

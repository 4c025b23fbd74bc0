"""Typed lines and slash commands."""

import json

import pytest

from wsctl.client.slash import (
    CloseRequest,
    Ping,
    SendText,
    ShowHelp,
    SlashError,
    parse_line,
)


def test_plain_lines_are_sent_as_typed():
    """A line without a slash is a message; an empty line is nothing."""
    assert parse_line("hello world") == SendText("hello world")
    assert parse_line("   ") is None


def test_double_slash_sends_a_literal_slash():
    """//text sends /text, so any message can be typed."""
    assert parse_line("//list") == SendText("/list")


def test_broadcast_and_send_build_protocol_frames():
    """/broadcast and /send turn into the service's action frames."""
    broadcast = parse_line('/broadcast {"n": 1}')
    assert isinstance(broadcast, SendText)
    assert json.loads(broadcast.text) == {"action": "broadcast", "message": {"n": 1}}
    direct = parse_line("/send abc= hi there")
    assert isinstance(direct, SendText)
    assert json.loads(direct.text) == {"action": "send", "to": "abc=", "message": "hi there"}


def test_list_whoami_ping_help():
    """The argument-less commands map to their frames and actions."""
    assert json.loads(parse_line("/list").text) == {"action": "list"}
    assert json.loads(parse_line("/whoami").text) == {"action": "whoami"}
    assert parse_line("/ping") == Ping(None)
    assert parse_line("/ping abc") == Ping("abc")
    assert parse_line("/help") == ShowHelp()


def test_close_and_quit():
    """/close takes an optional code and reason; /quit closes with 1000."""
    assert parse_line("/close") == CloseRequest(1000, "")
    assert parse_line("/close 4000 done for today") == CloseRequest(4000, "done for today")
    assert parse_line("/quit") == CloseRequest(1000, "")


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("/frobnicate", "unknown command /frobnicate"),
        ("/broadcast", "usage: /broadcast MESSAGE"),
        ("/send only-an-id", "usage: /send ID MESSAGE"),
        ("/close soon", "usage: /close"),
        ("/close 1006", "cannot be sent"),
        ("/close 1000 " + "r" * 124, "at most 123 bytes"),
        ("/list everything", "takes no arguments"),
    ],
)
def test_bad_commands_say_how_to_use_them(line, message):
    """A malformed command raises SlashError with a usage hint, and nothing is sent."""
    with pytest.raises(SlashError, match=message):
        parse_line(line)

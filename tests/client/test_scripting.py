"""The client commands in scripts (issue 13): send stops at the action's final reply, `send -`,
blank and non-UTF-8 input lines, `-w -1`, a closed stdout, and the summaries of broadcast and
connections; through the CLI against real servers on 127.0.0.1."""

import asyncio
import io
import json
import subprocess
import sys
from pathlib import Path

from client_servers import echo, fake_service

WSCTL = Path(sys.executable).with_name("wsctl")


def piped(monkeypatch, data: bytes) -> None:
    """Give the in-process CLI a stdin that is a pipe of ``data``."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def reply_then_later(reply: dict, later: str):
    """Answers the first message with ``reply``, then sends ``later`` a while after."""

    async def behaviour(connection, message):
        await connection.send(json.dumps(reply))
        await asyncio.sleep(1.0)
        await connection.send(later)

    return behaviour


def test_send_stops_at_the_actions_final_reply(cli, ws_server):
    """`send` a whoami with --wait 30: it ends at the whoami reply, before a later frame."""
    whoami = {"type": "whoami", "connectionId": "c1"}
    server = ws_server(reply_then_later(whoami, "LATE"))
    result = cli("send", '{"action": "whoami"}', server.url, "-w", "30")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line) for line in result.stdout.splitlines()] == [whoami]


def test_send_ends_at_an_error_reply_with_exit_1(cli, ws_server):
    """An error frame completes any action: printed, then exit 1 (the operation failed)."""
    error = {"type": "error", "error": "unknown_action", "message": "No such action."}
    server = ws_server(reply_then_later(error, "LATE"))
    result = cli("send", '{"action": "nope"}', server.url, "-w", "30")
    assert result.exit_code == 1
    assert [json.loads(line) for line in result.stdout.splitlines()] == [error]


def test_send_of_a_non_protocol_message_waits_for_replies(cli, ws_server):
    """A message that is not one of the protocol's actions has no final reply: replies within
    --wait are printed."""
    server = ws_server(reply_then_later({"echo": 1}, "LATE"))
    result = cli("send", "plain text", server.url, "-w", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ['{"echo": 1}', "LATE"]


def test_send_dash_reads_the_message_from_stdin(cli, monkeypatch, ws_server):
    """`send -` sends the whole of stdin as one message, less its final newline."""
    server = ws_server(fake_service())
    piped(monkeypatch, b'{"action":\n "whoami"}\n')
    result = cli("send", "-", server.url)
    assert result.exit_code == 0, result.stderr
    assert server.recorded.messages == ['{"action":\n "whoami"}']
    assert json.loads(result.stdout)["type"] == "whoami"


def test_send_dash_refuses_stdin_that_is_not_utf8(cli, monkeypatch, ws_server):
    """Non-UTF-8 stdin for `send -`: exit 2, one line, nothing sent."""
    server = ws_server(echo)
    piped(monkeypatch, b"caf\xe9\n")
    result = cli("send", "-", server.url)
    assert result.exit_code == 2
    assert "not valid UTF-8" in result.stderr and result.stderr.count("\n") == 1
    assert server.recorded.messages == []


def test_a_message_argument_that_is_not_utf8_is_a_usage_error():
    """`wsctl send "$(printf 'caf\\xe9')"`: one line naming the bytes, exit 2, no traceback."""
    finished = subprocess.run(
        [str(WSCTL), "send", b"caf\xe9".decode("utf-8", "surrogateescape"), "ws://127.0.0.1:9/"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert finished.returncode == 2
    assert finished.stderr.strip() == (
        "Error: argument 2 (caf\\xe9) is not valid UTF-8: check the terminal's or the script's "
        "encoding"
    )


def test_blank_lines_are_skipped_and_non_utf8_lines_reported(cli, monkeypatch, ws_server):
    """Piped input: blank lines send nothing; a non-UTF-8 line is named, not sent, exit 1;
    the other lines go out."""
    server = ws_server(echo)
    piped(monkeypatch, b"one\n\n   \ncaf\xe9\ntwo\n")
    result = cli("connect", server.url, "-w", "0.5")
    assert result.exit_code == 1
    assert server.recorded.messages == ["one", "two"]
    assert "input line 4 is not valid UTF-8; not sent" in result.stderr


def test_wait_minus_one_holds_the_connection_open_until_the_server_closes(cli, ws_server):
    """`-w -1`: replies that come long after the input ended are still printed; the command
    ends when the server closes."""

    async def slow_then_close(connection, message):
        await asyncio.sleep(1.5)
        await connection.send("late reply")
        await connection.close(1000, "done")

    server = ws_server(slow_then_close)
    result = cli("connect", server.url, "-x", "hi", "-w", "-1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["late reply"]


def _first_line_then_close(args: list[str], stdin: bytes | None = None) -> tuple[int, str]:
    """Run wsctl with its stdout read by someone who stops after one line (`| head -1`)."""
    process = subprocess.Popen(
        [str(WSCTL), *args],
        stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    if stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
    first = process.stdout.readline()
    process.stdout.close()  # the reader goes away, as head does
    code = process.wait(60)
    stderr = process.stderr.read().decode()
    process.stderr.close()
    assert first
    return code, stderr


def test_a_closed_stdout_ends_quietly_with_exit_0(ws_server):
    """`wsctl connect URL -x ... | head -1`: exit 0 and nothing on stderr (no traceback)."""
    server = ws_server(echo)
    messages = [arg for n in range(200) for arg in ("-x", f"message {n}")]
    code, stderr = _first_line_then_close(["connect", server.url, *messages, "-w", "2"])
    assert (code, stderr) == (0, "")


def test_a_closed_stdout_with_piped_input_ends_quietly(ws_server):
    """`printf ... | wsctl connect URL | head -1`: exit 0, nothing on stderr."""
    server = ws_server(echo)
    lines = "".join(f"line {n}\n" for n in range(200)).encode()
    code, stderr = _first_line_then_close(["connect", server.url, "-w", "2"], stdin=lines)
    assert (code, stderr) == (0, "")


def test_connections_summary_says_which_one_is_yours(cli, ws_server):
    """The table's title counts the connections and says this one is among them."""
    server = ws_server(fake_service())
    result = cli("connections", server.url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "2 connections: this one (*) and 1 other"


def test_broadcast_to_one_listener_says_the_other_delivery_was_the_sender(cli):
    """Through the real service with one listener: 2 deliveries, '1 other and this sender'."""
    from websockets.sync.client import connect as sync_connect

    from wsctl.config import load_spec
    from wsctl.local import LocalService

    spec = load_spec().with_overrides(stage="summary")  # its own table: no other connections
    with LocalService(spec, port=0) as service, sync_connect(service.url, open_timeout=5) as one:
        result = cli("broadcast", '"hi"', service.url)
        assert json.loads(one.recv(timeout=5))["message"] == "hi"
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        "Broadcast delivered to 2 connections: 1 other and this sender (gone 0, failed 0)."
    )


def test_auth_replaces_an_authorization_header_in_the_handshake(cli, ws_server):
    """With -H 'Authorization: ...' and --auth, the server gets --auth's Basic value only
    (wscat's precedence)."""
    server = ws_server(echo)
    args = ["-H", "Authorization: Bearer from-header", "--auth", "ann:secret", "-w", "0.2"]
    result = cli("send", "hi", server.url, *args)
    assert result.exit_code == 0, result.stderr
    assert server.recorded.headers[0]["authorization"] == "Basic YW5uOnNlY3JldA=="


def test_wss_to_a_plain_server_says_to_use_ws(cli, ws_server):
    """`wsctl send '"x"' wss://...` against a plain ws:// server: exit 1, one line saying to
    use ws://, not an internal error."""
    server = ws_server(echo)
    result = cli("send", '"x"', server.url.replace("ws://", "wss://"), "-w", "0.2")
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr
    assert "ws://" in result.stderr and not result.stderr.rstrip().endswith(":")

"""Line mode, for scripts: piped stdin, -x/-w, --json, -P, and how it ends."""

import io
import json
import subprocess
import sys
from pathlib import Path

from client_servers import close_with, closing_after, echo

WSCTL = Path(sys.executable).with_name("wsctl")


def piped(monkeypatch, text: str | bytes) -> None:
    """Give the in-process CLI a stdin that is not a terminal (bytes underneath, as a pipe)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))


def test_each_piped_line_is_one_message_and_replies_print_one_per_line(cli, monkeypatch, ws_server):
    """Lines from stdin go out in order; each echoed reply is one output line; exit 0."""
    server = ws_server(closing_after(3))
    piped(monkeypatch, 'first\n{"action": "list"}\r\nmulti\\nline\n')
    result = cli("connect", server.url, "-w", "10")
    assert result.exit_code == 0, result.stderr
    assert server.recorded.messages == ["first", '{"action": "list"}', "multi\\nline"]
    assert result.stdout.splitlines() == ["first", '{"action": "list"}', "multi\\nline"]


def test_json_lines_have_time_and_direction(cli, monkeypatch, ws_server):
    """--json prints one object per message sent and received, and nothing else on stdout."""
    server = ws_server(closing_after(2))
    piped(monkeypatch, "a\nb\n")
    result = cli("connect", server.url, "-w", "10", "--json")
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted((e["direction"], e["data"]) for e in events) == [
        ("in", "a"),
        ("in", "b"),
        ("out", "a"),
        ("out", "b"),
    ]
    assert all(e["type"] == "text" and e["time"].endswith("Z") for e in events)
    outgoing = [e["data"] for e in events if e["direction"] == "out"]
    assert outgoing == ["a", "b"]


def test_execute_sends_each_message_and_ignores_stdin(cli, monkeypatch, ws_server):
    """-x is repeatable, messages go in order, and stdin is not read."""
    server = ws_server(closing_after(2))
    piped(monkeypatch, "from stdin\n")
    result = cli("connect", server.url, "-x", "one", "-x", "two", "-w", "10")
    assert result.exit_code == 0, result.stderr
    assert server.recorded.messages == ["one", "two"]
    assert result.stdout.splitlines() == ["one", "two"]


def test_a_line_over_128_kb_is_skipped_with_an_error_and_the_rest_is_sent(
    cli, monkeypatch, ws_server
):
    """An oversized line is reported and not sent; the others are; the exit code is 1."""
    server = ws_server(echo)
    piped(monkeypatch, "before\n" + "x" * (128 * 1024 + 1) + "\nafter\n")
    result = cli("connect", server.url, "-w", "0.5")
    assert result.exit_code == 1
    assert server.recorded.messages == ["before", "after"]
    assert "not sent: the limit is 131,072 bytes" in result.stderr


def test_a_clean_close_by_the_server_ends_with_exit_0(cli, monkeypatch, ws_server):
    """The server closing with 1000 ends the session early, says so, and exits 0."""
    server = ws_server(close_with(1000, "bye"))
    piped(monkeypatch, "hello\n")
    result = cli("connect", server.url, "-w", "10")
    assert result.exit_code == 0
    assert result.stderr.strip() == "Connection closed: 1000 (OK): bye"


def test_show_ping_pong_prints_pings_from_the_server(cli, ws_server):
    """-P shows the server's pings (websockets answers them by itself)."""

    async def ping_back(connection, message):
        await connection.ping(b"hey!")
        await connection.send("after ping")

    server = ws_server(closing_after(1, ping_back))
    result = cli("send", "x", server.url, "-P", "-w", "10")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["(ping hey!)", "after ping"]


def test_binary_replies_are_summarised(cli, ws_server):
    """A binary frame prints as its size and leading bytes in hex."""

    async def binary(connection, message):
        await connection.send(b"\x00\x01\x02")

    server = ws_server(closing_after(1, binary))
    result = cli("send", "x", server.url, "-w", "10")
    assert result.stdout.splitlines() == ["(binary, 3 bytes) 00 01 02"]


def test_piped_stdin_through_a_real_process(ws_server, isolated_environment):
    """The installed `wsctl` reads a real pipe to EOF, sends each line, prints the replies."""
    server = ws_server(closing_after(2))
    finished = subprocess.run(
        [str(WSCTL), "connect", server.url, "-w", "10"],
        input="alpha\nbeta\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.splitlines() == ["alpha", "beta"]
    assert server.recorded.messages == ["alpha", "beta"]

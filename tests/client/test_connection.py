"""Opening connections: what arrives at the server, fragmentation, and each failure as one
line (through `wsctl send`, the shortest path that opens a connection)."""

import pytest
from client_servers import close_with, echo, echo_then_close

from wsctl.client.protocol import MAX_FRAME_BYTES


def one_error_line(result) -> str:
    """The single stderr line of a failed command (and proof that there is no traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_headers_subprotocol_origin_and_basic_auth_arrive(cli, ws_server):
    """-H, -s, -o and --auth are in the handshake the server receives."""
    server = ws_server(echo, subprotocols=["chat.v2"])
    result = cli(
        "connect", server.url, "-x", "hi", "-w", "0",
        "-H", "X-Trace: 42", "-H", "X-Other: a b",
        "-s", "chat.v1", "-s", "chat.v2",
        "-o", "https://origin.example",
        "--auth", "ann:secret",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    headers = server.recorded.headers[0]
    assert headers["x-trace"] == "42"
    assert headers["x-other"] == "a b"
    assert headers["origin"] == "https://origin.example"
    assert headers["authorization"] == "Basic YW5uOnNlY3JldA=="
    assert headers["sec-websocket-protocol"] == "chat.v1, chat.v2"
    assert headers["user-agent"].startswith("wsctl/")
    assert server.recorded.subprotocols == ["chat.v2"]


def test_messages_over_32_kb_arrive_as_fragments_of_at_most_32_kb(cli, ws_server):
    """A 100 KB message reaches a server that refuses frames over 32 KB, in 32 KB fragments."""
    server = ws_server(echo, max_size=(None, MAX_FRAME_BYTES))
    message = "".join(chr(0x41 + i % 26) for i in range(100 * 1024))
    result = cli("send", message, server.url, "-w", "0")
    assert result.exit_code == 0, result.stderr
    server.wait_for(lambda: server.recorded.messages, "the message")
    assert server.recorded.messages == [message]
    (sizes,) = server.recorded.frame_sizes
    assert max(sizes) <= MAX_FRAME_BYTES
    # websockets ends a fragmented message with an empty final frame: legal, and harmless.
    assert [size for size in sizes if size] == [32768, 32768, 32768, 4096]


def test_messages_up_to_32_kb_go_in_one_frame(cli, ws_server):
    """A message of exactly 32 KB is a single frame."""
    server = ws_server(echo)
    result = cli("send", "m" * MAX_FRAME_BYTES, server.url, "-w", "0")
    assert result.exit_code == 0, result.stderr
    server.wait_for(lambda: server.recorded.messages, "the message")
    assert server.recorded.frame_sizes == [[MAX_FRAME_BYTES]]


def test_messages_over_128_kb_are_refused_and_not_sent(cli, ws_server):
    """Above 128 KB, send exits 2 with one line, before connecting."""
    server = ws_server(echo)
    result = cli("send", "b" * (128 * 1024 + 1), server.url)
    assert result.exit_code == 2
    assert "not sent: the limit is 131,072 bytes (128 KB)" in one_error_line(result)
    assert server.recorded.headers == []


def test_connection_refused(cli, closed_port):
    """Nothing listening: one line naming the address, exit 1."""
    result = cli("send", "hi", f"ws://127.0.0.1:{closed_port}/")
    assert result.exit_code == 1
    assert f"Connection refused by 127.0.0.1:{closed_port}" in one_error_line(result)


def test_unknown_host(cli):
    """A name that does not resolve: one line naming the host."""
    result = cli("send", "hi", "ws://nonexistent.invalid/")
    assert result.exit_code == 1
    assert "Unknown host nonexistent.invalid" in one_error_line(result)


def test_not_a_websocket_url(cli):
    """An http:// URL is a usage error that says which schemes work."""
    result = cli("send", "hi", "http://127.0.0.1:1/")
    assert result.exit_code == 2
    assert "is not a WebSocket URL" in one_error_line(result)


def test_timeout_opening_the_connection(cli, unresponsive_port):
    """A server that never answers the handshake: a timeout after --timeout seconds."""
    result = cli("send", "hi", f"ws://127.0.0.1:{unresponsive_port}/", "--timeout", "0.3")
    assert result.exit_code == 1
    assert "Timed out after 0.3 s opening" in one_error_line(result)


@pytest.mark.parametrize(
    ("status", "phrase"),
    [(401, "Unauthorized"), (403, "Forbidden"), (500, "Internal Server Error")],
)
def test_handshake_rejection_shows_status_and_body(cli, ws_server, status, phrase):
    """A refused handshake shows the HTTP status and the body the server sent."""
    server = ws_server(echo)
    result = cli("send", "hi", f"{server.url}status/{status}")
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"rejected the handshake: HTTP {status} {phrase}" in line
    assert f"{phrase}: refused by the test server" in line


def test_tls_verification_failure_says_how_to_fix_it(cli, ws_server, tls_files):
    """A certificate from an unknown CA fails verification, with --ca and -n suggested."""
    server = ws_server(echo, ssl_context=tls_files.server_context)
    result = cli("send", "hi", server.url)
    assert result.exit_code == 1
    line = one_error_line(result)
    assert f"TLS verification failed for 127.0.0.1:{server.port}" in line
    assert "--ca FILE" in line and "-n/--no-check" in line
    assert server.recorded.messages == []


def test_tls_with_ca_or_no_check(cli, ws_server, tls_files):
    """--ca trusts the test CA; -n skips verification; both get the echo back."""
    server = ws_server(echo_then_close, ssl_context=tls_files.server_context)
    trusted = cli("send", "via-ca", server.url, "--ca", str(tls_files.ca_cert), "-w", "10")
    assert (trusted.exit_code, trusted.stdout) == (0, "via-ca\n"), trusted.stderr
    unchecked = cli("send", "via-n", server.url, "-n", "-w", "10")
    assert (unchecked.exit_code, unchecked.stdout) == (0, "via-n\n"), unchecked.stderr
    assert server.recorded.messages == ["via-ca", "via-n"]


def test_server_close_is_shown_in_words_and_fails(cli, ws_server):
    """A close with an error code prints it in words with the reason, and exits 1."""
    server = ws_server(close_with(4001, "not today"))
    result = cli("send", "hi", server.url, "-w", "5")
    assert result.exit_code == 1
    assert one_error_line(result) == "Connection closed: 4001 (application code): not today"


def test_message_too_big_for_the_server(cli, ws_server):
    """A server that closes with 1009 reads as "message too big"."""
    server = ws_server(echo, max_size=16)
    result = cli("send", "x" * 100, server.url, "-w", "5")
    assert result.exit_code == 1
    assert one_error_line(result).startswith("Connection closed: 1009 (message too big)")

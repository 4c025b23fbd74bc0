"""`wsctl broadcast` and `wsctl connections`: requests and their replies (against a stand-in
for the service's protocol; tests against the real service are in test_commands.py)."""

import json

from client_servers import close_with, echo, fake_service


def test_broadcast_prints_delivered_gone_failed(cli, ws_server):
    """The ack's counts are printed; the message goes out as a broadcast action."""
    server = ws_server(fake_service())
    result = cli("broadcast", '{"hello": "all"}', "--url", server.url)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == (
        "Broadcast delivered to 3 connections: 2 others and this sender (gone 1, failed 0)."
    )
    assert json.loads(server.recorded.messages[0]) == {
        "action": "broadcast",
        "message": {"hello": "all"},
    }


def test_broadcast_json_prints_the_counts_only(cli, ws_server):
    """--json prints the counts, and whether the sender got its own copy, as one object."""
    server = ws_server(fake_service())
    result = cli("broadcast", "hi", "--url", server.url, "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {
        "delivered": 3,
        "gone": 1,
        "failed": 0,
        "senderIncluded": True,
    }


def test_broadcast_without_an_ack_in_time_fails(cli, ws_server):
    """No ack within --timeout: exit 1 and one line saying which reply is missing."""
    server = ws_server(echo)
    result = cli("broadcast", "hi", "--url", server.url, "--timeout", "0.5")
    assert result.exit_code == 1
    assert f"No ack reply from {server.url} within 0.5 s" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_error_frame_fails_with_its_message(cli, ws_server):
    """An error reply from the service ends the command with its code and sentence."""
    error = {"type": "error", "error": "too_large", "message": "Too big to fan out."}
    server = ws_server(fake_service(error=error))
    result = cli("broadcast", "hi", "--url", server.url)
    assert result.exit_code == 1
    assert "the service answered too_large: Too big to fan out." in result.stderr


def test_a_close_before_the_reply_is_explained(cli, ws_server):
    """A server that closes instead of replying: the close code in words."""
    server = ws_server(close_with(1011, "boom"))
    result = cli("connections", "--url", server.url)
    assert result.exit_code == 1
    assert "Connection closed: 1011 (internal error): boom before the service replied" in (
        result.stderr
    )


def test_connections_table_marks_your_own(cli, ws_server):
    """The table lists each connection, with * on the row of the caller's own."""
    server = ws_server(fake_service())
    result = cli("connections", "--url", server.url)
    assert result.exit_code == 0, result.stderr
    mine = next(line for line in result.stdout.splitlines() if "conn-1" in line)
    other = next(line for line in result.stdout.splitlines() if "conn-old" in line)
    assert "*" in mine and "*" not in other
    assert "10.0.0.9" in other and "127.0.0.1" in mine


def test_connections_json(cli, ws_server):
    """--json gives count, your id, and each connection with a "you" flag."""
    server = ws_server(fake_service())
    result = cli("connections", "--url", server.url, "--json")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    assert facts["you"] == "conn-1"
    assert [(c["connectionId"], c["you"]) for c in facts["connections"]] == [
        ("conn-old", False),
        ("conn-1", True),
    ]
    assert sorted(json.loads(m)["action"] for m in server.recorded.messages) == ["list", "whoami"]

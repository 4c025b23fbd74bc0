"""The URL convention of every client command (DESIGN.md section 2): the optional last
positional argument, `--url` as an alias (and wscat's -c/--connect for connect), `ws://` added
to a URL without a scheme; through the CLI against real servers on 127.0.0.1."""

import json

import pytest
from client_servers import echo_then_close, fake_service

FORMS = {
    "send": lambda url: ["send", '{"action": "whoami"}', url, "-w", "10"],  # ends at the reply
    "connect": lambda url: ["connect", url, "-x", '{"action": "whoami"}', "-w", "0.2"],
    "broadcast": lambda url: ["broadcast", "hi", url],
    "connections": lambda url: ["connections", url],
}


@pytest.mark.parametrize("command", sorted(FORMS))
def test_the_url_is_the_last_positional_argument(cli, ws_server, command):
    """Each client command reaches the URL given as its last positional argument."""
    server = ws_server(fake_service())
    result = cli(*FORMS[command](server.url))
    assert result.exit_code == 0, result.stderr
    assert server.recorded.messages


@pytest.mark.parametrize("command", sorted(FORMS))
def test_url_option_is_an_alias(cli, ws_server, command):
    """`--url URL` does what the positional URL does, for every client command."""
    server = ws_server(fake_service())
    args = FORMS[command]("PLACEHOLDER")
    args = [a for a in args if a != "PLACEHOLDER"] + ["--url", server.url]
    result = cli(*args)
    assert result.exit_code == 0, result.stderr
    assert server.recorded.messages


@pytest.mark.parametrize("flag", ["-c", "--connect"])
def test_connect_accepts_wscats_connect_flag(cli, ws_server, flag):
    """`wsctl connect -c URL` / `--connect URL`, as wscat users type it."""
    server = ws_server(echo_then_close)
    result = cli("connect", flag, server.url, "-x", "hello", "-w", "10")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "hello"


def test_a_url_without_a_scheme_gets_ws(cli, ws_server):
    """`127.0.0.1:PORT/path` is taken as ws://127.0.0.1:PORT/path, as wscat does."""
    server = ws_server(echo_then_close)
    result = cli("send", "hello", server.url.removeprefix("ws://"), "-w", "10")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == "hello"


def test_two_different_urls_are_a_usage_error(cli):
    """A positional URL and a different --url: exit 2, one line, nothing sent."""
    result = cli("connections", "ws://127.0.0.1:1/a", "--url", "ws://127.0.0.1:1/b")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "give the URL once" in result.stderr


def test_connections_json_keys_are_camel_case(cli, ws_server):
    """wsctl's own --json output uses camelCase keys, as the wire protocol does."""
    server = ws_server(fake_service())
    facts = json.loads(cli("connections", server.url, "--json").stdout)
    keys = set(facts) | {key for item in facts["connections"] for key in item}
    assert all("_" not in key for key in keys), keys


@pytest.mark.parametrize(
    "args",
    [
        ["connect", "ws://["],
        ["connections", "wss://[::1"],
        ["send", "hi", "ws://127.0.0.1:99999/"],
        ["send", "-s", "", "hi", "ws://127.0.0.1:1/"],
        ["send", "-s", "a b", "hi", "ws://127.0.0.1:1/"],
    ],
)
def test_malformed_urls_and_subprotocols_are_usage_errors(cli, args):
    """What the option fuzz found (internal errors before): one line, exit 2."""
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "internal error" not in result.stderr

"""Handshake options from wscat-style flags: headers, credentials, TLS."""

import base64
import ssl

import pytest

from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import (
    ConnectOptions,
    basic_authorization,
    connect_kwargs,
    handshake_headers,
    parse_header,
    ssl_context,
)
from wsctl.errors import ConfigError

OURS = Endpoint("ws://127.0.0.1:9/dev", "local", "wsctl-dev", None, token="s3cret")


def test_header_flags_parse_name_and_value():
    """-H 'Name: value' keeps the value's inner spaces and colons."""
    assert parse_header("X-Trace:  a: b ") == ("X-Trace", "a: b")


@pytest.mark.parametrize("bad", ["no colon", ": empty name", "Bad Name: x", "X: a\r\nY: b"])
def test_malformed_headers_are_usage_errors(bad):
    """A header that is not 'Name: value' on one line is refused with a ConfigError."""
    with pytest.raises(ConfigError):
        parse_header(bad)


def test_basic_auth_is_base64_of_user_and_password():
    """--auth user:pass becomes a Basic Authorization value."""
    value = basic_authorization("ann:pa:ss")
    assert value.startswith("Basic ")
    assert base64.b64decode(value[6:]) == b"ann:pa:ss"
    with pytest.raises(ConfigError):
        basic_authorization("no-password")


def test_the_stack_token_goes_as_bearer_to_its_own_endpoint():
    """Without an explicit Authorization, the stack's token is sent as a Bearer header."""
    assert ("Authorization", "Bearer s3cret") in handshake_headers(OURS, ConnectOptions())


def test_auth_wins_over_an_authorization_header_as_in_wscat():
    """With both -H 'Authorization: ...' and --auth, only --auth's Basic value is sent."""
    given = (("Authorization", "Bearer mine"), ("X-A", "1"))
    both = ConnectOptions(headers=given, basic_auth="u:p")
    headers = handshake_headers(OURS, both)
    assert headers == [("X-A", "1"), ("Authorization", basic_authorization("u:p"))]


def test_explicit_authorization_wins_over_the_stack_token():
    """-H Authorization or --auth replace the token; it is never sent alongside."""
    explicit = ConnectOptions(headers=(("authorization", "Bearer mine"),))
    assert handshake_headers(OURS, explicit) == [("authorization", "Bearer mine")]
    basic = handshake_headers(OURS, ConnectOptions(basic_auth="u:p"))
    assert [v for k, v in basic if k == "Authorization"] == [basic_authorization("u:p")]


def test_the_endpoint_repr_never_shows_the_token():
    """An endpoint printed in a log or traceback does not reveal the token."""
    assert "s3cret" not in repr(OURS)


def test_tls_context_only_for_wss(tmp_path):
    """ws:// gets no context; wss:// verifies by default; -n turns verification off."""
    assert ssl_context("ws://h/", ConnectOptions()) is None
    checked = ssl_context("wss://h/", ConnectOptions())
    assert checked.verify_mode == ssl.CERT_REQUIRED and checked.check_hostname
    unchecked = ssl_context("wss://h/", ConnectOptions(no_check=True))
    assert unchecked.verify_mode == ssl.CERT_NONE and not unchecked.check_hostname


def test_a_missing_or_bad_ca_file_is_a_usage_error(tmp_path):
    """--ca pointing at nothing, or at something that is not PEM, is one ConfigError line."""
    with pytest.raises(ConfigError, match="no such file"):
        ssl_context("wss://h/", ConnectOptions(ca_file=tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="not a PEM certificate"):
        ssl_context("wss://h/", ConnectOptions(ca_file=junk))


def test_connect_kwargs_map_every_option():
    """Subprotocols, origin, timeout and a wsctl User-Agent reach websockets' connect()."""
    options = ConnectOptions(subprotocols=("chat.v1",), origin="https://o.example", open_timeout=3)
    kwargs = connect_kwargs(Endpoint("ws://h/", "given"), options)
    assert kwargs["subprotocols"] == ["chat.v1"]
    assert kwargs["origin"] == "https://o.example"
    assert kwargs["open_timeout"] == 3
    assert kwargs["user_agent_header"].startswith("wsctl/")
    assert kwargs["compression"] is None
    assert "ssl" not in kwargs
    custom = connect_kwargs(
        Endpoint("ws://h/", "given"), ConnectOptions(headers=(("User-Agent", "me"),))
    )
    assert custom["user_agent_header"] is None

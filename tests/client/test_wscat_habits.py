"""What wscat users type (compared with wscat 6.1.0): --host, -L/--location, --proxy,
--cert/--key/--passphrase, -P with text payloads; through the CLI against real servers and a
real CONNECT proxy on 127.0.0.1."""

import ssl

import pytest
from client_servers import ConnectProxy, client_certificate, echo, echo_then_close


def test_host_replaces_the_host_header(cli, ws_server):
    """--host sends that Host header, once, in place of the URL's."""
    server = ws_server(echo)
    result = cli("send", "hi", server.url, "--host", "chat.example.com", "-w", "0.2")
    assert result.exit_code == 0, result.stderr
    assert server.recorded.headers[0]["host"] == "chat.example.com"


def test_a_redirect_is_reported_and_followed_only_with_location(cli, ws_server):
    """Without -L a redirect is one line naming where it goes and the flag to follow it;
    with -L the client follows it and talks to the new path."""
    server = ws_server(echo)
    moved = f"{server.url}redirect/chat"
    refused = cli("send", "hi", moved, "-w", "0.2")
    assert refused.exit_code == 1
    assert "redirects (HTTP 302) to /chat: pass -L/--location to follow it" in refused.stderr
    followed = cli("send", "hi", moved, "-L", "-w", "0.2")
    assert (followed.exit_code, followed.stdout) == (0, "hi\n"), followed.stderr
    assert server.recorded.messages == ["hi"]


def test_proxy_tunnels_the_connection(cli, ws_server):
    """--proxy http://HOST:PORT opens the connection through that proxy's CONNECT tunnel."""
    server = ws_server(echo_then_close)
    proxy = ConnectProxy().start()
    try:
        result = cli("send", "via proxy", server.url, "--proxy", proxy.url, "-w", "10")
    finally:
        proxy.stop()
    assert (result.exit_code, result.stdout) == (0, "via proxy\n"), result.stderr
    assert proxy.targets == [f"127.0.0.1:{server.port}"]


def test_a_bad_proxy_is_a_usage_error(cli, ws_server):
    """A --proxy that is not a proxy URL: exit 2, one line."""
    server = ws_server(echo)
    result = cli("send", "hi", server.url, "--proxy", "ftp://127.0.0.1:1")
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: --proxy:") and result.stderr.count("\n") == 1


@pytest.fixture
def mutual_tls(tmp_path, tls_files, ws_server):
    """A wss:// echo server that requires a client certificate, and that certificate."""
    cert, key = client_certificate(tmp_path, b"open sesame")
    demanding = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    demanding.load_cert_chain(tls_files.server_cert)
    demanding.verify_mode = ssl.CERT_REQUIRED
    demanding.load_verify_locations(cert)
    return ws_server(echo_then_close, ssl_context=demanding), tls_files.ca_cert, cert, key


def test_client_certificate_with_passphrase(cli, mutual_tls):
    """--cert/--key/--passphrase present a client certificate the server requires."""
    server, ca, cert, key = mutual_tls
    args = ["send", "hi", server.url, "--ca", str(ca), "-w", "10"]
    result = cli(*args, "--cert", str(cert), "--key", str(key), "--passphrase", "open sesame")
    assert (result.exit_code, result.stdout) == (0, "hi\n"), result.stderr
    assert server.recorded.messages == ["hi"]


def test_client_certificate_problems_are_one_line(cli, mutual_tls):
    """No certificate: the server refuses (exit 1); a wrong passphrase or --key alone: exit 2;
    never a traceback."""
    server, ca, cert, key = mutual_tls
    base = ["send", "hi", server.url, "--ca", str(ca), "-w", "0.5"]
    missing = cli(*base)
    wrong = cli(*base, "--cert", str(cert), "--key", str(key), "--passphrase", "nope")
    alone = cli(*base, "--key", str(key))
    assert missing.exit_code == 1
    assert (wrong.exit_code, alone.exit_code) == (2, 2)
    assert "--cert" in wrong.stderr and "--key needs --cert" in alone.stderr
    for result in (missing, wrong, alone):
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert server.recorded.messages == []

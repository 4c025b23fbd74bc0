"""`--auth iam` end to end on this machine: `wsctl up --local --auth iam` in its own process,
wsctl's client commands signing the handshake with the caller's credentials."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.auth.local_process import up_local
from wsctl import state
from wsctl.client.endpoint import Endpoint
from wsctl.client.handshake import credential_headers

STACK = "wsctl-dev"  # the bundled service's stack


@pytest.fixture
def iam_service(tmp_path):
    """`wsctl up --local --auth iam` running in another process; its local record."""
    with up_local(STACK, tmp_path, "--auth", "iam") as running:
        yield running


async def _plain_handshake_status(url: str) -> int:
    """The status a plain websockets client (no headers of ours) gets for ``url``."""
    try:
        async with connect(url, proxy=None):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


@pytest.mark.timeout(90)
def test_client_commands_sign_the_handshake_of_a_local_iam_stack(cli, iam_service, monkeypatch):
    """Signed by wsctl: send, broadcast, connections work; unsigned or wrongly signed: 403."""
    record = iam_service.record
    assert (record.auth, record.region) == ("iam", "us-east-1")
    assert "Checked here: the signature" in iam_service.wait_for_output("Not checked: IAM policies")
    assert asyncio.run(_plain_handshake_status(record.url)) == 403

    sent = cli("send", '{"action": "whoami"}')
    assert sent.exit_code == 0, sent.stderr
    assert json.loads(sent.stdout.splitlines()[0])["type"] == "whoami"
    broadcast = cli("broadcast", "hello", "--json")
    assert broadcast.exit_code == 0, broadcast.stderr
    assert json.loads(broadcast.stdout)["delivered"] == 1
    listing = cli("connections", "--json")
    assert listing.exit_code == 0, listing.stderr
    presigned = cli("token", "--browser-url").stdout.strip()  # what a browser would open
    assert "X-Amz-Signature=" in presigned
    assert asyncio.run(_plain_handshake_status(presigned)) == 101

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "someone-elses-secret")
    refused = cli("send", '{"action": "whoami"}')
    assert refused.exit_code == 1
    assert "rejected the handshake: HTTP 403" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_no_credentials_for_an_iam_stack_is_a_clear_error(cli, monkeypatch):
    """Without AWS credentials, a client command for an iam stack says how to provide them."""
    state.save_deployed(
        STACK, {"url": "wss://abc.execute-api.eu-west-1.amazonaws.com/dev", "auth": "iam"}
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = cli("send", '{"action": "whoami"}')
    assert result.exit_code == 2
    assert "no AWS credentials found" in result.stderr
    assert "Traceback" not in result.stderr


def test_iam_endpoint_gets_a_sigv4_signature_not_the_token():
    """An iam stack's handshake carries SigV4 for its region; a token is never added to it."""
    endpoint = Endpoint(
        "wss://abc.execute-api.eu-west-1.amazonaws.com/dev",
        "deployed",
        STACK,
        auth="iam",
        token="a-token-that-must-not-be-sent",
        region="eu-west-1",
    )
    headers = dict(credential_headers(endpoint))
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "a-token-that-must-not-be-sent" not in json.dumps(headers)


def test_region_comes_from_the_url_when_not_recorded():
    """Without a recorded region, the execute-api host name gives it."""
    endpoint = Endpoint(
        "wss://abc.execute-api.ap-south-1.amazonaws.com/dev", "given", STACK, auth="iam"
    )
    assert "/ap-south-1/execute-api/" in dict(credential_headers(endpoint))["Authorization"]


def test_token_stack_still_sends_its_bearer_token():
    """A token stack's handshake carries the bearer token and no signature."""
    endpoint = Endpoint("ws://127.0.0.1:1/dev", "local", STACK, auth="token", token="t0k")
    assert credential_headers(endpoint) == [("Authorization", "Bearer t0k")]

"""`wsctl token`: shows the stored connect token only when asked, and nothing else."""

from __future__ import annotations

from wsctl import sigv4, state
from wsctl.auth import ensure_token
from wsctl.commands.auth import url_with_token


def test_token_is_printed_alone_on_stdout(cli):
    """The stored token is the only thing on stdout, so `$(wsctl token)` works."""
    token = ensure_token("wsctl-dev")
    result = cli("token")
    assert (result.exit_code, result.stdout, result.stderr) == (0, token + "\n", "")


def test_stage_selects_the_stack(cli):
    """--stage picks that stack's token, not the default stage's."""
    ensure_token("wsctl-dev")
    prod = ensure_token("wsctl-prod")
    assert cli("token", "--stage", "prod").stdout == prod + "\n"


def test_no_token_is_a_clear_error(cli):
    """A stack without a token says how to create one, exit 1, nothing on stdout."""
    result = cli("token")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "wsctl up --auth token" in result.stderr


def test_url_appends_the_token_to_the_deployed_endpoint(cli):
    """--browser-url prints the deployed endpoint with ?token= for browsers."""
    token = ensure_token("wsctl-dev")
    state.save_deployed("wsctl-dev", {"url": "wss://abc.execute-api.eu-west-1.amazonaws.com/dev"})
    result = cli("token", "--browser-url")
    assert result.exit_code == 0
    assert result.stdout == f"wss://abc.execute-api.eu-west-1.amazonaws.com/dev?token={token}\n"


def test_url_without_an_endpoint_fails_without_the_token(cli):
    """--browser-url with no known endpoint fails, and the error does not carry the token."""
    token = ensure_token("wsctl-dev")
    result = cli("token", "--browser-url")
    assert result.exit_code == 1
    assert "No running local service or deployed stack" in result.stderr
    assert token not in result.stdout + result.stderr


def test_url_with_token_keeps_an_existing_query_and_encodes_the_token():
    """An existing query is kept and the token is URL-encoded."""
    assert url_with_token("ws://h/dev?a=1", "x y&z") == "ws://h/dev?a=1&token=x+y%26z"


def test_url_of_an_iam_stack_is_presigned_with_the_callers_credentials(cli):
    """For an iam stack, --browser-url prints a presigned wss:// URL the SigV4 check accepts."""
    host = "abc.execute-api.eu-west-1.amazonaws.com"
    state.save_deployed(
        "wsctl-dev", {"url": f"wss://{host}/dev", "auth": "iam", "region": "eu-west-1"}
    )
    result = cli("token", "--browser-url", "--expires", "60")
    assert result.exit_code == 0, result.stderr
    presigned = result.stdout.strip()
    assert presigned.startswith(f"wss://{host}/dev?") and "X-Amz-Expires=60" in presigned
    credentials = sigv4.session_credentials()
    path = presigned.split(host, 1)[1]
    check = sigv4.verify_handshake("GET", path, {"Host": host}, credentials, "eu-west-1")
    assert check.ok, check.reason


def test_the_local_token_is_apart_from_the_deployed_one(cli):
    """`up --local --auth token` keeps its own token: `token --local` prints it, `token`
    prints the deployed stack's (or says there is none), never the other one."""
    local = ensure_token(state.local_token_key("wsctl-dev"))
    alone = cli("token")
    assert alone.exit_code == 1 and local not in alone.stdout + alone.stderr
    assert cli("token", "--local").stdout == local + "\n"
    deployed = ensure_token("wsctl-dev")
    assert deployed != local and cli("token").stdout == deployed + "\n"

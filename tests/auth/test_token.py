"""`--auth token` through the emulator and the bundled service, with real websockets clients:
who gets in, that refused handshakes leave no record, and that wsctl's client sends the token."""

from __future__ import annotations

import asyncio
import json
import stat
import time
from urllib.parse import quote

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.auth.local_process import up_local
from wsctl import state
from wsctl.auth import ensure_token
from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.local import LocalService

SPEC = parse_spec_file(bundled_service_dir() / CONFIG_FILE).with_overrides(auth="token")
LOCAL_KEY = state.local_token_key(SPEC.stack)  # up --local keeps its token apart


@pytest.fixture
def token_service():
    """The bundled service with a token, recorded as the running local stack; its token."""
    token = ensure_token(LOCAL_KEY)
    with LocalService(SPEC, auth_token=token) as service:
        state.save_local(service.local_record())
        yield service, token


async def _handshake(service, query: str = "", headers: dict | None = None) -> tuple[int, int]:
    """The handshake's status, and how many records the table held while it was open."""
    try:
        async with connect(service.url + query, additional_headers=headers, proxy=None) as ws:
            await ws.send(json.dumps({"action": "whoami"}))
            reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert reply["type"] == "whoami"
            return 101, service.record_count()
    except InvalidStatus as exc:
        return exc.response.status_code, service.record_count()


def test_no_token_is_refused_with_401_and_no_record(token_service):
    """Without a token the handshake gets 401, and the table stays empty."""
    service, _ = token_service
    assert asyncio.run(_handshake(service)) == (401, 0)
    assert service.record_count() == 0


@pytest.mark.parametrize(
    "presented",
    ["Bearer wrong", "Bearer ", "Basic dXNlcjpwYXNz", "bearer-less", "Bearer {token}x"],
)
def test_wrong_token_in_the_header_is_refused(token_service, presented):
    """A wrong, empty, extended or differently-typed Authorization header: 401, no record."""
    service, token = token_service
    headers = {"Authorization": presented.format(token=token)}
    assert asyncio.run(_handshake(service, headers=headers)) == (401, 0)
    assert service.record_count() == 0


def test_wrong_token_in_the_query_is_refused(token_service):
    """A wrong ?token= gets 401, and no record."""
    service, token = token_service
    assert asyncio.run(_handshake(service, "?token=" + token[:-1])) == (401, 0)
    assert service.record_count() == 0


def test_token_in_the_header_is_accepted(token_service):
    """Authorization: Bearer <token> opens the connection."""
    service, token = token_service
    bearer = {"Authorization": f"Bearer {token}"}
    assert asyncio.run(_handshake(service, headers=bearer)) == (101, 1)


def test_token_in_the_query_is_accepted(token_service):
    """?token=<token> (what a browser can send) opens the connection."""
    service, token = token_service
    assert asyncio.run(_handshake(service, "?token=" + quote(token))) == (101, 1)


def test_refused_handshakes_leave_the_table_empty(token_service):
    """After accepted and refused handshakes alike, no record is left behind."""
    service, token = token_service
    asyncio.run(_handshake(service, headers={"Authorization": f"Bearer {token}"}))
    asyncio.run(_handshake(service, headers={"Authorization": "Bearer nope"}))
    deadline = time.monotonic() + 5
    while service.record_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.record_count() == 0


def test_client_commands_send_the_stored_token(cli, token_service):
    """send, broadcast and connections find the local stack and send its token themselves."""
    sent = cli("send", '{"action": "whoami"}')
    assert sent.exit_code == 0, sent.stderr
    assert json.loads(sent.stdout.splitlines()[0])["type"] == "whoami"
    broadcast = cli("broadcast", "hi", "--json")
    assert broadcast.exit_code == 0, broadcast.stderr
    assert json.loads(broadcast.stdout)["delivered"] == 1
    listing = cli("connections", "--json")
    assert listing.exit_code == 0, listing.stderr


def test_client_without_the_right_token_gets_one_line_401(cli, token_service):
    """With another token on this machine, the client says 401 in one line, no traceback."""
    state.save_token(LOCAL_KEY, "not-the-token")
    result = cli("send", '{"action": "whoami"}')
    assert result.exit_code == 1
    assert "rejected the handshake: HTTP 401" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_up_local_keeps_the_token_across_runs_unless_rotated(cli, tmp_path):
    """`up --local --auth token` creates the token, a re-run keeps it, --rotate-token replaces
    it, and the client follows: the old token is refused, the new one works."""
    with up_local(SPEC.stack, tmp_path, "--auth", "token") as running:
        first = state.load_token(LOCAL_KEY)
        assert state.load_token(SPEC.stack) is None  # the deployed stack's is apart
        assert first and running.record.auth == "token"
        assert cli("send", '{"action": "whoami"}').exit_code == 0
    with up_local(SPEC.stack, tmp_path, "--auth", "token"):
        assert state.load_token(LOCAL_KEY) == first
        assert cli("send", '{"action": "whoami"}').exit_code == 0
    with up_local(SPEC.stack, tmp_path, "--auth", "token", "--rotate-token") as running:
        rotated = state.load_token(LOCAL_KEY)
        assert rotated and rotated != first
        assert cli("send", '{"action": "whoami"}').exit_code == 0
        old = asyncio.run(_status(running.record.url, {"Authorization": f"Bearer {first}"}))
        assert old == 401
    token_file = state.home() / "secrets" / f"{LOCAL_KEY}.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


async def _status(url: str, headers: dict[str, str]) -> int:
    try:
        async with connect(url, additional_headers=headers, proxy=None):
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code

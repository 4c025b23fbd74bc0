"""Browser origins (DESIGN.md section 7): who may open a WebSocket, read the console's feed,
or call the management API."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.auth.local_process import up_local
from tests.local.conftest import next_json
from tests.local.test_management import http
from wsctl.local import LocalService
from wsctl.local.origin import (
    OriginPolicy,
    management_allowed,
    normalize,
    own_origins,
    parse_allowed,
)


def test_normalize_matches_how_browsers_serialize_origins():
    """Scheme and host lowercased, a trailing slash dropped, 'null' kept as it is."""
    assert normalize("HTTP://LocalHost:3000/") == "http://localhost:3000"
    assert normalize("https://app.example") == "https://app.example"
    assert normalize("null") == "null"


def test_own_origins_on_loopback_include_both_names():
    """A page opened as 127.0.0.1 or as localhost is the emulator's own."""
    assert own_origins("127.0.0.1", 8765) == {"http://127.0.0.1:8765", "http://localhost:8765"}
    assert own_origins("10.0.0.5", 80) == {"http://10.0.0.5:80"}


def test_policy_decisions():
    """No Origin: a program, allowed; own and allowed origins pass; the feed is own-only."""
    policy = OriginPolicy.for_server("127.0.0.1", 8765, ["http://localhost:3000/"])
    assert policy.handshake_allowed(None)
    assert policy.handshake_allowed("http://127.0.0.1:8765")
    assert policy.handshake_allowed("http://LOCALHOST:3000")
    assert not policy.handshake_allowed("http://127.0.0.1:8766")
    assert not policy.handshake_allowed("https://evil.example")
    assert not policy.handshake_allowed("null")
    assert policy.console_allowed("http://localhost:8765")
    assert not policy.console_allowed("http://localhost:3000")
    assert not policy.console_allowed(None)
    assert management_allowed(None) and not management_allowed("http://127.0.0.1:8765")


async def _handshake_status(url: str, origin: str | None) -> int:
    try:
        async with connect(url, origin=origin) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            await next_json(ws)
            return 101
    except InvalidStatus as exc:
        return exc.response.status_code


def test_handshake_origins_end_to_end(recorder_spec):
    """Own origin and --allow-origin values connect; another page's origin gets 403."""
    with LocalService(recorder_spec, allow_origins=("http://localhost:3000",)) as service:
        own = f"http://127.0.0.1:{service.port}"

        async def scenario():
            return [
                await _handshake_status(service.url, origin)
                for origin in (None, own, "http://localhost:3000", "http://127.0.0.1:1", "null")
            ]

        assert asyncio.run(scenario()) == [101, 101, 101, 403, 403]
        assert service.connection_count() == 0


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_management_refuses_requests_from_pages(recorder, method):
    """Any @connections request carrying an Origin, even the emulator's own, is refused 403."""
    url = f"{recorder.management_url}/some-id"
    data = b"x" if method == "POST" else None
    page = {"Origin": f"http://127.0.0.1:{recorder.port}"}
    status, headers, _ = http(method, url, data, page)
    assert status == 403
    assert headers["x-amzn-ErrorType"] == "ForbiddenException"
    # Without the header the same request reaches the API (unknown id: 410).
    assert http(method, url, data)[0] == 410


def test_parse_allowed_takes_origins_only():
    """scheme://host[:port] (a trailing slash tolerated); a bare host or a path is refused."""
    assert parse_allowed("http://LocalHost:3000/") == "http://localhost:3000"
    assert parse_allowed("https://app.example") == "https://app.example"
    for bad in ("localhost:3000", "http://localhost:3000/app", "ftp://x", "*", ""):
        with pytest.raises(ValueError, match="not an origin"):
            parse_allowed(bad)


def test_allow_origin_flag_errors_are_one_line_usage_errors(cli):
    """A malformed origin, or --allow-origin without --local: exit 2, one line, nothing run."""
    bad = cli("up", "--local", "--port", "0", "--allow-origin", "localhost:3000")
    assert bad.exit_code == 2 and "not an origin" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    remote = cli("up", "--allow-origin", "http://localhost:3000")
    assert remote.exit_code == 2 and "applies to up --local" in remote.stderr


def test_up_local_allow_origin_end_to_end(tmp_path):
    """`wsctl up --local --allow-origin O` (the CLI, its own process): O connects, others 403."""
    with up_local("wsctl-dev", tmp_path, "--allow-origin", "http://localhost:3000") as running:
        url = running.record.url

        async def scenario():
            return [
                await _handshake_status(url, origin)
                for origin in ("http://localhost:3000", "http://localhost:3001")
            ]

        assert asyncio.run(scenario()) == [101, 403]
        running.wait_for_output("a web page from http://localhost:3001 may not connect")

"""The @connections HTTP endpoint on the WebSocket port (urllib and boto3 over HTTP)."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect

from tests.local.conftest import events_of, next_json
from wsctl.local import connections
from wsctl.local.events import Peer
from wsctl.local.management import management_target


def http(
    method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def test_management_target_parsing():
    """/{stage}/@connections/{id}, '@' and the id percent-encoded or not; else None."""
    assert management_target("/dev/@connections/abc=", "dev") == "abc="
    assert management_target("/dev/%40connections/abc%3D", "dev") == "abc="
    assert management_target("/dev/@connections/", "dev") == ""
    assert management_target("/dev", "dev") is None
    assert management_target("/prod/@connections/x", "dev") is None
    assert management_target("/dev/connections/x", "dev") is None


async def _connected(service) -> tuple[object, str]:
    ws = await connect(service.url)
    await ws.send(json.dumps({"action": "echo"}))
    await next_json(ws)
    return ws, events_of(service.spec, "CONNECT")[-1]["requestContext"]["connectionId"]


def test_post_get_delete_over_http(recorder):
    """POST delivers the body, GET describes the connection, DELETE closes it (204)."""

    async def scenario():
        ws, connection_id = await _connected(recorder)
        url = f"{recorder.management_url}/{connection_id}"
        status, _, body = await asyncio.to_thread(http, "POST", url, b'{"hello": 1}')
        assert (status, body) == (200, b"")
        assert await ws.recv() == '{"hello": 1}'
        status, headers, body = await asyncio.to_thread(http, "GET", url)
        facts = json.loads(body)
        assert status == 200 and headers["Content-Type"] == "application/json"
        assert facts["identity"]["sourceIp"] == "127.0.0.1"
        assert facts["identity"]["userAgent"].startswith("Python/")
        assert facts["connectedAt"].endswith("Z") and facts["lastActiveAt"] >= facts["connectedAt"]
        status, _, _ = await asyncio.to_thread(http, "DELETE", url)
        assert status == 204
        await ws.wait_closed()
        status, _, _ = await asyncio.to_thread(http, "GET", url)
        assert status == 410

    asyncio.run(scenario())


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
def test_unknown_connection_is_gone(recorder, method):
    """An unknown id: 410 GoneException, with AWS's error header and a JSON body."""
    data = b"x" if method == "POST" else None
    status, headers, body = http(method, f"{recorder.management_url}/nobody%3D", data)
    assert status == 410
    assert headers["x-amzn-ErrorType"] == "GoneException"
    assert "message" in json.loads(body)


def test_payload_over_128k_is_413(recorder):
    """A POST body over 128 KB: 413 PayloadTooLargeException, nothing delivered."""

    async def scenario():
        ws, connection_id = await _connected(recorder)
        url = f"{recorder.management_url}/{connection_id}"
        status, headers, _ = await asyncio.to_thread(http, "POST", url, b"x" * (128 * 1024 + 1))
        assert status == 413 and headers["x-amzn-ErrorType"] == "PayloadTooLargeException"
        status, _, _ = await asyncio.to_thread(http, "POST", url, b"x" * (128 * 1024))
        assert status == 200
        assert len(await ws.recv()) == 128 * 1024
        await ws.close()

    asyncio.run(scenario())


def test_other_methods_are_forbidden(recorder):
    """PUT on @connections is not an operation: 403 ForbiddenException."""
    status, headers, _ = http("PUT", f"{recorder.management_url}/x%3D", b"")
    assert status == 403 and headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_boto3_client_over_http(recorder):
    """boto3's apigatewaymanagementapi client, endpoint_url http://127.0.0.1:port/stage."""
    client = boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=recorder.management_url.rsplit("/", 1)[0],
        region_name="us-east-1",
    )

    async def scenario():
        ws, connection_id = await _connected(recorder)
        await asyncio.to_thread(client.post_to_connection, ConnectionId=connection_id, Data=b"hi")
        assert await ws.recv() == "hi"
        facts = await asyncio.to_thread(client.get_connection, ConnectionId=connection_id)
        assert facts["Identity"]["SourceIp"] == "127.0.0.1"
        await ws.close()

    asyncio.run(scenario())
    with pytest.raises(ClientError) as caught:
        client.post_to_connection(ConnectionId="gone-connection=", Data=b"x")
    assert caught.value.response["Error"]["Code"] == "GoneException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def _echo_works(service) -> None:
    async def scenario():
        async with connect(service.url) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            assert (await next_json(ws))["route"] == "echo"

    asyncio.run(scenario())


def test_websocket_still_works_after_management_calls(recorder):
    """HTTP requests on the port do not disturb WebSocket handshakes."""
    for _ in range(5):
        assert http("GET", f"{recorder.management_url}/none%3D")[0] == 410
    _echo_works(recorder)


def test_garbage_on_the_port_is_refused_quietly(recorder, capsys):
    """Bytes that are not HTTP: the connection is closed, nothing logged, service unharmed."""
    import socket

    with socket.create_connection(("127.0.0.1", recorder.port), timeout=5) as raw:
        raw.sendall(b"\x16\x03\x01 not http at all\r\n\r\n")
        raw.settimeout(5)
        answer = raw.recv(1024)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 4")
    _echo_works(recorder)
    assert "Traceback" not in capsys.readouterr().err


def test_watchers_get_the_changes_they_lack_or_every_live_id_when_far_behind(monkeypatch):
    """What a sandbox is told of live connections: nothing new, the arrivals and departures
    since it last heard, or (once those were let go) the whole list."""
    monkeypatch.setattr(connections, "CHANGES_KEPT", 4)
    loop = asyncio.new_event_loop()
    loop.close()  # the log needs no running loop: it is kept on the loop's thread
    backend = connections.ConnectionsBackend(loop, 1024, 1024)

    def live(connection_id: str) -> connections.LiveConnection:
        peer = Peer(connection_id, connected_at=0, source_ip="127.0.0.1", user_agent=None)
        return connections.LiveConnection(peer, websocket=None)  # type: ignore[arg-type]

    assert backend.changes_since(None) == (0, ("full", []))
    a, b, c = live("a"), live("b"), live("c")
    backend.add(a)
    backend.add(b)
    seen, news = backend.changes_since(0)
    assert (seen, news) == (2, ("delta", [(True, "a"), (True, "b")]))
    assert backend.changes_since(seen) == (2, None)
    backend.remove(a)
    backend.remove(a)  # already gone: no change
    assert backend.changes_since(seen) == (3, ("delta", [(False, "a")]))
    backend.add(c)
    backend.remove(b)  # five changes: the oldest are let go
    assert backend.changes_since(seen) == (5, ("delta", [(False, "a"), (True, "c"), (False, "b")]))
    assert backend.changes_since(0) == (5, ("full", ["c"]))

"""What AWS does that code may depend on: headers and close reasons as AWS sends them, the
integration timeout, $disconnect for every admitted connection, the idle timer's input."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.local.conftest import (
    RECORDER_TOML,
    connection_ids,
    events_of,
    eventually,
    next_json,
    write_service,
)
from wsctl.local import LocalService, Quotas


def test_connect_headers_are_those_aws_passes(recorder):
    """$connect sees no Upgrade/Connection, and X-Forwarded-Proto https on port 443 with a
    trace id, as API Gateway's edge sends them."""

    async def scenario():
        async with connect(recorder.url) as ws:
            await connection_ids(recorder.spec, [ws])

    asyncio.run(scenario())
    headers = events_of(recorder.spec, "CONNECT")[0]["headers"]
    assert not {"Upgrade", "Connection"} & set(headers)
    assert headers["Sec-WebSocket-Version"] == "13"
    assert (headers["X-Forwarded-Proto"], headers["X-Forwarded-Port"]) == ("https", "443")
    assert headers["X-Forwarded-For"] == "127.0.0.1"
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-")


def test_message_id_differs_from_request_id(recorder):
    """Each MESSAGE event has a messageId of its own, not the request id."""

    async def scenario():
        async with connect(recorder.url) as ws:
            await connection_ids(recorder.spec, [ws])

    asyncio.run(scenario())
    context = events_of(recorder.spec, "MESSAGE")[0]["requestContext"]
    assert context["messageId"] and context["messageId"] != context["requestId"]


def test_close_frame_without_status_is_reported_as_aws_does(recorder):
    """A close frame with no status code: $disconnect gets 1005 and AWS's reason."""

    async def scenario():
        async with connect(recorder.url) as ws:
            await connection_ids(recorder.spec, [ws])
            # An empty close frame, serialized by websockets' own protocol (close() always
            # sends a code).
            ws.protocol.send_close()
            for data in ws.protocol.data_to_send():
                ws.transport.write(data)
            await asyncio.wait_for(ws.wait_closed(), 5)

    asyncio.run(scenario())
    context = eventually(lambda: events_of(recorder.spec, "DISCONNECT"))[0]["requestContext"]
    assert context["disconnectStatusCode"] == 1005
    assert context["disconnectReason"] == "Client-side close frame status not set"


UPGRADE = (
    "GET /test?slow=0.5 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n\r\n"
)


def test_a_client_gone_after_its_upgrade_request_gets_its_disconnect(recorder):
    """A raw socket that sends the upgrade request and drops while $connect runs: its
    $connect record is followed by a $disconnect for the same connection."""
    with socket.create_connection(("127.0.0.1", recorder.port), timeout=5) as raw:
        raw.sendall(UPGRADE.encode("ascii"))
    connected = eventually(lambda: events_of(recorder.spec, "CONNECT"))
    gone = eventually(lambda: events_of(recorder.spec, "DISCONNECT"))
    assert [e["requestContext"]["connectionId"] for e in gone] == [
        e["requestContext"]["connectionId"] for e in connected
    ]
    assert gone[0]["requestContext"]["disconnectStatusCode"] == 1006
    assert recorder.connection_count() == 0


def test_many_clients_dropping_mid_handshake_leave_no_ghost(recorder):
    """Every $connect that ran has its $disconnect, whether the client left before, during
    or after the 101 (some of ten drops land in each window)."""
    for k in range(10):
        with socket.create_connection(("127.0.0.1", recorder.port), timeout=5) as raw:
            raw.sendall(UPGRADE.replace("slow=0.5", f"slow=0.0{k}").encode("ascii"))
    connected = eventually(lambda: len(events_of(recorder.spec, "CONNECT")) == 10 or None)
    assert connected

    def all_disconnected():
        ids = {e["requestContext"]["connectionId"] for e in events_of(recorder.spec, "CONNECT")}
        gone = {e["requestContext"]["connectionId"] for e in events_of(recorder.spec, "DISCONNECT")}
        return ids == gone

    eventually(all_disconnected)


SLOW_TOML = RECORDER_TOML.replace("memory = 256\ntimeout = 3", "memory = 256\ntimeout = 10")


def test_integration_timeout_holds_whatever_the_function_timeout(tmp_path):
    """A function allowed 10 s that takes 5: past the integration timeout the client gets
    API Gateway's 'Endpoint request timed out' frame, and the connection stays up."""
    from tests.local.conftest import RECORDER_HANDLER

    spec = write_service(tmp_path / "slow", SLOW_TOML, RECORDER_HANDLER)
    assert spec.functions["default"].timeout == 10
    with LocalService(spec, quotas=Quotas(integration_timeout=0.5)) as service:

        async def scenario():
            async with connect(service.url) as ws:
                await ws.send("sleep")  # the recorder's default sleeps 5 s on this
                frame = await next_json(ws, timeout=20)
                assert frame["message"] == "Endpoint request timed out"
                await ws.send(json.dumps({"action": "echo"}))
                # The sleeping invocation's own late reply may come first: it ran on.
                routes = [(await next_json(ws, timeout=20)).get("route") for _ in range(1)]
                if routes[0] != "echo":
                    routes.append((await next_json(ws, timeout=20)).get("route"))
                assert routes[-1] == "echo"

        asyncio.run(scenario())


def test_integration_timeout_on_connect_is_504(tmp_path):
    """$connect slower than the integration timeout: the handshake is refused with 504."""
    from tests.local.conftest import RECORDER_HANDLER

    spec = write_service(tmp_path / "slowc", RECORDER_TOML, RECORDER_HANDLER)
    with LocalService(spec, quotas=Quotas(integration_timeout=0.3)) as service:

        async def scenario():
            with pytest.raises(InvalidStatus) as refused:
                async with connect(service.url + "?slow=3"):
                    pass
            return refused.value.response.status_code

        assert asyncio.run(scenario()) == 504


def _last_active(service: LocalService, connection_id: str) -> str:
    url = f"{service.management_url}/{connection_id}"
    with urllib.request.urlopen(url) as response:
        return json.loads(response.read())["lastActiveAt"]


def test_an_incoming_message_alone_counts_as_activity(recorder):
    """A message to a route that never replies moves lastActiveAt (nothing is sent back)."""

    async def scenario():
        async with connect(recorder.url) as ws:
            (cid,) = await connection_ids(recorder.spec, [ws])
            before = await asyncio.to_thread(_last_active, recorder, cid)
            await asyncio.sleep(0.05)  # lastActiveAt has millisecond resolution
            await ws.send("quiet")
            eventually_quiet = lambda: [  # noqa: E731
                e for e in events_of(recorder.spec, "MESSAGE") if e["body"] == "quiet"
            ]
            await asyncio.to_thread(eventually, eventually_quiet)
            after = await asyncio.to_thread(_last_active, recorder, cid)
            assert after > before

    asyncio.run(scenario())


def test_incoming_messages_keep_a_connection_past_the_idle_timeout(recorder_spec):
    """Messages to a silent route, one every 0.1 s for three idle timeouts, keep the
    connection open; once they stop it is closed 1001."""
    with LocalService(recorder_spec, quotas=Quotas(idle_timeout=1.0)) as service:

        async def scenario():
            async with connect(service.url) as ws:
                for _ in range(30):  # bounded: 30 × 0.1 s
                    await ws.send("quiet")
                    await asyncio.sleep(0.1)
                assert ws.state.name == "OPEN"
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10)
                assert ws.close_code == 1001

        asyncio.run(scenario())


def test_management_api_requires_sigv4_under_iam(recorder_spec):
    """auth = "iam": a signed @connections POST (boto3 with this machine's credentials) is
    delivered; the same request unsigned gets 403 ForbiddenException."""
    import boto3

    from wsctl import sigv4

    spec = dataclasses.replace(recorder_spec, auth="iam")
    credentials = sigv4.session_credentials()

    async def scenario(service):
        headers = sigv4.sign_handshake(service.url, credentials, "us-east-1")
        async with connect(service.url, additional_headers=headers) as ws:
            (cid,) = await connection_ids(spec, [ws])
            client = boto3.client(
                "apigatewaymanagementapi",
                endpoint_url=f"http://127.0.0.1:{service.port}/{spec.stage}",
                region_name="us-east-1",
                aws_access_key_id=credentials.access_key,
                aws_secret_access_key=credentials.secret_key,
                aws_session_token=credentials.token,
            )
            await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=b"signed")
            assert await asyncio.wait_for(ws.recv(), 5) == "signed"
            unsigned = urllib.request.Request(
                f"{service.management_url}/{cid}", data=b"unsigned", method="POST"
            )
            with pytest.raises(urllib.error.HTTPError) as refused:
                await asyncio.to_thread(urllib.request.urlopen, unsigned)
            assert refused.value.code == 403
            assert refused.value.headers["x-amzn-ErrorType"] == "ForbiddenException"

    with LocalService(spec) as service:
        asyncio.run(scenario(service))

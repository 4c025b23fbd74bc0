"""The data plane with real websockets clients: events, routes, $connect answers, limits,
timers and the close status $disconnect reports."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import urllib.error
import urllib.request

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.local.conftest import connection_ids, events_of, eventually, next_json, recorded
from wsctl.local import LocalService, Quotas


def run(coro):
    return asyncio.run(coro)


def test_event_shapes_per_event_type(recorder):
    """CONNECT, MESSAGE and DISCONNECT events carry what AWS sends for each."""

    async def scenario():
        async with connect(
            recorder.url + "?tag=1&tag=2", additional_headers={"X-Test": "yes"}
        ) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            await next_json(ws)
            await ws.close(4000, "bye")

    run(scenario())
    spec = recorder.spec
    connect_event = events_of(spec, "CONNECT")[0]
    assert connect_event["headers"]["X-Test"] == "yes"
    assert connect_event["multiValueHeaders"]["X-Test"] == ["yes"]
    assert connect_event["queryStringParameters"] == {"tag": "2"}
    assert connect_event["multiValueQueryStringParameters"] == {"tag": ["1", "2"]}
    context = connect_event["requestContext"]
    assert context["stage"] == "test"
    assert context["domainName"] == f"127.0.0.1:{recorder.port}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["identity"]["userAgent"].startswith("Python/")
    message = events_of(spec, "MESSAGE")[0]
    assert message["body"] == '{"action": "echo"}' and message["isBase64Encoded"] is False
    assert message["requestContext"]["connectionId"] == context["connectionId"]
    assert message["requestContext"]["connectedAt"] == context["connectedAt"]
    assert message["requestContext"]["messageId"]
    disconnect = eventually(lambda: events_of(spec, "DISCONNECT"))[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 4000
    assert disconnect["requestContext"]["disconnectReason"] == "bye"


def test_repeated_user_agent_is_combined_not_a_server_error(recorder):
    """Two User-Agent headers: the handshake succeeds and identity.userAgent joins them."""

    async def scenario():
        headers = [("User-Agent", "first/1"), ("User-Agent", "second/2")]
        async with connect(recorder.url, additional_headers=headers, user_agent_header=None):
            pass

    run(scenario())
    context = events_of(recorder.spec, "CONNECT")[0]["requestContext"]
    assert context["identity"]["userAgent"] == "first/1, second/2"


def test_route_selection_end_to_end(recorder):
    """Matching action → its route; non-JSON → $default; binary: close 1003, as on AWS."""

    async def scenario():
        async with connect(recorder.url) as ws:
            await ws.send(json.dumps({"action": "echo", "x": 1}))
            assert (await next_json(ws))["route"] == "echo"
            await ws.send("plain text")
            assert (await next_json(ws))["route"] == "$default"
            await ws.send(json.dumps({"action": "unknown"}))
            assert (await next_json(ws))["route"] == "$default"
            await ws.send(b"\x01\x02")
            with pytest.raises(ConnectionClosed):
                await ws.recv()
            assert ws.close_code == 1003

    run(scenario())


def test_no_default_route_answers_forbidden(recorder_spec):
    """Without $default an unmatched message gets API Gateway's Forbidden frame."""
    routes = {key: fn for key, fn in recorder_spec.routes.items() if key != "$default"}
    spec = dataclasses.replace(recorder_spec, routes=routes)

    async def scenario(service):
        async with connect(service.url) as ws:
            await ws.send("no route for this")
            frame = await next_json(ws)
            assert frame["message"] == "Forbidden"
            assert set(frame) == {"message", "connectionId", "requestId"}
            await ws.send(json.dumps({"action": "echo"}))
            assert (await next_json(ws))["route"] == "echo"

    with LocalService(spec) as service:
        run(scenario(service))
    assert not events_of(spec, "MESSAGE")[1:]  # only the echo reached a function


def test_connect_refused_with_the_handlers_status(recorder):
    """$connect answering 401 refuses the handshake with 401; no $disconnect follows."""

    async def scenario():
        with pytest.raises(InvalidStatus) as caught:
            async with connect(recorder.url + "?status=401"):
                pass
        assert caught.value.response.status_code == 401
        assert b"refused by the handler" in caught.value.response.body

    run(scenario())
    assert len(events_of(recorder.spec, "CONNECT")) == 1
    assert events_of(recorder.spec, "DISCONNECT") == []


def test_connect_handler_that_raises_gives_500(recorder):
    """A raising $connect handler refuses the handshake with 500."""

    async def scenario():
        with pytest.raises(InvalidStatus) as caught:
            async with connect(recorder.url + "?raise=1"):
                pass
        assert caught.value.response.status_code == 500

    run(scenario())


def test_wrong_stage_is_forbidden(recorder):
    """Only /{stage} is a WebSocket endpoint."""

    async def scenario():
        with pytest.raises(InvalidStatus) as caught:
            async with connect(recorder.url.replace("/test", "/other")):
                pass
        assert caught.value.response.status_code == 403

    run(scenario())
    assert events_of(recorder.spec, "CONNECT") == []


def test_raising_message_handler_sends_error_frame_and_keeps_connection(recorder, capsys):
    """A raising handler: AWS's Internal server error frame, traceback on the console only."""

    async def scenario():
        async with connect(recorder.url) as ws:
            await ws.send("raise")
            frame = await next_json(ws)
            assert frame["message"] == "Internal server error"
            assert frame["connectionId"] and frame["requestId"]
            assert "Traceback" not in json.dumps(frame)
            await ws.send(json.dumps({"action": "echo"}))
            assert (await next_json(ws))["route"] == "echo"

    run(scenario())
    assert "default fails on purpose" in capsys.readouterr().err


def test_post_during_connect_is_gone(recorder):
    """The connection id exists only after $connect returned: posting to it there gets 410."""

    async def scenario():
        async with connect(recorder.url + "?selfpost=1") as ws:
            await ws.send(json.dumps({"action": "echo"}))
            assert (await next_json(ws))["route"] == "echo"

    run(scenario())
    assert recorded(recorder.spec)[0]["selfpost"] == "GoneException"


def test_frame_over_32k_closes_1009(recorder):
    """One frame over 32 KB: close 1009; other clients are untouched."""

    async def scenario():
        async with connect(recorder.url) as bystander, connect(recorder.url) as offender:
            await offender.send("x" * (32 * 1024 + 1))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(offender.recv(), 5)
            assert offender.close_code == 1009
            await bystander.send(json.dumps({"action": "echo"}))
            assert (await next_json(bystander))["route"] == "echo"

    run(scenario())
    disconnects = eventually(lambda: events_of(recorder.spec, "DISCONNECT")[1:] and True)
    assert disconnects
    statuses = [
        e["requestContext"]["disconnectStatusCode"] for e in events_of(recorder.spec, "DISCONNECT")
    ]
    assert statuses == [1009, 1000]  # the offender first, then the bystander leaving normally


def test_message_limit_is_128k_across_fragments(recorder):
    """128 KB in 32 KB fragments is accepted; one byte more closes 1009."""
    chunk = 32 * 1024

    async def scenario():
        async with connect(recorder.url, max_size=None) as ws:
            await ws.send(["a" * chunk] * 4)
            reply = await next_json(ws)
            assert (reply["route"], reply["length"]) == ("$default", 4 * chunk)
            await ws.send(["a" * chunk] * 4 + ["a"])
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1009

    run(scenario())


def test_idle_timeout_closes_1001(short_timers):
    """No message for the idle timeout: close 1001 Going away, reported to $disconnect."""

    async def scenario():
        async with connect(short_timers.url) as ws:
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert (ws.close_code, ws.close_reason) == (1001, "Going away")

    run(scenario())
    disconnect = eventually(lambda: events_of(short_timers.spec, "DISCONNECT"))[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1001
    assert disconnect["requestContext"]["disconnectReason"] == "Going away"


def test_lifetime_closes_1001_even_when_active(short_timers):
    """An active connection still ends at the maximum lifetime with 1001."""

    async def scenario():
        async with connect(short_timers.url) as ws:
            loop = asyncio.get_running_loop()
            started = loop.time()
            with pytest.raises(ConnectionClosed):
                for _ in range(100):  # bounded: 100 × 0.1 s
                    await ws.send(json.dumps({"action": "echo"}))
                    await next_json(ws)
                    await asyncio.sleep(0.1)
            assert ws.close_code == 1001
            assert loop.time() - started >= 1.4  # kept alive past the 0.6 s idle timeout

    run(scenario())
    disconnect = eventually(lambda: events_of(short_timers.spec, "DISCONNECT"))[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1001


def test_server_side_delete_reports_1000(recorder):
    """DELETE @connections/{id}: the client is closed and $disconnect sees 1000."""

    async def scenario():
        async with connect(recorder.url) as ws:
            (connection_id,) = await connection_ids(recorder.spec, [ws])
            request = urllib.request.Request(
                f"{recorder.management_url}/{connection_id}", method="DELETE"
            )
            response = await asyncio.to_thread(urllib.request.urlopen, request)
            assert response.status == 204
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), 5)
            assert ws.close_code == 1000

    run(scenario())
    disconnect = eventually(lambda: events_of(recorder.spec, "DISCONNECT"))[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1000
    assert disconnect["requestContext"]["disconnectReason"] == "Connection Closed Normally"


def test_tcp_drop_reports_1006(recorder):
    """A client vanishing without a close frame: $disconnect with 1006."""

    async def scenario():
        ws = await connect(recorder.url)
        await ws.send(json.dumps({"action": "echo"}))
        await next_json(ws)
        ws.transport.abort()

    run(scenario())
    disconnect = eventually(lambda: events_of(recorder.spec, "DISCONNECT"))[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1006
    eventually(lambda: recorder.connection_count() == 0)


def test_shutdown_closes_1001_and_runs_disconnect(recorder_spec):
    """Stopping the service closes clients with 1001 and runs each $disconnect first."""
    service = LocalService(recorder_spec).start()
    try:

        async def scenario():
            clients = [await connect(service.url) for _ in range(3)]
            closed = await asyncio.to_thread(service.stop)
            assert closed == 3
            for ws in clients:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 5)
                assert ws.close_code == 1001

        run(scenario())
    finally:
        service.stop()
    statuses = {
        e["requestContext"]["disconnectStatusCode"] for e in events_of(recorder_spec, "DISCONNECT")
    }
    assert len(events_of(recorder_spec, "DISCONNECT")) == 3 and statuses == {1001}


def test_flooding_client_does_not_hold_up_others(recorder):
    """A client firing garbage as fast as it can; another client's echo still comes back."""

    async def scenario():
        flooder = await connect(recorder.url)
        async with connect(recorder.url) as calm:
            for _ in range(200):
                await flooder.send("garbage \x00 {not json")
            await calm.send(json.dumps({"action": "echo"}))
            assert (await next_json(calm))["route"] == "echo"
        # It never reads its replies, so it could not complete a closing handshake: drop it.
        flooder.transport.abort()

    run(scenario())


def test_iam_auth_checks_the_handshake_signature(recorder_spec):
    """auth = "iam": a handshake signed with this machine's credentials passes; unsigned 403."""
    from wsctl import sigv4

    spec = dataclasses.replace(recorder_spec, auth="iam")
    credentials = sigv4.session_credentials()

    async def scenario(service):
        with pytest.raises(InvalidStatus) as unsigned:
            async with connect(service.url):
                pass
        assert unsigned.value.response.status_code == 403
        headers = sigv4.sign_handshake(service.url, credentials, "us-east-1")
        async with connect(service.url, additional_headers=headers) as ws:
            await ws.send(json.dumps({"action": "echo"}))
            assert (await next_json(ws))["route"] == "echo"

    with LocalService(spec) as service:
        asyncio.run(scenario(service))
    assert len(events_of(spec, "CONNECT")) == 1  # the unsigned handshake never reached $connect


def test_client_that_never_reads_is_dropped_past_the_write_buffer_bound(recorder_spec):
    """Posts to a client that reads nothing pile up to the bound, then it is dropped (410 to
    the next post) and $disconnect reports 1008: the emulator's memory stays bounded."""
    quotas = Quotas(write_buffer_bytes=256 * 1024)
    payload = b"x" * (100 * 1024)

    async def scenario(service):
        ws = await connect(service.url)
        (connection_id,) = await connection_ids(recorder_spec, [ws])
        ws.transport.pause_reading()  # from here on this client reads nothing
        url = f"{service.management_url}/{connection_id}"
        statuses = []
        for _ in range(600):  # bounded: 60 MB at most, far beyond any socket buffer
            request = urllib.request.Request(url, data=payload, method="POST")
            try:
                response = await asyncio.to_thread(urllib.request.urlopen, request)
                statuses.append(response.status)
            except urllib.error.HTTPError as exc:
                statuses.append(exc.code)
                break
        ws.transport.abort()
        return statuses

    with LocalService(recorder_spec, quotas=quotas) as service:
        statuses = run(scenario(service))
        assert statuses[-1] == 410 and set(statuses[:-1]) == {200}
        eventually(lambda: service.connection_count() == 0)
    disconnect = eventually(lambda: events_of(recorder_spec, "DISCONNECT"))[0]
    assert disconnect["requestContext"]["disconnectStatusCode"] == 1008

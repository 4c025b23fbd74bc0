"""The bundled service (lambda_code/ and wsctl.toml), unchanged, through the emulator."""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect

from tests.local.conftest import eventually
from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.local import LocalService


@pytest.fixture(params=[False, True], ids=["threads", "sandboxes"])
def bundled(request):
    """The bundled service, its functions in the emulator's threads or in sandboxes (where
    its wsctl.toml permissions are enforced)."""
    spec = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    with LocalService(spec, sandboxes=request.param) as service:
        yield service


async def frame_of(ws, frame_type: str, timeout: float = 10.0) -> dict:
    """The next frame of ``frame_type``, skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == frame_type:
                return frame


async def whoami(ws) -> str:
    await ws.send(json.dumps({"action": "whoami"}))
    return (await frame_of(ws, "whoami"))["connectionId"]


def test_broadcast_reaches_three_clients_and_ack_counts_three(bundled):
    """Three clients; one broadcasts; all three receive it; the sender's ack says 3."""

    async def scenario():
        clients = [await connect(bundled.url) for _ in range(3)]
        sender_id = await whoami(clients[0])
        await clients[0].send(json.dumps({"action": "broadcast", "message": {"n": 1}}))
        for ws in clients:
            frame = await frame_of(ws, "broadcast")
            assert (frame["from"], frame["message"]) == (sender_id, {"n": 1})
        ack = await frame_of(clients[0], "ack")
        assert (ack["delivered"], ack["gone"], ack["failed"]) == (3, 0, 0)
        for ws in clients:
            await ws.close()

    asyncio.run(scenario())


def test_broadcasts_from_every_client_at_once_all_arrive(bundled):
    """Twenty clients broadcast at the same moment (twenty invocations sharing the fan-out
    workers): each client receives all twenty, and every ack counts twenty."""
    count = 20

    async def scenario():
        clients = [await connect(bundled.url) for _ in range(count)]
        for n, ws in enumerate(clients):
            await ws.send(json.dumps({"action": "broadcast", "message": n}))

        async def collect(ws) -> tuple[list[int], dict]:
            received, ack = [], None
            async with asyncio.timeout(30):
                while len(received) < count or ack is None:
                    frame = json.loads(await ws.recv())
                    if frame["type"] == "broadcast":
                        received.append(frame["message"])
                    elif frame["type"] == "ack":
                        ack = frame
            return received, ack

        results = await asyncio.gather(*(collect(ws) for ws in clients))
        for received, ack in results:
            assert sorted(received) == list(range(count))
            assert (ack["delivered"], ack["gone"], ack["failed"]) == (count, 0, 0)
        for ws in clients:
            await ws.close()

    asyncio.run(scenario())


def test_list_whoami_and_send(bundled):
    """list shows both clients; whoami names the caller; send reaches only its target."""

    async def scenario():
        async with connect(bundled.url) as a, connect(bundled.url) as b:
            a_id, b_id = await whoami(a), await whoami(b)
            await a.send(json.dumps({"action": "list"}))
            listing = await frame_of(a, "connections")
            assert listing["count"] == 2
            assert {c["connectionId"] for c in listing["connections"]} == {a_id, b_id}
            await a.send(json.dumps({"action": "send", "to": b_id, "message": "psst"}))
            message = await frame_of(b, "message")
            assert (message["from"], message["message"]) == (a_id, "psst")
            assert (await frame_of(a, "ack"))["delivered"] == 1

    asyncio.run(scenario())


def test_tcp_drop_is_cleaned_up(bundled):
    """A client vanishing without a close frame: its record is removed by $disconnect."""

    async def scenario():
        dropper = await connect(bundled.url)
        await whoami(dropper)
        dropper.transport.abort()

    asyncio.run(scenario())
    eventually(lambda: bundled.record_count() == 0)
    assert bundled.connection_count() == 0


def test_500_connect_disconnect_cycles_leave_no_records(bundled):
    """500 connections opened and closed (50 at a time): zero records remain."""

    async def cycle():
        async with connect(bundled.url):
            pass

    async def scenario():
        for _ in range(10):
            await asyncio.gather(*(cycle() for _ in range(50)))

    asyncio.run(scenario())
    bundled.close_connections()  # waits for every $disconnect still running
    assert bundled.record_count() == 0


def test_misbehaving_client_does_not_disturb_others(bundled):
    """Garbage, unknown actions, oversize and binary frames from clients; others carry on."""

    async def scenario():
        async with connect(bundled.url) as good, connect(bundled.url) as other:
            bad = await connect(bundled.url)
            for junk in ("not json", "[]", '{"action": "fly"}', '{"action": "send"}'):
                await bad.send(junk)
                assert (await frame_of(bad, "error"))["error"]
            await bad.send("x" * (200 * 1024))
            await asyncio.wait_for(bad.wait_closed(), 5)
            assert bad.close_code == 1009
            binary = await connect(bundled.url)
            await binary.send(b"\x00")
            await asyncio.wait_for(binary.wait_closed(), 5)
            assert binary.close_code == 1003  # API Gateway refuses binary frames
            await good.send(json.dumps({"action": "broadcast", "message": "still here"}))
            assert (await frame_of(other, "broadcast"))["message"] == "still here"
            assert (await frame_of(good, "ack"))["delivered"] == 2

    asyncio.run(scenario())
    eventually(lambda: bundled.record_count() == 0)

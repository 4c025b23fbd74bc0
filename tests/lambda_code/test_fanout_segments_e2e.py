"""The segmented broadcast end to end through the emulator: the bundled service unchanged,
FANOUT_SEGMENT_SIZE=50 in its wsctl.toml, 300 real WebSocket clients on 127.0.0.1, the
segments run by the emulator's Lambda Invoke (InvocationType=Event)."""

from __future__ import annotations

import asyncio
import json
import shutil

import boto3
from websockets.asyncio.client import connect

from wsctl import naming
from wsctl.config import CODE_DIR, CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.local import LocalService

CLIENTS = 300


def _service(tmp_path):
    """The bundled service in ``tmp_path``, its broadcast function set to 50 per segment."""
    shutil.copytree(bundled_service_dir() / CODE_DIR, tmp_path / CODE_DIR)
    text = (bundled_service_dir() / CONFIG_FILE).read_text()
    text = text.replace(
        "\n[routes]", '\n[functions.broadcast.environment]\nFANOUT_SEGMENT_SIZE = "50"\n\n[routes]'
    )
    (tmp_path / CONFIG_FILE).write_text(text)
    return parse_spec_file(tmp_path / CONFIG_FILE)


async def _until(ws, frame_type: str, seen: list[dict], timeout: float = 60.0) -> dict:
    """The next frame of ``frame_type``; every frame read on the way is kept in ``seen``."""
    async with asyncio.timeout(timeout):
        while True:
            frame = json.loads(await ws.recv())
            seen.append(frame)
            if frame.get("type") == frame_type:
                return frame


def test_300_clients_each_get_one_broadcast_and_the_sender_one_ack_of_300(tmp_path, caplog):
    """Segments of 50: every client receives the broadcast exactly once (nothing more arrives
    before its next reply), the sender gets one ack counting 300, the counter record is gone."""
    spec = _service(tmp_path)
    assert spec.functions["broadcast"].environment["FANOUT_SEGMENT_SIZE"] == "50"
    caplog.set_level("INFO", logger="wsctl.service")

    with LocalService(spec) as service:

        async def scenario():
            clients = []
            for _ in range(CLIENTS):
                clients.append(await connect(service.url, max_queue=None))
            seen: list[list[dict]] = [[] for _ in clients]
            sender = clients[0]
            await sender.send(json.dumps({"action": "whoami"}))
            me = (await _until(sender, "whoami", seen[0]))["connectionId"]
            seen[0].clear()
            await sender.send(json.dumps({"action": "broadcast", "message": {"n": 1}}))
            ack = await _until(sender, "ack", seen[0])
            # Frames reach one connection in order: a duplicate posted before the ack (the
            # last thing any segment does) would arrive before the reply to this whoami.
            for ws, frames in zip(clients, seen, strict=True):
                await ws.send(json.dumps({"action": "whoami"}))
                await _until(ws, "whoami", frames)
            for ws in clients:
                await ws.close()
            return me, ack, seen

        me, ack, seen = asyncio.run(scenario())
        table = naming.table_name(spec)
        keys = [
            item["connectionId"]["S"]
            for page in boto3.client("dynamodb", region_name=service.region)
            .get_paginator("scan")
            .paginate(TableName=table)
            for item in page["Items"]
        ]

    assert (ack["delivered"], ack["gone"], ack["failed"]) == (CLIENTS, 0, 0)
    for frames in seen:
        broadcasts = [f for f in frames if f["type"] == "broadcast"]
        assert [(f["from"], f["message"]) for f in broadcasts] == [(me, {"n": 1})]
    assert sum(f["type"] == "ack" for frames in seen for f in frames) == 1
    assert [key for key in keys if key.startswith(naming.RESERVED_KEY_PREFIX)] == []
    assert "segments of ~50 connections dispatched" in caplog.text

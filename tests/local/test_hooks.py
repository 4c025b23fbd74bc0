"""Management calls made in this process with https://{domainName}/{stage} are answered
in-process by the emulator, as handlers' calls are."""

from __future__ import annotations

import asyncio
import threading

import boto3
import pytest
from botocore.exceptions import ClientError
from websockets.asyncio.client import connect

from tests.local.conftest import connection_ids
from wsctl import naming


def _in_process_client(service):
    # https: nothing listens with TLS on this port, so any answer comes from the hook.
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=f"https://127.0.0.1:{service.port}/{service.spec.stage}",
        region_name="us-east-1",
    )


def test_in_process_post_get_delete(recorder):
    """post/get/delete through the botocore hook reach the live connection."""
    client = _in_process_client(recorder)

    async def scenario():
        async with connect(recorder.url) as ws:
            (cid,) = await connection_ids(recorder.spec, [ws])
            await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=b"\xff\x00")
            assert await ws.recv() == b"\xff\x00"  # not UTF-8: a binary frame
            facts = await asyncio.to_thread(client.get_connection, ConnectionId=cid)
            assert facts["Identity"]["SourceIp"] == "127.0.0.1"
            assert facts["LastActiveAt"] >= facts["ConnectedAt"]
            await asyncio.to_thread(client.delete_connection, ConnectionId=cid)
            await asyncio.wait_for(ws.wait_closed(), 5)
            assert ws.close_code == 1000

    asyncio.run(scenario())


def test_posts_from_threads_arrive_in_order_with_their_frame_type(recorder):
    """Many posts queued at once (a broadcast's burst) reach each client in order, text as
    text and non-UTF-8 as binary."""
    client = _in_process_client(recorder)
    messages = [f"m{k}".encode() if k % 3 else bytes([0xFF, k]) for k in range(30)]

    def burst(ids):
        for data in messages:
            for cid in ids:
                client.post_to_connection(ConnectionId=cid, Data=data)

    async def scenario():
        sockets = [await connect(recorder.url) for _ in range(3)]
        ids = await connection_ids(recorder.spec, sockets)
        await asyncio.to_thread(burst, ids)
        for ws in sockets:
            received = [await asyncio.wait_for(ws.recv(), 5) for _ in messages]
            assert received == [data.decode() if k % 3 else data for k, data in enumerate(messages)]
            await ws.close()

    asyncio.run(scenario())


def test_in_process_errors_carry_aws_codes(recorder):
    """Unknown ids raise GoneException (410); oversize data PayloadTooLargeException (413)."""
    client = _in_process_client(recorder)
    with pytest.raises(ClientError) as gone:
        client.get_connection(ConnectionId="unknown=")
    assert gone.value.response["Error"]["Code"] == "GoneException"
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    with pytest.raises(client.exceptions.PayloadTooLargeException):
        client.post_to_connection(ConnectionId="unknown=", Data=b"x" * (128 * 1024 + 1))


def test_hook_is_gone_once_stopped(recorder):
    """After stop, the endpoint is no longer answered in-process."""
    from wsctl.local import hooks

    domain = f"127.0.0.1:{recorder.port}"
    assert hooks.is_registered(domain, recorder.spec.stage)
    recorder.stop()
    assert not hooks.is_registered(domain, recorder.spec.stage)


def test_posts_that_are_not_plain_take_botocore_path(recorder):
    """A file-like Data skips the direct lane; the before-call hook still delivers it."""
    import io

    client = _in_process_client(recorder)
    seen = []
    client.meta.events.register(
        "before-parameter-build.apigatewaymanagementapi", lambda **kw: seen.append(1)
    )

    async def scenario():
        async with connect(recorder.url) as ws:
            (cid,) = await connection_ids(recorder.spec, [ws])
            await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=b"direct")
            assert await ws.recv() == "direct" and seen == []
            stream = io.BytesIO(b"streamed")
            await asyncio.to_thread(client.post_to_connection, ConnectionId=cid, Data=stream)
            assert await ws.recv() == "streamed" and seen == [1]

    asyncio.run(scenario())


def test_dynamodb_calls_from_threads_are_answered_once_each(recorder):
    """800 UpdateItem ADDs from 8 threads count exactly 800: each call is answered by moto
    once, under the emulator's lock (never a second time beside it, never in a race)."""
    client = boto3.client("dynamodb", region_name=recorder.region)
    table = naming.table_name(recorder.spec)
    key = {"connectionId": {"S": "counter"}}
    client.put_item(TableName=table, Item={**key, "n": {"N": "0"}})

    def add() -> None:
        for _ in range(100):
            client.update_item(
                TableName=table,
                Key=key,
                UpdateExpression="ADD n :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )

    threads = [threading.Thread(target=add) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.get_item(TableName=table, Key=key)["Item"]["n"] == {"N": "800"}

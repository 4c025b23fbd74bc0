"""Fan-out benchmark: broadcast to 10,000 connections whose posts each take 20 ms.

    .venv/bin/python benchmarks/fanout.py [--connections 10000] [--latency-ms 20]

Only the network is simulated, through botocore hooks on the handler's own clients:

- the management API is a ``before-send`` hook that sleeps for the latency and answers 200,
  so every post still pays botocore's real CPU cost (serializing, signing, parsing);
- DynamoDB's Scan answers from memory in pages of at most 1 MB, 100 ms per page (moto's
  scan of 10,000 items takes seconds of CPU, which would measure moto, not the fan-out).

Measured in one run:

- the naive loop (one post after another), on a sample, extrapolated to all connections;
- the service's ``broadcast`` handler end to end (scan every page, fan out, ack the sender);
- ``fanout.fan_out`` alone at several worker counts, to show why the bound is what it is.

Prints a table; exits 1 if the handler misses the target of 2,000 posts/s.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

LAMBDA_CODE = Path(__file__).resolve().parents[1] / "lambda_code"
sys.path.insert(0, str(LAMBDA_CODE))

os.environ.update(
    AWS_ACCESS_KEY_ID="benchmark",
    AWS_SECRET_ACCESS_KEY="benchmark",
    AWS_DEFAULT_REGION="us-east-1",
    WSCTL_TABLE="bench-connections",
    WSCTL_STACK="bench",
)
os.environ.pop("AWS_REGION", None)
os.environ.pop("WSCTL_TOKEN_SHA256", None)

import aws_clients  # noqa: E402
import fanout  # noqa: E402
import handler  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402

TARGET_POSTS_PER_SECOND = 2000
NAIVE_SAMPLE = 200
SCAN_PAGE_BYTES = 1024 * 1024
SCAN_PAGE_SECONDS = 0.1
DOMAIN = "abcdef1234.execute-api.us-east-1.amazonaws.com"
STAGE = "dev"
SENDER = "sender-benchmark="


class _Body(io.BytesIO):
    def stream(self, **_: Any):
        yield self.getvalue()


class SlowGateway:
    """A management API whose every post takes ``latency`` seconds and succeeds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.posts = 0
        self.sender_frames: list[dict] = []
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> AWSResponse:
        time.sleep(self.latency)
        with self._lock:
            self.posts += 1
            if request.url.endswith(SENDER.replace("=", "%3D")):
                self.sender_frames.append(json.loads(request.body))
        return AWSResponse(request.url, 200, {}, _Body(b""))


class PagedTable:
    """DynamoDB's Scan over an in-memory table: pages of at most 1 MB, each taking a while."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.pages: list[list[dict[str, Any]]] = [[]]
        size = 0
        for item in items:
            item_size = len(json.dumps(item))
            if size + item_size > SCAN_PAGE_BYTES:
                self.pages.append([])
                size = 0
            self.pages[-1].append(item)
            size += item_size

    def __call__(self, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict]:
        time.sleep(SCAN_PAGE_SECONDS)
        request = json.loads(params["body"])
        index = int(request.get("ExclusiveStartKey", {}).get("page", {}).get("N", "0"))
        wanted = set(request.get("ExpressionAttributeNames", {}).values())
        items = self.pages[index]
        if wanted:
            items = [{k: v for k, v in item.items() if k in wanted} for item in items]
        parsed: dict[str, Any] = {"Items": items, "Count": len(items), "ScannedCount": len(items)}
        if index + 1 < len(self.pages):
            parsed["LastEvaluatedKey"] = {"page": {"N": str(index + 1)}}
        parsed["ResponseMetadata"] = {"HTTPStatusCode": 200}
        return AWSResponse(params["url"], 200, {}, _Body(b"")), parsed


def connection_items(count: int) -> list[dict[str, Any]]:
    now_ms = int(time.time() * 1000)
    ids = [SENDER] + [f"conn-{index:06d}=" for index in range(count - 1)]
    return [
        {
            "connectionId": {"S": connection_id},
            "connectedAt": {"N": str(now_ms)},
            "sourceIp": {"S": "198.51.100.9"},
            "userAgent": {"S": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101"},
            "ttl": {"N": str(now_ms // 1000 + 7500)},
        }
        for connection_id in ids
    ]


def broadcast_event() -> dict[str, Any]:
    now_ms = int(time.time() * 1000)
    return {
        "requestContext": {
            "routeKey": "broadcast",
            "eventType": "MESSAGE",
            "messageDirection": "IN",
            "stage": STAGE,
            "connectedAt": now_ms,
            "requestTimeEpoch": now_ms,
            "identity": {"sourceIp": "203.0.113.7"},
            "requestId": "bench-request=",
            "messageId": "bench-message=",
            "domainName": DOMAIN,
            "connectionId": SENDER,
            "apiId": "bench",
        },
        "body": json.dumps({"action": "broadcast", "message": "benchmark"}),
        "isBase64Encoded": False,
    }


def timed(function: Any) -> tuple[float, float]:
    """Wall-clock and process CPU seconds that ``function()`` took."""
    wall, cpu = time.perf_counter(), time.process_time()
    function()
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--workers", type=int, nargs="*", default=[16, 32, 64, 128])
    args = parser.parse_args(argv)
    count, latency = args.connections, args.latency_ms / 1000

    rows: list[tuple[str, int, float, float, float]] = []
    items = connection_items(count)
    ids = [item["connectionId"]["S"] for item in items]
    table = PagedTable(items)
    aws_clients.dynamodb().meta.events.register("before-call.dynamodb.Scan", table)
    gateway = SlowGateway(latency)
    client = aws_clients.management(f"https://{DOMAIN}/{STAGE}")
    client.meta.events.register("before-send.apigatewaymanagementapi.PostToConnection", gateway)

    # Warm both clients (model loading, endpoint resolution) outside every measurement.
    client.post_to_connection(ConnectionId=SENDER, Data=b'{"type":"x"}')
    gateway.sender_frames.clear()
    sample = ids[:NAIVE_SAMPLE]

    def naive() -> None:
        for connection_id in sample:
            client.post_to_connection(ConnectionId=connection_id, Data=b'{"type":"x"}')

    wall, cpu = timed(naive)
    naive_rate = len(sample) / wall
    rows.append(
        (
            f"naive loop ({len(sample)}-post sample, extrapolated)",
            count,
            count / naive_rate,
            naive_rate,
            cpu / len(sample),
        )
    )

    before = gateway.posts
    wall, cpu = timed(lambda: handler.broadcast(broadcast_event(), None))
    posted = gateway.posts - before - 1  # the last post is the ack to the sender
    ack = gateway.sender_frames[-1]
    if ack.get("type") != "ack" or ack["delivered"] != count:
        print(f"broadcast did not reach everyone: {ack}", file=sys.stderr)
        return 1
    handler_rate = posted / wall
    rows.append(
        (
            f"broadcast handler, {fanout.FAN_OUT_WORKERS} workers "
            f"(scan {len(table.pages)} pages, fan out, ack)",
            posted,
            wall,
            handler_rate,
            cpu / posted,
        )
    )

    for workers in args.workers:
        results: list[fanout.FanOutResult] = []

        def run(workers: int = workers, results: list = results) -> None:
            results.append(
                fanout.fan_out(client, b'{"type":"x"}', ids, on_gone=print, workers=workers)
            )

        wall, cpu = timed(run)
        delivered = results[0].delivered
        rows.append(
            (
                f"fan_out alone, {workers} workers",
                delivered,
                wall,
                delivered / wall,
                cpu / delivered,
            )
        )

    print_table(rows, naive_rate, args.latency_ms, count)
    met = handler_rate >= TARGET_POSTS_PER_SECOND
    print(
        f"\ntarget {TARGET_POSTS_PER_SECOND:,} posts/s for the handler: "
        f"{'met' if met else 'MISSED'} ({handler_rate:,.0f} posts/s, "
        f"{handler_rate / naive_rate:.1f}x the naive loop)"
    )
    return 0 if met else 1


def _line(cells: tuple[str, ...], widths: tuple[int, ...]) -> str:
    """First column left-aligned, numbers right-aligned."""
    first, *rest = zip(cells, widths, strict=True)
    return "  ".join([first[0].ljust(first[1]), *(cell.rjust(width) for cell, width in rest)])


def print_table(
    rows: list[tuple[str, int, float, float, float]],
    naive_rate: float,
    latency_ms: float,
    count: int,
) -> None:
    print(f"Fan-out to {count:,} connections, {latency_ms:g} ms per post (simulated network)\n")
    widths = (62, 7, 8, 9, 8, 11)
    print(_line(("run", "posts", "total s", "posts/s", "x naive", "CPU ms/post"), widths))
    print("  ".join("-" * width for width in widths))
    for name, posts, total, rate, cpu in rows:
        cells = (
            name,
            f"{posts:,}",
            f"{total:.2f}",
            f"{rate:,.0f}",
            f"{rate / naive_rate:.1f}",
            f"{cpu * 1000:.2f}",
        )
        print(_line(cells, widths))


if __name__ == "__main__":
    sys.exit(main())

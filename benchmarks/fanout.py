"""Fan-out benchmark: broadcast to 10,000 connections whose posts each take 20 ms, measured;
then 100,000 and 1,000,000 in segments, simulated from that measurement.

    .venv/bin/python benchmarks/fanout.py [--connections 10000] [--latency-ms 20]
        [--scale 100000 1000000] [--memory 1769 512]

Only the network is simulated, through botocore hooks on the handler's own clients:

- the management API is a ``before-send`` hook that sleeps for the latency and answers 200,
  so every post still pays botocore's real CPU cost (serializing, signing, parsing);
- DynamoDB's Scan answers from memory in pages of at most 1 MB, 100 ms per page (moto's
  scan of 10,000 items takes seconds of CPU, which would measure moto, not the fan-out).

Measured in one run:

- the naive loop (one post after another), on a sample, extrapolated to all connections;
- the service's ``broadcast`` handler end to end (scan every page, fan out, ack the sender);
- ``fanout.fan_out`` alone at several worker counts, to show why the bound is what it is.

Then the segmented broadcast at scale (``fanout_model``: every post simulated in virtual
time, each segment with its own CPU scaled to the function's memory, all sharing API
Gateway's account throttle), with the CPU per post measured above, beside the seed's
one-at-a-time pattern and one invocation without segments.

Prints tables; exits 1 if a target is missed: 2,000 posts/s for the handler; 100,000
connections delivered within 15 s at 1,769 MB; 1,000,000 with no invocation past 25 s and
nothing lost.
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
import fanout_model  # noqa: E402
import handler  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402

TARGET_POSTS_PER_SECOND = 2000
TARGET_100K_SECONDS = 15.0  # 100,000 connections at 1,769 MB (the throttle alone allows 10 s)
TARGET_LONGEST_INVOCATION = 25.0  # 1,000,000 connections: no invocation past this
INTEGRATION_TIMEOUT = 29.0
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
    parser.add_argument("--scale", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--memory", type=int, nargs="*", default=[1769, 512])
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
    cpu_per_post = cpu / posted
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
    if args.scale:
        met = scale(args, cpu_per_post, naive_rate, handler_rate) and met
    return 0 if met else 1


def scale(args: argparse.Namespace, cpu_per_post: float, naive: float, one: float) -> bool:
    """The segmented broadcast at 100,000 and 1,000,000 connections, simulated; True when
    every target is met."""
    latency = args.latency_ms / 1000
    print(
        f"\nSegmented broadcast at scale, simulated ({fanout_model.__name__}.py): every post in "
        f"virtual time, {latency * 1000:g} ms each, {fanout_model.WORKERS} workers per "
        f"segment, CPU {cpu_per_post * 1000:.3f} ms/post (measured above, the handler's) "
        f"scaled by memory / {fanout_model.LAMBDA_FULL_VCPU_MB} MB; all segments share one "
        f"token bucket of {fanout_model.ACCOUNT_RPS:,}/s, burst {fanout_model.ACCOUNT_BURST:,} "
        f"(429 retried as fanout.post does).\n"
        "Delivered in = dispatch (probe page, sample, counter, Invoke calls) + the slowest "
        "segment, from its dispatch to its last post, continuations included.\n"
    )
    header = ("run", "segs", "dispatch s", "slowest s", "delivered in", "longest inv s")
    header += ("invs", "429s", "failed")
    widths = (46, 5, 10, 9, 12, 13, 6, 8, 7)
    print(_line(header, widths))
    print("  ".join("-" * width for width in widths))
    outcomes: dict[tuple[int, int, bool], fanout_model.Outcome] = {}
    runs = [(n, memory, True) for n in args.scale for memory in args.memory]
    runs += [(n, max(args.memory), False) for n in args.scale]  # what pacing prevents
    for n, memory, paced in runs:
        outcome = fanout_model.simulate(
            n, memory_mb=memory, cpu_per_post=cpu_per_post, latency=latency, paced=paced
        )
        outcomes[(n, memory, paced)] = outcome
        name = f"{n:,} at {memory} MB{'' if paced else ', segments unpaced'}"
        cells = (
            name,
            f"{len(outcome.segments)}",
            f"{outcome.dispatch_seconds:.2f}",
            f"{outcome.slowest_segment:.2f}",
            f"{outcome.delivered_in:.2f}",
            f"{outcome.longest_invocation:.2f}",
            f"{outcome.invocations:,}",
            f"{outcome.throttled:,}",
            f"{outcome.failed:,}",
        )
        print(_line(cells, widths), flush=True)
    for n in args.scale:
        for name, rate in (
            ("seed's one-at-a-time loop", naive),
            ("one invocation, no segments", one),
        ):
            seconds = f"{n / rate:,.1f}"
            cells = (f"{n:,}: {name} (measured rate)", "-", "-", "-", seconds, seconds, "1")
            print(_line((*cells, "-", "-"), widths))
    print(
        f"(inside API Gateway's {INTEGRATION_TIMEOUT:g} s integration timeout: one-at-a-time "
        f"reaches {INTEGRATION_TIMEOUT * naive:,.0f} connections, one invocation "
        f"{INTEGRATION_TIMEOUT * one:,.0f})"
    )
    for (_, memory, paced), outcome in outcomes.items():
        if paced and memory == max(args.memory):
            print_segments(outcome)
    return print_targets(outcomes)


def print_segments(outcome: fanout_model.Outcome) -> None:
    print(f"\nPer segment, {outcome.connections:,} connections at {outcome.memory_mb} MB:")
    widths = (7, 11, 12, 11, 13, 8, 11)
    header = ("segment", "connections", "dispatched", "finished s", "invocations", "429s")
    print(_line((*header, "longest s"), widths))
    print("  ".join("-" * width for width in widths))
    shown = sorted(outcome.segments, key=lambda s: s.finished - s.dispatched)
    if len(shown) > 12:
        low, median, high = fanout_model.finish_spread(outcome)
        print(
            f"({len(shown)} segments; finish from dispatch: min {low:.2f} s, median "
            f"{median:.2f} s, max {high:.2f} s; the 3 fastest and 5 slowest:)"
        )
        shown = shown[:3] + shown[-5:]
    for figures in shown:
        cells = (
            f"{figures.segment}",
            f"{figures.connections:,}",
            f"{figures.dispatched:.2f}",
            f"{figures.finished:.2f}",
            f"{len(figures.runs)}",
            f"{figures.throttled:,}",
            f"{figures.longest_run:.2f}",
        )
        print(_line(cells, widths))


def print_targets(outcomes: dict[tuple[int, int, bool], fanout_model.Outcome]) -> bool:
    print()
    met = True
    hundred_k = outcomes.get((100_000, 1769, True))
    if hundred_k is not None:
        ok = hundred_k.delivered_in <= TARGET_100K_SECONDS and hundred_k.failed == 0
        met = met and ok
        print(
            f"target 100,000 delivered within {TARGET_100K_SECONDS:g} s at 1,769 MB: "
            f"{'met' if ok else 'MISSED'} ({hundred_k.delivered_in:.2f} s, "
            f"{hundred_k.failed} failed; the throttle alone allows "
            f"{100_000 / fanout_model.ACCOUNT_RPS:g} s)"
        )
    million = [o for (n, _, paced), o in outcomes.items() if n == 1_000_000 and paced]
    for outcome in million:
        ok = outcome.longest_invocation <= TARGET_LONGEST_INVOCATION and outcome.failed == 0
        met = met and ok
        print(
            f"target 1,000,000 at {outcome.memory_mb} MB with no invocation past "
            f"{TARGET_LONGEST_INVOCATION:g} s and none lost: {'met' if ok else 'MISSED'} "
            f"(longest {outcome.longest_invocation:.2f} s, {outcome.failed} failed, "
            f"delivered in {outcome.delivered_in:.1f} s)"
        )
    return met


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

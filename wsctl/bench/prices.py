"""What a bench run's traffic would cost on AWS, from one dated price table (pure).

Prices: US East (N. Virginia), on-demand, no free tier, as the pages below stated them when
read on ``PRICES_AS_OF``. They change: update the table and the date together.

- API Gateway WebSocket APIs (https://aws.amazon.com/api-gateway/pricing/): $1.00 per
  million messages (first billion a month), messages metered in 32 KB increments ("a 33 KB
  message is metered as two messages"); $0.25 per million connection minutes.
- Lambda (https://aws.amazon.com/lambda/pricing/, and the "How AWS Pricing Works"
  whitepaper): $0.20 per million requests; $0.0000166667 per GB-second (x86).
- DynamoDB on-demand (https://aws.amazon.com/dynamodb/pricing/on-demand/): $0.625 per
  million write request units (1 KB each), $0.125 per million read request units (4 KB each,
  an eventually consistent read half a unit).

What the service does per operation is modelled, not measured (a local run has no Lambda
bill): each connect and disconnect is one 128 MB invocation of ~20 ms and one write; each
broadcast scans the table (``ITEM_BYTES`` a record) and posts at ``POSTS_PER_SECOND`` in a
512 MB function, split in segments of ``SEGMENT_SIZE`` above that (one more invocation each).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

PRICES_AS_OF = "2026-11-29"
REGION = "us-east-1"
USD_PER_MILLION_MESSAGES = 1.00
USD_PER_MILLION_CONNECTION_MINUTES = 0.25
USD_PER_MILLION_LAMBDA_REQUESTS = 0.20
USD_PER_GB_SECOND = 0.0000166667
USD_PER_MILLION_WRITE_UNITS = 0.625
USD_PER_MILLION_READ_UNITS = 0.125
MESSAGE_METER_BYTES = 32 * 1024

# The bundled service's shape (wsctl.toml) and the fan-out's measured rate (README).
CONNECT_MEMORY_MB = 128
CONNECT_SECONDS = 0.020
BROADCAST_MEMORY_MB = 512
POSTS_PER_SECOND = 800.0  # 64 workers at 20 ms a post, on 512 MB's ~0.3 vCPU
SEGMENT_SIZE = 10_000  # lambda_code/segments.py DEFAULT_SEGMENT_SIZE
ITEM_BYTES = 200  # a connection record: id, connectedAt, sourceIp, userAgent, ttl


@dataclass(frozen=True)
class Traffic:
    """What a run made the stack do."""

    clients: int
    broadcasts: int
    frame_bytes: int  # one delivered broadcast frame
    request_bytes: int  # one broadcast request
    deliveries: int
    connected_seconds: float  # how long the connections stayed open


def _meters(size: int) -> int:
    return max(1, math.ceil(size / MESSAGE_METER_BYTES))


def _line(service: str, what: str, quantity: float, unit: str, usd: float) -> dict[str, Any]:
    return {
        "service": service,
        "what": what,
        "quantity": round(quantity, 3),
        "unit": unit,
        "usd": round(usd, 6),
    }


def estimate(traffic: Traffic) -> dict[str, Any]:
    """The cost of ``traffic``, line by line, with the table's date and region."""
    messages = (
        traffic.broadcasts * _meters(traffic.request_bytes)
        + traffic.deliveries * _meters(traffic.frame_bytes)
        + traffic.broadcasts  # the acks
    )
    minutes = traffic.clients * max(1, math.ceil(traffic.connected_seconds / 60))
    segments = math.ceil(traffic.clients / SEGMENT_SIZE) if traffic.clients > SEGMENT_SIZE else 0
    requests = 2 * traffic.clients + traffic.broadcasts * (1 + segments)
    broadcast_gb_seconds = (
        traffic.broadcasts * traffic.clients / POSTS_PER_SECOND * BROADCAST_MEMORY_MB / 1024
    )
    connect_gb_seconds = 2 * traffic.clients * CONNECT_SECONDS * CONNECT_MEMORY_MB / 1024
    writes = 2 * traffic.clients
    reads = traffic.broadcasts * math.ceil(traffic.clients * ITEM_BYTES / 4096) / 2
    lines = [
        _line(
            "API Gateway",
            "messages (32 KB metered)",
            messages,
            "messages",
            messages / 1e6 * USD_PER_MILLION_MESSAGES,
        ),
        _line(
            "API Gateway",
            "connection minutes",
            minutes,
            "minutes",
            minutes / 1e6 * USD_PER_MILLION_CONNECTION_MINUTES,
        ),
        _line(
            "Lambda",
            "requests",
            requests,
            "requests",
            requests / 1e6 * USD_PER_MILLION_LAMBDA_REQUESTS,
        ),
        _line(
            "Lambda",
            "duration",
            broadcast_gb_seconds + connect_gb_seconds,
            "GB-seconds",
            (broadcast_gb_seconds + connect_gb_seconds) * USD_PER_GB_SECOND,
        ),
        _line(
            "DynamoDB",
            "writes (connect, disconnect)",
            writes,
            "write units",
            writes / 1e6 * USD_PER_MILLION_WRITE_UNITS,
        ),
        _line(
            "DynamoDB",
            "reads (a scan per broadcast)",
            reads,
            "read units",
            reads / 1e6 * USD_PER_MILLION_READ_UNITS,
        ),
    ]
    return {
        "pricesAsOf": PRICES_AS_OF,
        "region": REGION,
        "lines": lines,
        "totalUsd": round(sum(line["usd"] for line in lines), 6),
    }

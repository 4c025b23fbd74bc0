"""A bench run's figures from what it recorded (pure): rates, latency percentiles,
completeness and errors by kind, as one JSON-ready dict with wsctl's camelCase keys."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[float], fraction: float) -> float | None:
    """The nearest-rank percentile of already sorted values (None when there are none)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Recorded:
    """Raw facts of one run, as the runner collects them."""

    clients: int
    broadcasts: int
    connected: int = 0
    connect_seconds: float = 0.0
    sent: int = 0
    expected: int = 0  # deliveries the sent broadcasts should have made
    delivered: int = 0  # within each broadcast's time bound, once per client
    acked: int = 0
    broadcast_seconds: float = 0.0  # first broadcast sent to the last delivery or bound
    latencies: Sequence[float] = ()  # seconds, one per delivery
    errors: Counter[str] = field(default_factory=Counter)
    elapsed: float = 0.0


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)


def _rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 1) if seconds > 0 else None


def summary(recorded: Recorded) -> dict[str, Any]:
    """The figures ``--json`` prints (and the table shows)."""
    latencies = sorted(recorded.latencies)
    return {
        "clients": recorded.clients,
        "connected": recorded.connected,
        "connectRate": _rate(recorded.connected, recorded.connect_seconds),
        "broadcasts": recorded.broadcasts,
        "sent": recorded.sent,
        "acked": recorded.acked,
        "expected": recorded.expected,
        "delivered": recorded.delivered,
        "completeness": (
            round(recorded.delivered / recorded.expected, 4) if recorded.expected else None
        ),
        "deliveriesPerSecond": _rate(recorded.delivered, recorded.broadcast_seconds),
        "latencyMs": {
            "p50": _ms(percentile(latencies, 0.50)),
            "p95": _ms(percentile(latencies, 0.95)),
            "p99": _ms(percentile(latencies, 0.99)),
            "max": _ms(latencies[-1] if latencies else None),
        },
        "errors": dict(sorted(recorded.errors.items())),
        "elapsedSeconds": round(recorded.elapsed, 2),
    }


def passed(figures: dict[str, Any]) -> bool:
    """Every connection opened, every broadcast acked and delivered everywhere, no error."""
    return (
        figures["connected"] == figures["clients"]
        and figures["acked"] == figures["broadcasts"]
        and figures["completeness"] == 1.0
        and not figures["errors"]
    )

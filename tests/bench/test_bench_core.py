"""The bench's pure parts: the plan's bounds, loopback detection, percentiles and the summary,
the cost estimate from the dated price table, and the report table."""

from __future__ import annotations

from collections import Counter

import pytest
from rich.console import Console

from wsctl.bench import prices
from wsctl.bench.plan import MAX_CLIENTS, Plan, is_loopback
from wsctl.bench.report import table
from wsctl.bench.stats import Recorded, passed, percentile, summary
from wsctl.errors import ConfigError


@pytest.mark.parametrize(
    ("changes", "flag"),
    [
        ({"clients": 0}, "--clients"),
        ({"clients": MAX_CLIENTS + 1}, "--clients"),
        ({"broadcasts": 0}, "--broadcasts"),
        ({"inflight": 0}, "--inflight"),
        ({"size": -1}, "--size"),
        ({"size": 10**6}, "--size"),
        ({"connect_rate": 0}, "--connect-rate"),
        ({"clients": 20_000, "broadcasts": 1_000}, "deliveries"),
    ],
)
def test_a_plan_out_of_bounds_names_its_flag(changes, flag):
    """Every bound is checked before a socket opens, in one line naming the flag."""
    fields = {"clients": 10, "broadcasts": 10, **changes}
    with pytest.raises(ConfigError, match=flag):
        Plan(**fields).check()


def test_the_time_bound_covers_pacing_waiting_and_closing():
    """500 clients at 500/s with 10 s to open, 20 broadcasts 4 at a time of 10 s each, and 5 s
    to close: 1 + 10 + 50 + 5 seconds."""
    plan = Plan(clients=500, broadcasts=20, inflight=4, timeout=10, open_timeout=10)
    assert plan.time_bound == pytest.approx(66)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("ws://127.0.0.1:8765/dev", True),
        ("ws://127.3.4.5/dev", True),
        ("ws://[::1]:8765/dev", True),
        ("ws://localhost:8765/dev", True),
        ("wss://abc.execute-api.eu-west-1.amazonaws.com/dev", False),
        ("ws://192.168.1.10:8765/dev", False),
        ("ws://127.0.0.1.example.com/dev", False),
    ],
)
def test_loopback_urls_are_this_machine_only(url, loopback):
    """127.0.0.0/8, ::1 and localhost are loopback; anything else asks first."""
    assert is_loopback(url) is loopback


def test_percentiles_are_nearest_rank():
    """p50 of 1..100 is 50, p95 95, p99 99; none of nothing."""
    values = [float(n) for n in range(1, 101)]
    assert [percentile(values, f) for f in (0.5, 0.95, 0.99, 1.0)] == [50, 95, 99, 100]
    assert percentile([], 0.5) is None


def test_summary_has_camel_case_figures_and_passes_only_when_complete():
    """Rates, completeness and latency in ms; a lost delivery fails the run."""
    recorded = Recorded(
        clients=4,
        broadcasts=2,
        connected=4,
        connect_seconds=2.0,
        sent=2,
        expected=8,
        delivered=8,
        acked=2,
        broadcast_seconds=0.5,
        latencies=[0.004, 0.001, 0.002, 0.003, 0.010, 0.005, 0.006, 0.007],
        elapsed=3.0,
    )
    figures = summary(recorded)
    assert figures["connectRate"] == 2.0
    assert figures["deliveriesPerSecond"] == 16.0
    assert figures["completeness"] == 1.0
    assert figures["latencyMs"] == {"p50": 4.0, "p95": 10.0, "p99": 10.0, "max": 10.0}
    assert passed(figures)
    recorded.delivered, recorded.errors = 7, Counter({"lost": 1})
    lossy = summary(recorded)
    assert lossy["completeness"] == 0.875 and lossy["errors"] == {"lost": 1}
    assert not passed(lossy)


def test_cost_counts_each_meter_from_the_dated_table():
    """100 clients, 10 broadcasts of a 40 KB frame (two 32 KB meters each), 1,000 deliveries,
    90 s connected: messages, minutes, requests, GB-s, writes and reads as the table says."""
    traffic = prices.Traffic(
        clients=100,
        broadcasts=10,
        frame_bytes=40 * 1024,
        request_bytes=40 * 1024,
        deliveries=1_000,
        connected_seconds=90,
    )
    cost = prices.estimate(traffic)
    lines = {line["what"]: line for line in cost["lines"]}
    assert lines["messages (32 KB metered)"]["quantity"] == 10 * 2 + 1_000 * 2 + 10
    assert lines["connection minutes"]["quantity"] == 100 * 2
    assert lines["requests"]["quantity"] == 2 * 100 + 10
    assert lines["writes (connect, disconnect)"]["quantity"] == 200
    assert lines["messages (32 KB metered)"]["usd"] == pytest.approx(2030 / 1e6)
    assert cost["totalUsd"] == pytest.approx(sum(line["usd"] for line in cost["lines"]))
    assert cost["pricesAsOf"] == prices.PRICES_AS_OF


def test_the_report_shows_every_figure():
    """The table names connect rate, latency percentiles, deliveries/s, completeness, errors."""
    figures = summary(
        Recorded(clients=2, broadcasts=1, connected=1, errors=Counter({"connect http 403": 1}))
    )
    console = Console(record=True, width=120)
    console.print(table(figures))
    text = console.export_text()
    for label in ("connect rate", "latency ms", "p99", "deliveries/s", "completeness", "403"):
        assert label in text

"""benchmarks/fanout_model.py, the simulation behind the scale benchmark, on small inputs:
its segments deliver everything once, keep to the throttle when paced, and continue before
their budget runs out, as lambda_code/segments.py decides."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
if str(BENCHMARKS) not in sys.path:
    sys.path.append(str(BENCHMARKS))

import fanout_model  # noqa: E402
import segments  # noqa: E402


def test_paced_segments_deliver_everything_without_a_429():
    """2,000 connections in segments of 200 at 1,000 posts/s for the account: 10 segments at
    90/s each, all delivered, nothing throttled, about 200 / 90 s each."""
    outcome = fanout_model.simulate(
        2_000, memory_mb=1769, cpu_per_post=0.0003, segment_size=200, account_rps=1_000
    )
    assert len(outcome.segments) == 10
    assert sum(s.connections for s in outcome.segments) == 2_000
    assert (outcome.delivered, outcome.failed, outcome.throttled) == (2_000, 0, 0)
    assert outcome.slowest_segment == pytest.approx(250 / 90, abs=1.5)


def test_unpaced_segments_meet_the_throttle_and_retry():
    """The same without pacing: 10 x 64 workers far above 1,000/s: 429s, retried."""
    outcome = fanout_model.simulate(
        2_000,
        memory_mb=1769,
        cpu_per_post=0.0003,
        segment_size=200,
        account_rps=1_000,
        paced=False,
    )
    assert outcome.throttled > 0
    assert outcome.delivered + outcome.failed == 2_000


def test_a_long_segment_continues_itself_inside_its_budget():
    """At 100 posts/s for the account, a segment of ~200 needs ~22 s at 9/s: it stops taking
    connections at the reserve and a continuation finishes; no run reaches 25 s."""
    outcome = fanout_model.simulate(
        2_000, memory_mb=1769, cpu_per_post=0.0003, segment_size=200, account_rps=100
    )
    assert outcome.delivered == 2_000
    assert max(len(s.runs) for s in outcome.segments) >= 2
    budget = fanout_model.TIMEOUT_SECONDS - segments.reserve_seconds(fanout_model.TIMEOUT_SECONDS)
    assert outcome.longest_invocation <= budget + 1.0


def test_cpu_scales_with_memory():
    """At 5 ms of CPU a post, 512 MB (0.29 vCPU) is slower than 1,769 MB."""
    fast, slow = (
        fanout_model.simulate(3_000, memory_mb=memory, cpu_per_post=0.005, segment_size=1_000)
        for memory in (1769, 512)
    )
    assert slow.slowest_segment > 2 * fast.slowest_segment

"""A segmented broadcast on AWS, simulated in virtual time (pure: no socket, no sleep).

What is modelled, and from where:

- **Each segment is an invocation of its own**, with its own CPU: ``memory / 1,769`` of a vCPU
  (Lambda gives one full vCPU at 1,769 MB; Python's lock keeps a function to one core), and
  the fan-out's 64 workers. A post holds a worker for ``latency`` (20 ms) and costs
  ``cpu_per_post / vcpu`` of the segment's one CPU (botocore's serializing and signing): the
  CPU cost is measured on the real code path by benchmarks/fanout.py in the same run.
- **Pacing and budget exactly as lambda_code/segments.py decides them**: its
  ``segment_count``, ``segment_rate`` (the segment's share of the account's throttle) and
  ``reserve_seconds`` (when a run stops taking connections and continues itself) are called,
  not copied.
- **API Gateway's account throttle across all segments together**: one token bucket, 10,000
  requests per second and 5,000 of burst (API Gateway developer guide, "Amazon API Gateway
  quotas"); a refused post is a 429 after one round trip, retried as ``fanout.post`` does
  (``fanout.backoff_delay``, up to ``fanout.MAX_ATTEMPTS`` tries), then counted failed.
- **Overheads**: the route's probe (one 1 MB page) and sample (a COUNT of 1/64 of the table,
  1 MB a page), ``PAGE_SECONDS`` a page; the counter record; Invoke calls from 16 threads; an
  asynchronous invocation's start (queue, plus a cold start for a segment's first run, warm
  for its continuations); a segment's claim and report on the counter record.

Every post of a million is simulated one by one (an event heap ordered by time, so the shared
token bucket sees posts in the order AWS would): no post is skipped or averaged away.
"""

from __future__ import annotations

import heapq
import math
import random
import statistics
from dataclasses import dataclass, field

import fanout
import segments

LAMBDA_FULL_VCPU_MB = 1769
WORKERS = fanout.FAN_OUT_WORKERS
ACCOUNT_RPS = segments.DEFAULT_ACCOUNT_RPS
ACCOUNT_BURST = 5000
PAGE_SECONDS = 0.1  # one 1 MB Scan page
PAGE_BYTES = 1024 * 1024
ITEM_BYTES = 200  # a connection record
INVOKE_CALL_SECONDS = 0.03  # one Invoke API call (InvocationType=Event)
DISPATCH_THREADS = segments.DISPATCH_THREADS
ASYNC_START_SECONDS = 0.1  # from Invoke's 202 to the handler running
COLD_START_SECONDS = 0.6  # a new execution environment: runtime, boto3, clients
COUNTER_SECONDS = 0.01  # one UpdateItem / PutItem
TIMEOUT_SECONDS = 29.0


@dataclass
class Run:
    """One invocation of a segment."""

    segment: int
    hop: int
    started: float
    ended: float = 0.0
    posts: int = 0

    @property
    def seconds(self) -> float:
        return self.ended - self.started


@dataclass
class SegmentFigures:
    segment: int
    connections: int
    dispatched: float
    finished: float = 0.0
    runs: list[Run] = field(default_factory=list)
    throttled: int = 0
    failed: int = 0

    @property
    def longest_run(self) -> float:
        return max(run.seconds for run in self.runs)


@dataclass
class Outcome:
    connections: int
    memory_mb: int
    paced: bool
    segments: list[SegmentFigures]
    dispatch_seconds: float
    delivered: int
    failed: int
    throttled: int

    @property
    def slowest_segment(self) -> float:
        """From a segment's dispatch to its last post, continuations included."""
        return max(s.finished - s.dispatched for s in self.segments)

    @property
    def delivered_in(self) -> float:
        return self.dispatch_seconds + self.slowest_segment

    @property
    def longest_invocation(self) -> float:
        return max(s.longest_run for s in self.segments)

    @property
    def invocations(self) -> int:
        return 1 + sum(len(s.runs) for s in self.segments)


class TokenBucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, 0.0

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def segment_sizes(connections: int, total: int, rng: random.Random) -> list[int]:
    """How many connections fall in each segment: DynamoDB splits by a hash of the key, so
    each segment gets a binomial share (drawn here with its normal approximation)."""
    sizes, left = [], connections
    for remaining in range(total, 1, -1):
        # Each segment's share of what the ones before it left (a multinomial, drawn in turn).
        p = 1 / remaining
        size = round(rng.gauss(left * p, math.sqrt(left * p * (1 - p))))
        size = min(left, max(0, size))
        sizes.append(size)
        left -= size
    return [*sizes, left]


def dispatch_seconds(connections: int, total: int) -> float:
    """The route's own work before the last segment is dispatched."""
    sample_pages = math.ceil(connections * ITEM_BYTES / segments.SAMPLE_SEGMENTS / PAGE_BYTES)
    invokes = math.ceil(total / DISPATCH_THREADS) * INVOKE_CALL_SECONDS
    return PAGE_SECONDS + sample_pages * PAGE_SECONDS + COUNTER_SECONDS + invokes


class _Segment:
    """One segment's state in the simulation: its ids, workers, CPU and current run."""

    def __init__(self, figures: SegmentFigures, rate: float | None, cpu_cost: float) -> None:
        self.figures = figures
        self.rate = rate
        self.cpu_cost = cpu_cost
        self.next_id = 0  # the next connection of the segment to hand to a worker
        self.cpu_free = 0.0
        self.run: Run | None = None
        self.stop_at = 0.0
        self.paced_from = 0.0
        self.handed = 0  # ids handed out in this run (pacing counts from the run's start)
        self.busy = 0  # workers holding a post of this run

    def start_run(self, now: float, hop: int) -> None:
        self.run = Run(self.figures.segment, hop, now)
        self.figures.runs.append(self.run)
        ready = now + COUNTER_SECONDS + PAGE_SECONDS  # claim, then the first page
        remaining = TIMEOUT_SECONDS - (ready - now)
        self.stop_at = ready + remaining - segments.reserve_seconds(remaining)
        self.paced_from, self.handed = ready, 0
        self.cpu_free = ready

    def next_start(self, free_at: float) -> float | None:
        """When a worker free at ``free_at`` starts the next id, or None: none left to start
        in this run (all taken, or past the time to stop)."""
        if self.next_id >= self.figures.connections:
            return None
        start = max(free_at, self.cpu_free)
        if self.rate is not None:
            start = max(start, self.paced_from + self.handed / self.rate)
        if start >= self.stop_at and self.handed:
            return None
        return start


def simulate(
    connections: int,
    *,
    memory_mb: int,
    cpu_per_post: float,
    latency: float = 0.020,
    segment_size: int = segments.DEFAULT_SEGMENT_SIZE,
    paced: bool = True,
    account_rps: int = ACCOUNT_RPS,
    seed: int = 15,
) -> Outcome:
    """Broadcast to ``connections`` in segments; every post simulated."""
    rng = random.Random(seed)
    total = segments.segment_count(connections, segment_size)
    rate = segments.segment_rate(account_rps, total) if paced else None
    vcpu = min(1.0, memory_mb / LAMBDA_FULL_VCPU_MB)
    cpu_cost = cpu_per_post / vcpu
    dispatch = dispatch_seconds(connections, total)
    states = []
    for index, size in enumerate(segment_sizes(connections, total, rng)):
        # Invoke calls go out from 16 threads: segment i is dispatched with its batch.
        sent = PAGE_SECONDS * 2 + (index // DISPATCH_THREADS + 1) * INVOKE_CALL_SECONDS
        states.append(_Segment(SegmentFigures(index, size, sent), rate, cpu_cost))
    bucket = TokenBucket(account_rps, account_rps * ACCOUNT_BURST / ACCOUNT_RPS)
    # (time, order, kind, segment, number): "run" (an invocation starts; number: its hop),
    # "attempt" (a worker tries a post; number: which try), "done" (a worker is free again).
    events: list[tuple[float, int, str, int, int]] = []
    order = 0

    def push(at: float, kind: str, segment: int, number: int = 0) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (at, order, kind, segment, number))

    for index, state in enumerate(states):
        push(state.figures.dispatched + ASYNC_START_SECONDS + COLD_START_SECONDS, "run", index)

    def hand_out(state: _Segment, free_at: float) -> bool:
        start = state.next_start(free_at)
        if start is None:
            return False
        state.next_id += 1
        state.handed += 1
        state.busy += 1
        state.cpu_free = start + state.cpu_cost
        push(start + state.cpu_cost, "attempt", state.figures.segment, 1)
        return True

    def end_run(state: _Segment, now: float) -> None:
        assert state.run is not None
        state.run.ended = now + COUNTER_SECONDS
        if state.next_id < state.figures.connections:
            # A continuation, warm: Lambda reuses the environment the run just left.
            at = state.run.ended + INVOKE_CALL_SECONDS + ASYNC_START_SECONDS
            push(at, "run", state.figures.segment, len(state.figures.runs))
        else:
            state.figures.finished = state.run.ended
        state.run = None

    while events:
        now, _, kind, index, attempt = heapq.heappop(events)
        state = states[index]
        if kind == "run":
            state.start_run(now, attempt)
            for _ in range(WORKERS):
                if not hand_out(state, state.cpu_free):
                    break
            if state.busy == 0:
                end_run(state, now)
        elif kind == "attempt":
            if bucket.take(now):
                assert state.run is not None
                state.run.posts += 1
                push(now + latency, "done", index)
            else:
                state.figures.throttled += 1
                if attempt >= fanout.MAX_ATTEMPTS:
                    state.figures.failed += 1
                    push(now + latency, "done", index)
                else:
                    delay = fanout.backoff_delay(attempt, rng.random)
                    retry = max(now + latency + delay, state.cpu_free)
                    state.cpu_free = retry + state.cpu_cost
                    push(retry + state.cpu_cost, "attempt", index, attempt + 1)
        else:  # a worker is free
            state.busy -= 1
            if not hand_out(state, now) and state.busy == 0:
                end_run(state, now)

    figures = [state.figures for state in states]
    failed = sum(f.failed for f in figures)
    return Outcome(
        connections=connections,
        memory_mb=memory_mb,
        paced=paced,
        segments=figures,
        dispatch_seconds=dispatch,
        delivered=sum(run.posts for f in figures for run in f.runs),
        failed=failed,
        throttled=sum(f.throttled for f in figures),
    )


def finish_spread(outcome: Outcome) -> tuple[float, float, float]:
    """Earliest, median and latest segment finish (seconds from its dispatch)."""
    spans = [s.finished - s.dispatched for s in outcome.segments]
    return min(spans), statistics.median(spans), max(spans)

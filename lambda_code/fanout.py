"""Posting frames to connections through the API Gateway management API, one or many at once.

Each post ends in one of three outcomes:

- delivered;
- gone: 410 ``GoneException``, the connection closed; the caller deletes its stale record;
- failed: anything else (403 ``ForbiddenException``, 413, 5xx, a network error), or a 429
  ``LimitExceededException`` still refused after ``MAX_ATTEMPTS`` tries with jittered
  exponential backoff. A failure is counted, never fatal to the rest of a broadcast.

The 429 backoff lives here rather than in botocore's retry handler so it is one explicit
policy wherever the management API is answered: botocore's retries run only for responses
that went through its HTTP layer, and a local emulator answers in a ``before-call`` hook.

Concurrency bound: ``FAN_OUT_WORKERS`` = 64 threads, with as many pooled HTTP connections.
A post is one HTTPS round trip of 10-30 ms inside a region, so throughput is about
workers / latency (64 / 20 ms = 3,200 posts/s) until botocore's CPU cost per post caps it
(serializing and signing: ~0.2 ms on a full core, ~0.4 ms with 64 threads sharing the GIL).
64 is where benchmarks/fanout.py peaks: 16 and 32 wait on the network, 128 only adds
contention. Lambda gives a function a full vCPU at 1,769 MB; with less memory the CPU cap
falls in proportion (about a third at 512 MB), which still reaches 10,000 connections
inside API Gateway's 29 s integration timeout.

Workers are shared by every fan-out of the process and take ids from one queue: a post costs
a queue put and get (~1 µs). An executor task per post (~25 µs) and 64 new threads per
broadcast were most of a broadcast's cost wherever posts are answered in-process (the local
emulator, which also runs concurrent invocations as threads of one process). A worker starts
with a post while fewer than the bound run, and ends after ``WORKER_IDLE_SECONDS`` without
one, so warm invocations reuse them. The bound is per process: on Lambda, per container,
which runs one invocation at a time.
"""

from __future__ import annotations

import enum
import logging
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

logger = logging.getLogger("wsctl.service")

FAN_OUT_WORKERS = 64
# Posts queued per worker: enough to keep every worker busy while the next scan page loads
# (~100 ms: 8 x 64 = 512 posts), few enough to keep memory flat however big the table.
QUEUED_PER_WORKER = 8
# A worker this long without a post ends; the next fan-out starts it again.
WORKER_IDLE_SECONDS = 10.0
MAX_ATTEMPTS = 4
BACKOFF_BASE_SECONDS = 0.05
BACKOFF_CAP_SECONDS = 1.0

GONE = "GoneException"
LIMIT_EXCEEDED = "LimitExceededException"


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    GONE = "gone"
    FAILED = "failed"


class PostResult(NamedTuple):
    outcome: Outcome
    error: str | None = None


_DELIVERED = PostResult(Outcome.DELIVERED)
_INTERNAL_ERROR = PostResult(Outcome.FAILED, "internal")


def backoff_delay(failures: int, rand: Callable[[], float] = random.random) -> float:
    """Full-jitter exponential backoff after ``failures`` refused attempts (1-based)."""
    return rand() * min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures - 1))


def _error_code(error: ClientError) -> str:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    code = error.response.get("Error", {}).get("Code")
    # A bare status (no error body) still means what AWS's documented status means.
    if status == 410 or code == "410":
        return GONE
    if status == 429 or code == "429":
        return LIMIT_EXCEEDED
    return str(code or status or "ClientError")


def post(
    client: Any,
    connection_id: str,
    data: bytes,
    *,
    sleep: Callable[[float], None] = time.sleep,
    max_attempts: int = MAX_ATTEMPTS,
) -> PostResult:
    """Post ``data`` to one connection; never raises."""
    for attempt in range(1, max_attempts + 1):
        try:
            client.post_to_connection(ConnectionId=connection_id, Data=data)
            return _DELIVERED
        except ClientError as error:
            code = _error_code(error)
        except Exception as error:  # network errors, or a broken hook: counted, not raised
            code = type(error).__name__
        if code == GONE:
            return PostResult(Outcome.GONE, code)
        if code != LIMIT_EXCEEDED or attempt == max_attempts:
            return PostResult(Outcome.FAILED, code)
        sleep(backoff_delay(attempt))
    raise AssertionError("unreachable: the last attempt returns")


@dataclass
class FanOutResult:
    delivered: int = 0
    gone: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def add(self, result: PostResult) -> None:
        if result.outcome is Outcome.DELIVERED:
            self.delivered += 1
        elif result.outcome is Outcome.GONE:
            self.gone += 1
        else:
            self.failed += 1
            self.errors[result.error or "unknown"] += 1


class _FanOut:
    """One fan-out: its data, how many of its posts are unfinished, and the tally."""

    def __init__(
        self,
        client: Any,
        data: bytes,
        on_gone: Callable[[str], None],
        sleep: Callable[[float], None],
        bound: int,
    ) -> None:
        self.result = FanOutResult()
        self._client = client
        self._data = data
        self._sleep = sleep
        self._on_gone = on_gone
        self._bound = bound
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = 0  # ids queued or being posted

    def run(self, workers: _Workers, connection_ids: Iterable[str]) -> None:
        try:
            for connection_id in connection_ids:
                with self._lock:
                    while self._pending >= self._bound:
                        self._changed.wait()
                    self._pending += 1
                workers.submit(self, connection_id)
        finally:
            with self._lock:
                while self._pending:
                    self._changed.wait()

    def post(self, connection_id: str) -> None:
        outcome = _INTERNAL_ERROR
        try:
            outcome = post(self._client, connection_id, self._data, sleep=self._sleep)
            if outcome.outcome is Outcome.GONE:
                self._on_gone(connection_id)
        except Exception:
            logger.exception("fan-out: cleaning up gone connection %s failed", connection_id)
        finally:
            with self._lock:
                self.result.add(outcome)
                self._pending -= 1
                # The producer waits for room under the bound, then for the last post.
                if self._pending in (self._bound - 1, 0):
                    self._changed.notify()


class _Workers:
    """Up to ``size`` threads posting for every fan-out of this process, from one queue.

    A thread starts with a post when fewer than ``size`` are running, and ends after
    ``WORKER_IDLE_SECONDS`` without one, so a module the local emulator reloaded is let go.
    Threads are daemons: an idle one never holds up the process's exit.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._tasks: queue.SimpleQueue[tuple[_FanOut, str]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = 0

    def submit(self, fan: _FanOut, connection_id: str) -> None:
        self._tasks.put((fan, connection_id))
        # Under the lock: a thread ending for want of work checks the queue under it too.
        with self._lock:
            if self._running < self._size:
                self._running += 1
                threading.Thread(target=self._work, name="fan-out", daemon=True).start()

    def _work(self) -> None:
        while True:
            try:
                fan, connection_id = self._tasks.get(timeout=WORKER_IDLE_SECONDS)
            except queue.Empty:
                with self._lock:
                    if self._tasks.empty():
                        self._running -= 1
                        return
                continue
            fan.post(connection_id)


_pools: dict[int, _Workers] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> _Workers:
    """The process's workers for fan-outs bounded at ``workers``."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = _Workers(workers)
        return pool


def fan_out(
    client: Any,
    data: bytes,
    connection_ids: Iterable[str],
    *,
    on_gone: Callable[[str], None],
    workers: int = FAN_OUT_WORKERS,
    sleep: Callable[[float], None] = time.sleep,
) -> FanOutResult:
    """Post ``data`` to every id, ``workers`` at a time; ``on_gone(id)`` for each 410.

    ``connection_ids`` is consumed lazily while posts run, so scanning the next page of the
    table overlaps with posting the previous one; at most ``QUEUED_PER_WORKER * workers``
    posts wait queued.
    An exception from ``connection_ids`` propagates after in-flight posts finish.
    """
    fan = _FanOut(client, data, on_gone, sleep, QUEUED_PER_WORKER * workers)
    fan.run(_pool(workers), connection_ids)
    return fan.result

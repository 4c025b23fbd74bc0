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

Workers start one per id up to the bound and live as long as the container, so a warm
invocation reuses them instead of starting 64 threads per broadcast. Each drains its fan-out's
queue of ids: a post costs a queue put and get (~1 µs) where an executor task per post cost
~25 µs, which was most of a broadcast's cost wherever posts are answered in-process (the local
emulator). The emulator runs concurrent invocations as threads of one process, so there they
share the workers: the bound is per process, as it is per container on Lambda, and concurrent
fan-outs take the workers in turn.
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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from botocore.exceptions import ClientError

logger = logging.getLogger("wsctl.service")

FAN_OUT_WORKERS = 64
# Posts queued per worker: enough to keep every worker busy while the next scan page loads
# (~100 ms: 8 x 64 = 512 posts), few enough to keep memory flat however big the table.
QUEUED_PER_WORKER = 8
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
    """One fan-out's queue of ids, the workers draining it, and the tally they keep."""

    _DONE = object()  # one per worker, after the last id

    def __init__(
        self,
        client: Any,
        data: bytes,
        on_gone: Callable[[str], None],
        sleep: Callable[[float], None],
        workers: int,
    ) -> None:
        self.result = FanOutResult()
        self._client = client
        self._data = data
        self._sleep = sleep
        self._on_gone = on_gone
        self._workers = workers
        self._bound = QUEUED_PER_WORKER * workers
        self._ids: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._pending = 0  # ids queued or being posted
        self._running = 0  # workers that have not finished

    def run(self, pool: ThreadPoolExecutor, connection_ids: Iterable[str]) -> None:
        try:
            for connection_id in connection_ids:
                with self._lock:
                    while self._pending >= self._bound:
                        self._changed.wait()
                    self._pending += 1
                self._ids.put(connection_id)
                if self._running < self._workers:  # a worker per id, up to the bound
                    pool.submit(self._drain)
                    with self._lock:
                        self._running += 1
        finally:
            for _ in range(self._running):
                self._ids.put(self._DONE)
            with self._lock:
                self._changed.wait_for(lambda: self._running == 0)

    def _drain(self) -> None:
        try:
            while (connection_id := self._ids.get()) is not self._DONE:
                self._post(connection_id)
        finally:
            with self._lock:
                self._running -= 1
                self._changed.notify_all()

    def _post(self, connection_id: str) -> None:
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
                if self._pending == self._bound - 1:  # the producer may wait for this one
                    self._changed.notify()


_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


def _pool(workers: int) -> ThreadPoolExecutor:
    """The process's pool of ``workers`` threads (started as needed, kept while warm)."""
    with _pools_lock:
        pool = _pools.get(workers)
        if pool is None:
            pool = _pools[workers] = ThreadPoolExecutor(workers, thread_name_prefix="fan-out")
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
    fan = _FanOut(client, data, on_gone, sleep, workers)
    fan.run(_pool(workers), connection_ids)
    return fan.result

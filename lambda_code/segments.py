"""A broadcast to a big table: DynamoDB parallel-scan segments, each posted by an asynchronous
invocation of the broadcast function, and one ack with the totals of them all.

One invocation posting at ~2,500 posts/s meets API Gateway's 29 s integration timeout at about
70,000 connections. Past that, the work is split the way DynamoDB splits a table: a parallel
scan's ``Segment``/``TotalSegments`` divide the table into disjoint parts that together cover
it (DynamoDB developer guide, "Parallel scan"), and each part is posted by its own invocation
of this function (Lambda ``Invoke`` with ``InvocationType=Event``: each has its own CPU and its
own timeout).

- **Small tables, exactly as before.** The invocation of the ``broadcast`` route reads the
  table's first page; when that is the whole table and it holds at most ``FANOUT_SEGMENT_SIZE``
  connections, it posts to them itself and acks.
- **Big tables.** It estimates the table's size (the first page, and a COUNT of one segment in
  ``SAMPLE_SEGMENTS``: DynamoDB's ``ItemCount`` is refreshed only every six hours or so), makes
  one segment per ``FANOUT_SEGMENT_SIZE`` connections, writes a counter record and dispatches
  the segments from a few threads.
- **The account's throttle.** API Gateway throttles every API of an account and region
  together, WebSocket callbacks (posts) included: 10,000 requests per second by default, with a
  token bucket for bursts (API Gateway developer guide, "Amazon API Gateway quotas"). Segments
  all posting at full speed would mostly be refused (429) and give up after their retries, so
  each paces its posts at its share, ``RATE_SHARE`` of ``FANOUT_ACCOUNT_RPS`` divided among the
  broadcast's segments; benchmarks/fanout.py models both.
- **Budget.** A segment stops taking connections when its remaining time falls to a reserve
  (a quarter of it, at least 3 s, at most half), lets the posts in flight finish, and invokes a
  continuation of itself from the key of the last item it took (``ExclusiveStartKey`` with the
  same segment, as DynamoDB requires). No invocation runs into its timeout.
- **One ack.** Every segment adds its counts to the counter record with an atomic ``ADD``; the
  one whose ``ADD`` brings ``done`` to the number of segments posts the ack and deletes the
  record. The record's key starts with ``RESERVED_PREFIX`` so that listings, counts and
  broadcasts skip it, and its ``ttl`` removes it if a segment dies before the end.
- **Failures are counted, never silent.** A segment whose dispatch or scan fails counts the
  connections it could not reach (a COUNT of the rest of its segment; if even that fails, the
  planned size of the segment) as ``failed``, and still reports in, so the ack still comes.
- **Duplicates.** Lambda may deliver an asynchronous event more than once, and retries a
  function that errs (Lambda developer guide, "How Lambda handles errors and retries with
  asynchronous invocation"). Each run first claims its job in the counter record (a
  conditional ``ADD`` to a string set); a second delivery finds it claimed and does nothing.
  Runs never raise, so Lambda has no error to retry.

The handler calls ``Segments.broadcast`` for the route and ``Segments.run`` for a job event
(``is_job``); a service of one's own can do the same from its handlers. Needs, besides the
fan-out's permissions: ``dynamodb:PutItem``, ``UpdateItem`` and ``DeleteItem`` on the table, and
``lambda:InvokeFunction`` on the function itself (``invokes = ["broadcast"]`` in wsctl.toml).
Without them the route falls back to posting everything itself, and logs which one is missing.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

import fanout
import messaging
from botocore.exceptions import ClientError
from connection_store import FAN_OUT_ATTRIBUTES, RESERVED_PREFIX, ConnectionStore, live_id

logger = logging.getLogger("wsctl.service")

SEGMENT_SIZE_ENV = "FANOUT_SEGMENT_SIZE"
ACCOUNT_RPS_ENV = "FANOUT_ACCOUNT_RPS"
# API Gateway's default throttle per account and region (raise it here if AWS raised yours).
DEFAULT_ACCOUNT_RPS = 10_000
# What one broadcast's segments may use of it: replies, connects and other APIs need the rest.
RATE_SHARE = 0.9
# Connections per segment. benchmarks/fanout.py: at 20 ms a post, 64 workers and 1,769 MB, a
# segment of 10,000 posts in ~4-5 s alone, so 100,000 connections (10 segments) finish within
# the 15 s target under API Gateway's 10,000 posts/s account throttle; at 512 MB (~0.3 vCPU)
# a segment still fits well inside the 29 s timeout, and a slower one continues itself.
DEFAULT_SEGMENT_SIZE = 10_000
# The size estimate counts one segment in this many (1/64 of the table's reads).
SAMPLE_SEGMENTS = 64
# Lambda's default concurrency is 1,000 executions per account and region.
MAX_SEGMENTS = 1_000
DISPATCH_THREADS = 16
COUNTER_TTL_SECONDS = 60 * 60
RESERVE_FRACTION = 0.25
MIN_RESERVE_SECONDS = 3.0
# A segment that has continued itself this often gives up and counts the rest as failed.
MAX_HOPS = 200
JOB_KEY = "wsctlBroadcastSegment"

Invoke = Callable[[dict[str, Any]], None]


def _setting(environ: Mapping[str, str], name: str, default: int) -> int:
    """A positive whole number from the environment, else ``default`` (and a warning)."""
    raw = environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        logger.warning("%s=%r is not a positive whole number; using %d", name, raw, default)
        return default
    return value


def segment_size(environ: Mapping[str, str] = os.environ) -> int:
    """``FANOUT_SEGMENT_SIZE``, or the default when unset or not a positive whole number."""
    return _setting(environ, SEGMENT_SIZE_ENV, DEFAULT_SEGMENT_SIZE)


def account_rps(environ: Mapping[str, str] = os.environ) -> int:
    """``FANOUT_ACCOUNT_RPS``: the account's API Gateway throttle, default 10,000."""
    return _setting(environ, ACCOUNT_RPS_ENV, DEFAULT_ACCOUNT_RPS)


def segment_rate(rps: int, segments: int) -> float:
    """Posts per second one of ``segments`` may make: its share of the account's throttle."""
    return rps * RATE_SHARE / segments


def segment_count(estimate: int, size: int) -> int:
    """Segments for ``estimate`` connections at ``size`` each: at least 2 (a table this big
    has more than one segment's worth), at most ``MAX_SEGMENTS``."""
    return max(2, min(MAX_SEGMENTS, math.ceil(estimate / size)))


def reserve_seconds(remaining_seconds: float) -> float:
    """Time kept back, when a segment stops taking connections, for the posts in flight, the
    counter update and the continuation's dispatch."""
    wanted = max(MIN_RESERVE_SECONDS, remaining_seconds * RESERVE_FRACTION)
    return min(wanted, remaining_seconds / 2)


@dataclass(frozen=True)
class Job:
    """One run of one segment: what an asynchronous invocation receives."""

    broadcast: str  # the counter record's key
    segment: int
    segments: int
    sender: str
    endpoint: str
    data: bytes
    expected: int  # the planned connections per segment, for a segment that is lost
    rate: float  # posts per second, at most
    hop: int = 0
    start_key: dict[str, Any] | None = None

    @property
    def name(self) -> str:
        return f"{self.segment}.{self.hop}"

    def to_event(self) -> dict[str, Any]:
        # The frame travels base64-encoded: a 128 KB frame stays under Invoke's 256 KB limit
        # for asynchronous payloads, where JSON escapes could double it.
        return {
            JOB_KEY: {
                "broadcast": self.broadcast,
                "segment": self.segment,
                "segments": self.segments,
                "sender": self.sender,
                "endpoint": self.endpoint,
                "data": base64.b64encode(self.data).decode("ascii"),
                "expected": self.expected,
                "rate": self.rate,
                "hop": self.hop,
                "startKey": self.start_key,
            }
        }

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Job:
        body = event[JOB_KEY]
        return cls(
            broadcast=body["broadcast"],
            segment=int(body["segment"]),
            segments=int(body["segments"]),
            sender=body["sender"],
            endpoint=body["endpoint"],
            data=base64.b64decode(body["data"]),
            expected=int(body["expected"]),
            rate=float(body["rate"]),
            hop=int(body.get("hop", 0)),
            start_key=body.get("startKey") or None,
        )

    def continued(self, start_key: dict[str, Any]) -> Job:
        return replace(self, hop=self.hop + 1, start_key=start_key)


def is_job(event: Any) -> bool:
    """Whether an event is a segment's job (only an Invoke can send one, never a client)."""
    return isinstance(event, dict) and isinstance(event.get(JOB_KEY), dict)


@dataclass(frozen=True)
class Totals:
    delivered: int
    gone: int
    failed: int
    done: int
    segments: int


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _conditional_failed(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Counter:
    """The counter record of one segmented broadcast, in the connections table."""

    def __init__(self, client: Any, table: str, key: str) -> None:
        self._client = client
        self._table = table
        self._key = {"connectionId": {"S": key}}

    def create(self, segments: int, sender: str, now: float) -> None:
        self._client.put_item(
            TableName=self._table,
            Item={
                **self._key,
                "segments": _n(segments),
                "done": _n(0),
                "delivered": _n(0),
                "gone": _n(0),
                "failed": _n(0),
                "sender": {"S": sender},
                "ttl": _n(int(now) + COUNTER_TTL_SECONDS),
            },
            ConditionExpression="attribute_not_exists(connectionId)",
        )

    def claim(self, job: str) -> bool:
        """Mark ``job`` as started; False if it already was, or the broadcast is over."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._key,
                UpdateExpression="ADD jobs :job",
                ConditionExpression="attribute_exists(connectionId) AND NOT contains(jobs, :name)",
                ExpressionAttributeValues={":job": {"SS": [job]}, ":name": {"S": job}},
            )
        except ClientError as error:
            if _conditional_failed(error):
                return False
            raise
        return True

    def add(self, result: fanout.FanOutResult, *, finished: bool) -> Totals:
        response = self._client.update_item(
            TableName=self._table,
            Key=self._key,
            UpdateExpression="ADD delivered :d, gone :g, failed :f, done :n",
            ConditionExpression="attribute_exists(connectionId)",
            ExpressionAttributeValues={
                ":d": _n(result.delivered),
                ":g": _n(result.gone),
                ":f": _n(result.failed),
                ":n": _n(1 if finished else 0),
            },
            ReturnValues="ALL_NEW",
        )
        item = response["Attributes"]
        return Totals(
            *(int(item[name]["N"]) for name in ("delivered", "gone", "failed", "done", "segments"))
        )

    def delete(self) -> None:
        self._client.delete_item(TableName=self._table, Key=self._key)


@dataclass
class _Cursor:
    """How far a segment's run got: the key to continue after, and why it stopped."""

    key: dict[str, Any] | None
    taken: int = 0
    out_of_time: bool = False
    error: Exception | None = None


@dataclass
class Segments:
    """A segmented broadcast as one invocation sees it.

    ``management_for(endpoint)`` gives the management API client; ``invoke(event)`` invokes
    this function asynchronously; ``remaining_ms()`` is the invocation's time left.
    """

    store: ConnectionStore
    dynamodb: Any
    management_for: Callable[[str], Any]
    invoke: Invoke
    remaining_ms: Callable[[], int]
    size: int = DEFAULT_SEGMENT_SIZE
    rps: int = DEFAULT_ACCOUNT_RPS
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = time.sleep
    monotonic: Callable[[], float] = time.monotonic

    # The route's invocation ------------------------------------------------------------------

    def broadcast(self, sender: str, endpoint: str, data: bytes) -> fanout.FanOutResult | None:
        """Post ``data`` to every connection; the result when done here, None when segments
        were dispatched (the last of them acks)."""
        now = self.clock()
        first = self.store.page(FAN_OUT_ATTRIBUTES)
        ids = [i for i in (live_id(item, now) for item in first.items) if i is not None]
        management = self.management_for(endpoint)
        if first.last_key is None and len(ids) <= self.size:
            return self._post(management, sender, data, ids)
        estimate = len(ids) if first.last_key is None else self._estimate(len(ids))
        total = segment_count(estimate, self.size)
        counter_key = f"{RESERVED_PREFIX}broadcast#{uuid.uuid4()}"
        counter = Counter(self.dynamodb, self.store.table, counter_key)
        expected, rate = math.ceil(estimate / total), segment_rate(self.rps, total)
        jobs = [
            Job(counter_key, index, total, sender, endpoint, data, expected, rate)
            for index in range(total)
        ]
        try:
            counter.create(total, sender, now)
        except Exception as error:
            return self._unsegmented(management, sender, data, "writing its counter", error)
        started = time.monotonic()
        try:
            self.invoke(jobs[0].to_event())
        except Exception as error:
            self._quietly(counter.delete)
            return self._unsegmented(management, sender, data, "invoking a segment", error)
        with ThreadPoolExecutor(min(DISPATCH_THREADS, total), "segments") as pool:
            list(pool.map(self._dispatch, jobs[1:]))
        logger.info(
            "broadcast from %s: %d segments of ~%d connections dispatched in %.0f ms",
            sender,
            total,
            jobs[0].expected,
            (time.monotonic() - started) * 1000,
        )
        return None

    def _estimate(self, first_page: int) -> int:
        sampled = self.store.count_live(self.clock(), segment=(0, SAMPLE_SEGMENTS))
        return max(first_page + 1, sampled * SAMPLE_SEGMENTS)

    def _dispatch(self, job: Job) -> None:
        try:
            self.invoke(job.to_event())
        except Exception as error:
            logger.error("segment %s of %s: dispatch failed: %s", job.name, job.broadcast, error)
            # Claimed first: if the Invoke went through after all, only one of the two counts.
            counter = Counter(self.dynamodb, self.store.table, job.broadcast)
            try:
                if counter.claim(job.name):
                    self._lost(job, job.start_key, fanout.FanOutResult())
            except Exception:
                logger.exception("segment %s of %s: cannot count it", job.name, job.broadcast)

    def _unsegmented(
        self, management: Any, sender: str, data: bytes, step: str, error: Exception
    ) -> fanout.FanOutResult:
        logger.warning(
            "broadcast from %s: not segmented (%s failed: %s); posting to every connection from "
            "this invocation. Segments need dynamodb:PutItem, UpdateItem, DeleteItem and "
            'lambda:InvokeFunction with invokes = ["<this function>"] in wsctl.toml.',
            sender,
            step,
            error,
        )
        return self._post(management, sender, data, self.store.live_ids(self.clock()))

    def _post(self, management: Any, sender: str, data: bytes, ids: Any) -> fanout.FanOutResult:
        return fanout.fan_out(
            management,
            data,
            ids,
            on_gone=lambda connection_id: self._forget_gone(sender, connection_id),
            sleep=self.sleep,
        )

    def _forget_gone(self, sender: str, connection_id: str) -> None:
        """Delete a record whose connection answered 410, unless it is the sender's own."""
        if connection_id != sender:
            self.store.delete(connection_id)

    # A segment's invocation ------------------------------------------------------------------

    def run(self, job: Job) -> None:
        """Post to this segment's connections, continuing itself before its time runs out;
        never raises (an error would make Lambda run the same job again)."""
        began = time.monotonic()
        remaining = self.remaining_ms() / 1000
        stop_at = self.monotonic() + remaining - reserve_seconds(remaining)
        counter = Counter(self.dynamodb, self.store.table, job.broadcast)
        try:
            if not counter.claim(job.name):
                logger.info("segment %s of %s: already run; skipped", job.name, job.broadcast)
                return
        except Exception:
            logger.exception("segment %s of %s: cannot claim it", job.name, job.broadcast)
            return
        cursor = _Cursor(job.start_key)
        result = fanout.FanOutResult()
        try:
            management = self.management_for(job.endpoint)
            result = self._post(management, job.sender, job.data, self._ids(job, stop_at, cursor))
        except Exception as error:
            cursor.error = error
            logger.exception("segment %s of %s failed", job.name, job.broadcast)
        logger.info(
            "segment %s of %s: delivered=%d gone=%d failed=%d in %.0f ms%s",
            job.name,
            job.broadcast,
            result.delivered,
            result.gone,
            result.failed,
            (time.monotonic() - began) * 1000,
            ", continuing" if cursor.out_of_time and cursor.error is None else "",
        )
        if cursor.error is not None:
            self._lost(job, cursor.key, result)
        elif cursor.out_of_time:
            self._continue(counter, job, cursor.key, result)
        else:
            self._report(counter, job, result)

    def _ids(self, job: Job, stop_at: float, cursor: _Cursor) -> Iterator[str]:
        """The segment's live connection ids from its start key, until the time to stop.

        A scan error ends the ids (the fan-out then finishes and counts what it posted), and is
        left in ``cursor`` for the run to count the rest as failed.
        """
        now = self.clock()
        paced_from, yielded = self.monotonic(), 0
        while True:
            try:
                page = self.store.page(
                    FAN_OUT_ATTRIBUTES, segment=(job.segment, job.segments), start_key=cursor.key
                )
            except Exception as error:
                logger.error("segment %s of %s: scan failed: %s", job.name, job.broadcast, error)
                cursor.error = error
                return
            for item in page.items:
                # At least one item a run, so a segment always gets on.
                if cursor.taken and self.monotonic() >= stop_at:
                    cursor.out_of_time = True
                    return
                cursor.key = {"connectionId": item["connectionId"]}
                cursor.taken += 1
                connection_id = live_id(item, now)
                if connection_id is not None:
                    # The fan-out takes ids as its workers free up: spacing them paces posts.
                    wait = paced_from + yielded / job.rate - self.monotonic()
                    if wait > 0:
                        self.sleep(wait)
                    yielded += 1
                    yield connection_id
            if page.last_key is None:
                return
            cursor.key = page.last_key

    def _continue(
        self, counter: Counter, job: Job, key: dict[str, Any] | None, result: fanout.FanOutResult
    ) -> None:
        if job.hop + 1 >= MAX_HOPS or key is None:
            self._lost(job, key, result)
            return
        try:
            counter.add(result, finished=False)
        except Exception:
            logger.exception("segment %s of %s: counting failed", job.name, job.broadcast)
            return
        try:
            self.invoke(job.continued(key).to_event())
        except Exception as error:
            logger.error("segment %s of %s: continuing failed: %s", job.name, job.broadcast, error)
            self._lost(job, key, fanout.FanOutResult())

    def _lost(self, job: Job, key: dict[str, Any] | None, result: fanout.FanOutResult) -> None:
        """Report a segment that cannot go on, its unreached connections counted as failed."""
        result.failed += self._unreached(job, key, result)
        self._report(Counter(self.dynamodb, self.store.table, job.broadcast), job, result)

    def _unreached(self, job: Job, key: dict[str, Any] | None, posted: fanout.FanOutResult) -> int:
        """The connections left in the segment after ``key``; if the table cannot say, what
        the plan expected of the segment, less what was posted (at least one)."""
        try:
            return self.store.count_live(
                self.clock(), segment=(job.segment, job.segments), start_key=key
            )
        except Exception:
            done = posted.delivered + posted.gone + posted.failed
            return max(1, job.expected - done)

    def _report(self, counter: Counter, job: Job, result: fanout.FanOutResult) -> None:
        """Add the segment's counts; the segment that completes the broadcast acks it."""
        try:
            totals = counter.add(result, finished=True)
        except Exception:
            logger.exception("segment %s of %s: counting failed", job.name, job.broadcast)
            return
        if totals.done != totals.segments:
            return
        ack = messaging.ack_frame("broadcast", totals.delivered, totals.gone, totals.failed)
        try:
            outcome = fanout.post(
                self.management_for(job.endpoint),
                job.sender,
                messaging.encode_frame(ack),
                sleep=self.sleep,
            )
        except Exception as error:
            outcome = fanout.PostResult(fanout.Outcome.FAILED, str(error))
        logger.info(
            "broadcast %s from %s: %d segments, delivered=%d gone=%d failed=%d; ack %s",
            job.broadcast,
            job.sender,
            totals.segments,
            totals.delivered,
            totals.gone,
            totals.failed,
            outcome.outcome.value,
        )
        self._quietly(counter.delete)

    @staticmethod
    def _quietly(step: Callable[[], None]) -> None:
        try:
            step()
        except Exception:
            logger.exception("removing a broadcast's counter record failed (its ttl will)")


def invoker(client: Callable[[], Any], function_name: str) -> Invoke:
    """``invoke(event)``: ``function_name`` invoked asynchronously (``InvocationType=Event``)
    through ``client()``, made only when a broadcast is segmented."""

    def invoke(event: dict[str, Any]) -> None:
        response = client().invoke(
            FunctionName=function_name,
            InvocationType="Event",
            Payload=json.dumps(event, separators=(",", ":")).encode("utf-8"),
        )
        status = response.get("StatusCode")
        if status != 202:  # Invoke's documented answer to an accepted Event
            raise RuntimeError(f"Invoke answered {status}, not 202")

    return invoke

"""The segmented broadcast (lambda_code/segments.py) against moto's DynamoDB and the fake
management API: small tables as before, big ones in segments run as asynchronous invocations
would be (queued, run in turn, duplicated, lost, out of time), one ack with the totals."""

from __future__ import annotations

import json
import logging
from collections import Counter as Tally
from types import SimpleNamespace

import aws_clients
import handler
import pytest
import segments
from botocore.awsrequest import AWSResponse
from connection_store import RESERVED_PREFIX, ConnectionStore
from service_fakes import ENDPOINT, TABLE, ResponseBody, message_event, seed, stored_ids

SENDER = "sender-AAAAAAA="
DATA = json.dumps({"type": "broadcast", "from": SENDER, "message": "hi", "at": 1}).encode()


def ids(count: int) -> list[str]:
    return [SENDER] + [f"conn-{n:05d}=" for n in range(count - 1)]


class Jobs:
    """What Invoke with InvocationType=Event would queue: run later, in any order."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.refuse: set[int] = set()  # segments whose dispatch fails

    def invoke(self, event: dict) -> None:
        job = segments.Job.from_event(json.loads(json.dumps(event)))
        if job.segment in self.refuse and job.hop == 0:
            raise RuntimeError("TooManyRequestsException: Rate exceeded")
        self.events.append(json.loads(json.dumps(event)))

    def run_all(self, make, *, order=lambda events: events) -> list[segments.Job]:
        """Run queued jobs (and the ones they queue) until none is left; returns them."""
        ran = []
        for _ in range(10_000):
            if not self.events:
                return ran
            batch, self.events = order(self.events), []
            for event in batch:
                job = segments.Job.from_event(event)
                ran.append(job)
                make().run(job)
        raise AssertionError("jobs kept queueing jobs")


class FakeClock:
    """A monotonic clock that moves one second each time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def make_segments(aws, jobs: Jobs, *, size: int = 50, remaining_ms: int = 29_000, **extra):
    store = extra.pop("store", None) or ConnectionStore(aws, TABLE)
    return segments.Segments(
        store=store,
        dynamodb=aws,
        management_for=aws_clients.management,
        invoke=jobs.invoke,
        remaining_ms=lambda: remaining_ms,
        size=size,
        **{"sleep": lambda _: None, **extra},
    )


def broadcasts_received(gateway) -> Tally:
    return Tally(
        connection_id
        for connection_id, frames in gateway.frames.items()
        for frame in frames
        if frame.get("type") == "broadcast"
    )


def acks(gateway) -> list[dict]:
    return [frame for frame in gateway.received(SENDER) if frame["type"] == "ack"]


def counter_records(aws) -> set[str]:
    return {key for key in stored_ids(aws) if key.startswith(RESERVED_PREFIX)}


# Settings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, segments.DEFAULT_SEGMENT_SIZE),
        ({"FANOUT_SEGMENT_SIZE": "50"}, 50),
        ({"FANOUT_SEGMENT_SIZE": "0"}, segments.DEFAULT_SEGMENT_SIZE),
        ({"FANOUT_SEGMENT_SIZE": "-3"}, segments.DEFAULT_SEGMENT_SIZE),
        ({"FANOUT_SEGMENT_SIZE": "lots"}, segments.DEFAULT_SEGMENT_SIZE),
    ],
)
def test_segment_size_comes_from_the_environment_with_a_default(environ, expected):
    """FANOUT_SEGMENT_SIZE sets the size; unset or not a positive number, the default."""
    assert segments.segment_size(environ) == expected


def test_the_account_rate_is_a_setting_shared_among_segments():
    """FANOUT_ACCOUNT_RPS (default API Gateway's 10,000) times RATE_SHARE, split evenly."""
    assert segments.account_rps({}) == 10_000
    assert segments.account_rps({"FANOUT_ACCOUNT_RPS": "2500"}) == 2500
    assert segments.account_rps({"FANOUT_ACCOUNT_RPS": "x"}) == 10_000
    assert segments.segment_rate(10_000, 10) == pytest.approx(900)


def test_segment_count_is_one_per_size_within_bounds():
    """ceil(estimate / size) segments, at least two, at most MAX_SEGMENTS."""
    assert segments.segment_count(301, 50) == 7
    assert segments.segment_count(51, 50) == 2
    assert segments.segment_count(10**9, 50) == segments.MAX_SEGMENTS


def test_the_reserve_is_a_quarter_at_least_three_seconds_at_most_half():
    """29 s keeps 7.25 s back, 10 s keeps 3 s, 4 s keeps 2 s."""
    assert segments.reserve_seconds(29) == pytest.approx(7.25)
    assert segments.reserve_seconds(10) == pytest.approx(3)
    assert segments.reserve_seconds(4) == pytest.approx(2)


def test_a_job_survives_its_trip_through_invoke():
    """A job's event (JSON, frame base64) reads back as the same job."""
    job = segments.Job(
        "wsctl#b", 3, 7, SENDER, ENDPOINT, b"\x00\xff{}", 43, 128.6, 2, {"k": {"S": "x"}}
    )
    assert segments.Job.from_event(json.loads(json.dumps(job.to_event()))) == job
    assert segments.is_job(job.to_event())
    assert not segments.is_job(message_event(SENDER, {"action": "broadcast", "message": 1}))


# Small tables ----------------------------------------------------------------------------


def test_a_small_table_is_posted_by_the_route_itself(aws, gateway):
    """Up to FANOUT_SEGMENT_SIZE connections: no segment, no counter, the result returned."""
    seed(aws, ids(50))
    jobs = Jobs()
    result = make_segments(aws, jobs, size=50).broadcast(SENDER, ENDPOINT, DATA)
    assert (result.delivered, result.gone, result.failed) == (50, 0, 0)
    assert jobs.events == []
    assert broadcasts_received(gateway) == Tally(ids(50))
    assert counter_records(aws) == set()


# Big tables ------------------------------------------------------------------------------


def test_300_connections_in_segments_of_50_each_receive_it_once_with_one_ack(aws, gateway):
    """Every connection gets the frame exactly once, the sender one ack counting 300, and the
    counter record is gone afterwards."""
    seed(aws, ids(300))
    jobs = Jobs()
    assert make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA) is None
    assert len(jobs.events) == segments.segment_count(300, 50)
    assert len(counter_records(aws)) == 1
    ran = jobs.run_all(lambda: make_segments(aws, jobs))
    assert {job.segment for job in ran} == set(range(len(ran)))
    assert broadcasts_received(gateway) == Tally(ids(300))
    assert [(a["delivered"], a["gone"], a["failed"]) for a in acks(gateway)] == [(300, 0, 0)]
    assert counter_records(aws) == set()


class ShortPagedStore(ConnectionStore):
    """A table whose whole-table scans stop at 100 items a page, as a big table's stop at
    1 MB: the route cannot see its size from the first page."""

    def page(self, attributes=(), *, segment=None, start_key=None, **extra):
        if segment is None:
            extra["Limit"] = 100
        return super().page(attributes, segment=segment, start_key=start_key, **extra)


def test_a_table_bigger_than_a_page_is_sized_from_one_segment_in_64(aws, gateway):
    """More than one page: the route counts segment 0 of 64 and plans from 64 times that;
    every connection still gets the frame once, and the ack counts all 640."""
    seed(aws, ids(640))
    jobs = Jobs()
    store = ShortPagedStore(aws, TABLE)
    assert make_segments(aws, jobs, store=store).broadcast(SENDER, ENDPOINT, DATA) is None
    sampled = store.count_live(0, segment=(0, segments.SAMPLE_SEGMENTS))
    estimate = max(101, sampled * segments.SAMPLE_SEGMENTS)
    assert len(jobs.events) == segments.segment_count(estimate, 50)
    jobs.run_all(lambda: make_segments(aws, jobs, store=store))
    assert broadcasts_received(gateway) == Tally(ids(640))
    assert [(a["delivered"], a["failed"]) for a in acks(gateway)] == [(640, 0)]


def test_segments_finishing_in_any_order_ack_once(aws, gateway):
    """Run last-dispatched first: still one ack, sent only after every segment reported."""
    seed(aws, ids(300))
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    jobs.run_all(lambda: make_segments(aws, jobs), order=lambda events: events[::-1])
    assert [(a["delivered"], a["failed"]) for a in acks(gateway)] == [(300, 0)]
    assert broadcasts_received(gateway) == Tally(ids(300))


def test_a_job_delivered_twice_runs_once(aws, gateway):
    """Lambda may deliver an async event twice: the second run posts nothing and counts
    nothing; a run after the broadcast ended does not recreate the counter."""
    seed(aws, ids(120))
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    jobs.run_all(lambda: make_segments(aws, jobs), order=lambda events: events + events[:1])
    assert broadcasts_received(gateway) == Tally(ids(120))
    assert [a["delivered"] for a in acks(gateway)] == [120]
    late = segments.Job.from_event(
        segments.Job("x", 0, 3, SENDER, ENDPOINT, DATA, 40, 3000.0).to_event()
    )
    make_segments(aws, jobs).run(late)
    assert counter_records(aws) == set()


def test_a_segment_near_its_budget_continues_itself_and_never_passes_it(aws, gateway):
    """With a clock that moves a second per read and 10 s left, each run stops taking
    connections at 7 s (3 s reserve) and continues from where it stopped: all delivered once."""
    seed(aws, ids(300))
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    clocks: list[FakeClock] = []

    def make():
        clocks.append(FakeClock())
        return make_segments(aws, jobs, remaining_ms=10_000, monotonic=clocks[-1])

    ran = jobs.run_all(make)
    assert max(job.hop for job in ran) > 0
    # stop_at is read 1 s in, so the last read that let an id through was at most 7 + 1.
    assert all(clock.now <= 9 for clock in clocks)
    assert broadcasts_received(gateway) == Tally(ids(300))
    assert [(a["delivered"], a["failed"]) for a in acks(gateway)] == [(300, 0)]
    assert counter_records(aws) == set()


class SleepClock:
    """A monotonic clock that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_segments_pace_their_posts_at_their_share_of_the_account_rate(aws, gateway):
    """300 connections, 6 segments, an account rate of 60/s: each segment posts at 9 per
    second (0.9 x 60 / 6), so its ~50 posts take ~5.5 s of pacing, inside its budget."""
    seed(aws, ids(300))
    jobs = Jobs()
    make_segments(aws, jobs, rps=60).broadcast(SENDER, ENDPOINT, DATA)
    assert [segments.Job.from_event(e).rate for e in jobs.events] == [pytest.approx(9.0)] * 6
    clocks: list[SleepClock] = []

    def make():
        clocks.append(SleepClock())
        return make_segments(aws, jobs, rps=60, monotonic=clocks[-1], sleep=clocks[-1].sleep)

    ran = jobs.run_all(make)
    assert all(job.hop == 0 for job in ran)
    posted = Tally(job.segment for job in ran)
    for clock, job in zip(clocks, ran, strict=True):
        in_segment = ConnectionStore(aws, TABLE).count_live(0, segment=(job.segment, 6))
        # n posts at 9/s: the last starts (n - 1) / 9 s after the first.
        assert clock.now == pytest.approx((in_segment - 1) / 9, abs=0.2)
    assert sum(posted.values()) == 6
    assert [(a["delivered"], a["failed"]) for a in acks(gateway)] == [(300, 0)]


def test_a_segment_out_of_hops_counts_the_rest_as_failed(aws, gateway, monkeypatch):
    """A segment that keeps running out of time gives up after MAX_HOPS runs; what it did not
    reach is failed, and the ack still comes with delivered + failed = every connection."""
    monkeypatch.setattr(segments, "MAX_HOPS", 2)
    seed(aws, ids(300))
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    jobs.run_all(lambda: make_segments(aws, jobs, remaining_ms=10_000, monotonic=FakeClock()))
    (ack,) = acks(gateway)
    assert ack["failed"] > 0
    assert ack["delivered"] + ack["failed"] == 300
    assert sum(broadcasts_received(gateway).values()) == ack["delivered"]
    assert counter_records(aws) == set()


class FailingSegmentStore(ConnectionStore):
    """A table whose scans of one segment fail (counting it still works)."""

    def __init__(self, client, table, segment: int) -> None:
        super().__init__(client, table)
        self.failing = segment

    def page(self, attributes=(), *, segment=None, start_key=None, **extra):
        if segment is not None and segment[0] == self.failing and "Select" not in extra:
            raise RuntimeError("ProvisionedThroughputExceededException (injected)")
        return super().page(attributes, segment=segment, start_key=start_key, **extra)


def test_a_failing_segment_is_counted_failed_and_the_ack_still_comes(aws, gateway):
    """One segment's scan fails: its connections are the ack's failed count, the others are
    delivered once, and the counter record is gone."""
    seed(aws, ids(300))
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    store = FailingSegmentStore(aws, TABLE, segment=1)
    in_segment = store.count_live(0, segment=(1, len(jobs.events)))
    jobs.run_all(lambda: make_segments(aws, jobs, store=store))
    reached = 300 - in_segment
    assert [(a["delivered"], a["failed"]) for a in acks(gateway)] == [(reached, in_segment)]
    assert in_segment > 0
    assert sum(broadcasts_received(gateway).values()) == 300 - in_segment
    assert max(broadcasts_received(gateway).values()) == 1
    assert counter_records(aws) == set()


def test_a_segment_that_cannot_be_dispatched_is_counted_failed(aws, gateway):
    """Invoke refuses one segment: the route counts its connections failed, the ack comes."""
    seed(aws, ids(300))
    jobs = Jobs()
    jobs.refuse = {2}
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    jobs.run_all(lambda: make_segments(aws, jobs))
    (ack,) = acks(gateway)
    assert ack["failed"] > 0
    assert ack["delivered"] + ack["failed"] == 300
    assert sum(broadcasts_received(gateway).values()) == ack["delivered"]
    assert counter_records(aws) == set()


def test_without_invoke_permission_the_route_posts_everything_itself(aws, gateway, caplog):
    """The first dispatch refused (an old wsctl.toml without invokes): no segments, every
    connection posted from the route's invocation, the counter removed, and a log line saying
    what to add."""
    seed(aws, ids(300))
    jobs = Jobs()
    jobs.refuse = {0}
    caplog.set_level(logging.WARNING)
    result = make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    assert (result.delivered, result.failed) == (300, 0)
    assert jobs.events == []
    assert counter_records(aws) == set()
    assert "lambda:InvokeFunction" in caplog.text


def test_counter_records_are_never_listed_counted_or_posted_to(aws, gateway):
    """While a segmented broadcast runs, its counter record is in the table but not in scan(),
    live_ids() or anyone's fan-out."""
    seed(aws, ids(120))
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    (key,) = counter_records(aws)
    store = ConnectionStore(aws, TABLE)
    assert key not in {record.connection_id for record in store.scan()}
    assert key not in set(store.live_ids(0))
    jobs.run_all(lambda: make_segments(aws, jobs))
    assert key not in gateway.attempts


# Through the handler ---------------------------------------------------------------------


class FakeLambda:
    """Lambda's Invoke as the handler's cached client sees it: events recorded, 202."""

    def __init__(self) -> None:
        self.calls: list[dict] = []

    def hook(self, model, params, **_):
        self.calls.append({"url": params["url"], "body": params["body"]})
        response = AWSResponse(params["url"], 202, {}, ResponseBody(b""))
        return response, {"StatusCode": 202, "ResponseMetadata": {"HTTPStatusCode": 202}}


@pytest.fixture
def fake_lambda(aws, monkeypatch):
    monkeypatch.setenv("FANOUT_SEGMENT_SIZE", "50")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    fake = FakeLambda()
    client = aws_clients.lambda_client()
    client.meta.events.register("before-call.lambda.Invoke", fake.hook)
    yield fake
    client.meta.events.unregister("before-call.lambda.Invoke", fake.hook)


def test_the_broadcast_handler_segments_and_runs_its_jobs(aws, gateway, fake_lambda):
    """handler.broadcast with FANOUT_SEGMENT_SIZE=50 invokes its own function with Event jobs;
    each job through handler.broadcast posts its part; one ack with 300."""
    seed(aws, ids(300))
    context = SimpleNamespace(
        function_name="wsctl-dev-broadcast", get_remaining_time_in_millis=lambda: 29_000
    )
    event = message_event(SENDER, {"action": "broadcast", "message": "hi"}, route_key="broadcast")
    assert handler.broadcast(event, context) == {"statusCode": 200}
    assert acks(gateway) == []
    assert all("/functions/wsctl-dev-broadcast/invocations" in c["url"] for c in fake_lambda.calls)
    for _ in range(100):
        if not fake_lambda.calls:
            break
        call = fake_lambda.calls.pop(0)
        assert handler.broadcast(json.loads(call["body"]), context) == {"statusCode": 200}
    assert broadcasts_received(gateway) == Tally(ids(300))
    assert [(a["delivered"], a["gone"], a["failed"]) for a in acks(gateway)] == [(300, 0, 0)]
    assert counter_records(aws) == set()


def test_gone_connections_in_segments_are_deleted_but_never_the_senders(aws, gateway):
    """A 410 in a segment deletes that record and counts it gone; the sender's survives."""
    seed(aws, ids(120))
    gateway.answer("conn-00007=", 410)
    jobs = Jobs()
    make_segments(aws, jobs).broadcast(SENDER, ENDPOINT, DATA)
    jobs.run_all(lambda: make_segments(aws, jobs))
    assert [(a["delivered"], a["gone"]) for a in acks(gateway)] == [(119, 1)]
    assert "conn-00007=" not in stored_ids(aws)
    assert SENDER in stored_ids(aws)


def test_without_a_function_name_the_handler_posts_everything_itself(aws, gateway, monkeypatch):
    """A handler call without a function name (no way to invoke itself) posts as before."""
    seed(aws, ids(60))
    monkeypatch.delenv("AWS_LAMBDA_FUNCTION_NAME", raising=False)
    event = message_event(SENDER, {"action": "broadcast", "message": "hi"}, route_key="broadcast")
    handler.broadcast(event, None)
    assert [(a["delivered"], a["failed"]) for a in acks(gateway)] == [(60, 0)]


def test_a_malformed_job_event_is_logged_and_dropped_not_raised(aws, caplog):
    """A job event that cannot be read returns 200 (an error would make Lambda retry it)."""
    context = SimpleNamespace(function_name="wsctl-dev-broadcast")
    event = {segments.JOB_KEY: {"segment": "first"}}
    assert handler.broadcast(event, context) == {"statusCode": 200}
    assert "could not be read" in caplog.text

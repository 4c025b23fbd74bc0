"""Posting through the management API: outcomes of one post, 429 backoff, bounded fan-out."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import boto3
import fanout
import pytest
from botocore.exceptions import EndpointConnectionError
from fanout import FanOutResult, Outcome, PostResult
from service_fakes import ENDPOINT, FakeGateway


@pytest.fixture(scope="module")
def client():
    """A real management API client; FakeGateway answers it in place of API Gateway."""
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def gateway(client):
    fake = FakeGateway()
    fake.attach(client)
    yield fake
    fake.detach(client)


class Sleeps(list):
    """An injectable sleep that records the delays asked for instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, PostResult(Outcome.DELIVERED)),
        (410, PostResult(Outcome.GONE, "GoneException")),
        (403, PostResult(Outcome.FAILED, "ForbiddenException")),
        (413, PostResult(Outcome.FAILED, "PayloadTooLargeException")),
        (500, PostResult(Outcome.FAILED, "InternalServerError")),
    ],
)
def test_each_status_has_its_outcome(client, gateway, status, expected):
    """200 delivered, 410 gone, 403/413/5xx failed (with the AWS error code), one attempt."""
    gateway.answer("c=", status)
    assert fanout.post(client, "c=", b"{}", sleep=Sleeps()) == expected
    assert gateway.attempts["c="] == 1


def test_delivered_data_is_exactly_the_bytes_given(client, gateway):
    """The frame arrives byte for byte."""
    fanout.post(client, "c=", b'{"type":"ack"}')
    assert gateway.raw["c="] == [b'{"type":"ack"}']


def test_throttling_is_retried_with_growing_backoff_then_delivered(client, gateway):
    """429, 429, 200: two backoff sleeps, then delivered on the third attempt."""
    gateway.answer("c=", 429, 429, 200)
    sleeps = Sleeps()
    assert fanout.post(client, "c=", b"{}", sleep=sleeps) == PostResult(Outcome.DELIVERED)
    assert gateway.attempts["c="] == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= fanout.BACKOFF_BASE_SECONDS
    assert 0 <= sleeps[1] <= 2 * fanout.BACKOFF_BASE_SECONDS


def test_persistent_throttling_fails_after_the_last_attempt(client, gateway):
    """429 every time: MAX_ATTEMPTS tries, one sleep between each, then failed."""
    gateway.answer("c=", 429)
    sleeps = Sleeps()
    result = fanout.post(client, "c=", b"{}", sleep=sleeps)
    assert result == PostResult(Outcome.FAILED, "LimitExceededException")
    assert gateway.attempts["c="] == fanout.MAX_ATTEMPTS
    assert len(sleeps) == fanout.MAX_ATTEMPTS - 1


def test_backoff_is_full_jitter_exponential_and_capped():
    """The delay's ceiling doubles per refusal up to the cap; jitter scales it down."""
    ceilings = [fanout.backoff_delay(n, rand=lambda: 1.0) for n in range(1, 8)]
    assert ceilings[:3] == [0.05, 0.1, 0.2]
    assert ceilings[-1] == fanout.BACKOFF_CAP_SECONDS
    assert fanout.backoff_delay(3, rand=lambda: 0.5) == 0.1


def test_network_errors_are_failed_not_raised(client):
    """A connection error (no HTTP answer at all) is counted failed, never raised."""

    def unreachable(**_):
        raise EndpointConnectionError(endpoint_url=ENDPOINT)

    event = "before-call.apigatewaymanagementapi.PostToConnection"
    client.meta.events.register(event, unreachable)
    try:
        result = fanout.post(client, "c=", b"{}")
    finally:
        client.meta.events.unregister(event, unreachable)
    assert result == PostResult(Outcome.FAILED, "EndpointConnectionError")


def test_fan_out_counts_every_outcome_and_reports_gone_ids(client, gateway):
    """Mixed answers: each counted once, on_gone called for exactly the 410s."""
    ids = [f"c{i}=" for i in range(20)]
    for connection_id in ids[:3]:
        gateway.answer(connection_id, 410)
    gateway.answer(ids[3], 403)
    gone = []
    result = fanout.fan_out(client, b"{}", iter(ids), on_gone=gone.append, workers=4)
    assert (result.delivered, result.gone, result.failed) == (16, 3, 1)
    assert result.errors == {"ForbiddenException": 1}
    assert sorted(gone) == sorted(ids[:3])


def test_fan_out_survives_a_failing_cleanup(client, gateway):
    """If deleting a gone record fails, the rest of the fan-out still runs and counts."""
    gateway.answer("a=", 410)

    def broken_delete(connection_id):
        raise RuntimeError("table unavailable")

    result = fanout.fan_out(client, b"{}", ["a=", "b=", "c="], on_gone=broken_delete)
    assert (result.delivered, result.gone, result.failed) == (2, 1, 0)


def test_fan_out_never_exceeds_its_worker_bound(client, gateway):
    """With slow posts, at most ``workers`` are in flight, and more than one at a time."""
    gateway.delay = 0.005
    result = fanout.fan_out(
        client, b"{}", (f"c{i}=" for i in range(200)), on_gone=lambda _: None, workers=8
    )
    assert result.delivered == 200
    assert 1 < gateway.peak_in_flight <= 8


def test_fan_out_finishes_in_flight_posts_before_a_scan_error_propagates(client, gateway):
    """An error from the id source (e.g. a failed scan page) surfaces after posts complete."""

    def ids():
        yield from ("a=", "b=")
        raise RuntimeError("scan failed")

    with pytest.raises(RuntimeError, match="scan failed"):
        fanout.fan_out(client, b"{}", ids(), on_gone=lambda _: None)
    assert gateway.attempts == {"a=": 1, "b=": 1}
    assert gateway.in_flight == 0


def _fan_out_threads() -> set[threading.Thread]:
    return {thread for thread in threading.enumerate() if thread.name.startswith("fan-out")}


def test_workers_start_per_id_up_to_the_bound_and_stay_for_the_next_fan_out(client, gateway):
    """Two ids start two workers, not the bound; a warm fan-out reuses them, none new."""
    before = _fan_out_threads()
    fanout.fan_out(client, b"{}", ["a=", "b="], on_gone=lambda _: None, workers=5)
    two = _fan_out_threads() - before
    assert 1 <= len(two) <= 2
    gateway.delay = 0.005
    fanout.fan_out(client, b"{}", [f"c{i}=" for i in range(50)], on_gone=print, workers=5)
    five = _fan_out_threads() - before
    assert two <= five and len(five) == 5
    assert gateway.peak_in_flight == 5
    fanout.fan_out(client, b"{}", [f"d{i}=" for i in range(50)], on_gone=print, workers=5)
    assert _fan_out_threads() - before == five


def test_idle_workers_end_and_then_hold_nothing_of_their_pool(client, gateway, monkeypatch):
    """Workers end after WORKER_IDLE_SECONDS without a post; a pool dropped then (as when the
    emulator reloads the module) takes its threads with it."""
    monkeypatch.setattr(fanout, "WORKER_IDLE_SECONDS", 0.05)
    used = set()

    def record_thread(**_):
        used.add(threading.current_thread())

    event = "before-parameter-build.apigatewaymanagementapi.PostToConnection"
    client.meta.events.register(event, record_thread)
    try:
        pool = fanout._Workers(3)
        fan = fanout._FanOut(client, b"{}", print, time.sleep, bound=24)
        fan.run(pool, [f"c{i}=" for i in range(30)])
    finally:
        client.meta.events.unregister(event, record_thread)
    assert fan.result.delivered == 30
    assert 1 <= len(used) <= 3
    del pool, fan
    deadline = time.monotonic() + 5
    while any(thread.is_alive() for thread in used) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not any(thread.is_alive() for thread in used)


EXIT_AFTER_FAN_OUT = """
import fanout

class Client:
    def post_to_connection(self, ConnectionId, Data):
        pass

result = fanout.fan_out(Client(), b"{}", [f"c{i}=" for i in range(100)], on_gone=print)
assert result.delivered == 100
"""


def test_idle_workers_never_hold_up_the_process_exit():
    """A process (``wsctl up --local`` stopping, say) exits at once after a fan-out, not
    WORKER_IDLE_SECONDS later."""
    assert fanout.WORKER_IDLE_SECONDS >= 10
    done = subprocess.run(
        [sys.executable, "-c", EXIT_AFTER_FAN_OUT],
        cwd=Path(fanout.__file__).parent,
        capture_output=True,
        text=True,
        timeout=fanout.WORKER_IDLE_SECONDS / 2,
    )
    assert done.returncode == 0, done.stderr


def test_reads_ids_only_as_far_as_the_queue_bound_ahead_of_the_posts(client, gateway):
    """With slow posts, ids are read lazily: never more than the queue bound ahead."""
    gateway.delay = 0.002
    workers = 2
    bound = fanout.QUEUED_PER_WORKER * workers
    leads = []

    def ids():
        for i in range(100):
            with gateway._lock:
                finished = sum(gateway.attempts.values()) - gateway.in_flight
            leads.append(i + 1 - finished)
            yield f"c{i}="

    result = fanout.fan_out(client, b"{}", ids(), on_gone=lambda _: None, workers=workers)
    assert result.delivered == 100
    assert bound - workers <= max(leads) <= bound + 1


def test_concurrent_fan_outs_share_the_workers_and_keep_their_own_tallies(client, gateway):
    """Several broadcasts at once (the emulator runs invocations in threads): exact counts."""
    gateway.delay = 0.001
    for i in range(0, 200, 10):
        gateway.answer(f"job{i % 4}-{i}=", 410)
    results, gone = {}, {job: [] for job in range(4)}

    def broadcast(job: int) -> None:
        ids = [f"job{job}-{i}=" for i in range(200)]
        results[job] = fanout.fan_out(client, b"{}", ids, on_gone=gone[job].append, workers=6)

    threads = [threading.Thread(target=broadcast, args=(job,)) for job in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert gateway.peak_in_flight <= 6
    for job in range(4):
        expected_gone = {f"job{job}-{i}=" for i in range(0, 200, 10) if i % 4 == job}
        assert set(gone[job]) == expected_gone
        assert (results[job].delivered, results[job].gone) == (
            200 - len(expected_gone),
            len(expected_gone),
        )


def test_fan_out_result_tallies_outcomes():
    """FanOutResult.add sorts results into delivered, gone and failed (by error code)."""
    result = FanOutResult()
    for post_result in (
        PostResult(Outcome.DELIVERED),
        PostResult(Outcome.GONE, "GoneException"),
        PostResult(Outcome.FAILED, "ForbiddenException"),
        PostResult(Outcome.FAILED, "ForbiddenException"),
    ):
        result.add(post_result)
    assert (result.delivered, result.gone, result.failed) == (1, 1, 2)
    assert result.errors == {"ForbiddenException": 2}


@pytest.mark.parametrize(("status", "outcome"), [(410, Outcome.GONE), (429, Outcome.FAILED)])
def test_bare_statuses_mean_what_aws_documents(client, status, outcome):
    """An error without a body (botocore then uses the status as the code) is still read."""
    from botocore.awsrequest import AWSResponse
    from service_fakes import ResponseBody

    def bare(params, **_):
        parsed = {
            "Error": {"Code": str(status), "Message": ""},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }
        return AWSResponse(params["url"], status, {}, ResponseBody(b"")), parsed

    event = "before-call.apigatewaymanagementapi.PostToConnection"
    client.meta.events.register(event, bare)
    try:
        result = fanout.post(client, "c=", b"{}", sleep=Sleeps())
    finally:
        client.meta.events.unregister(event, bare)
    assert result.outcome is outcome

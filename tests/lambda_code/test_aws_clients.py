"""Clients are created once per endpoint and reused, with the fan-out's pool size."""

from __future__ import annotations

import threading

import aws_clients
import fanout
from botocore.awsrequest import AWSResponse
from service_fakes import ResponseBody


def test_clients_are_reused_per_endpoint_and_recreated_after_forget():
    """Warm invocations share a client; another endpoint gets its own; forget starts cold."""
    first = aws_clients.management("https://a.example/dev")
    assert aws_clients.management("https://a.example/dev") is first
    assert aws_clients.management("https://b.example/dev") is not first
    assert first.meta.endpoint_url == "https://a.example/dev"
    aws_clients.forget()
    assert aws_clients.management("https://a.example/dev") is not first


def test_pools_match_the_fan_out_bound_and_retries_are_standard():
    """max_pool_connections equals the worker count; botocore uses the standard retry mode."""
    for client in (aws_clients.dynamodb(), aws_clients.management("https://a.example/dev")):
        assert client.meta.config.max_pool_connections == fanout.FAN_OUT_WORKERS
        assert client.meta.config.retries["mode"] == "standard"


def test_throttled_posts_are_tried_max_attempts_times_in_all():
    """Over botocore's HTTP path, a 429 is retried by fanout.post alone: no multiplied retries."""
    client = aws_clients.management("https://throttled.example/dev")
    sends = []

    def throttled(request, **_):
        sends.append(request.url)
        body = b'{"message": "Rate exceeded"}'
        headers = {"x-amzn-ErrorType": "LimitExceededException"}
        return AWSResponse(request.url, 429, headers, ResponseBody(body))

    event = "before-send.apigatewaymanagementapi.PostToConnection"
    client.meta.events.register(event, throttled)
    try:
        result = fanout.post(client, "c=", b"{}", sleep=lambda _: None)
    finally:
        client.meta.events.unregister(event, throttled)
    assert result == fanout.PostResult(fanout.Outcome.FAILED, "LimitExceededException")
    assert len(sends) == fanout.MAX_ATTEMPTS


def test_concurrent_first_calls_create_one_client(monkeypatch):
    """Invocations racing on a cold start (the emulator runs threads) share one client."""
    aws_clients.forget()
    barrier = threading.Barrier(8)
    clients = []

    def first_call():
        barrier.wait()
        clients.append(aws_clients.management("https://race.example/dev"))

    threads = [threading.Thread(target=first_call) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(clients) == 8
    assert all(client is clients[0] for client in clients)


def test_region_comes_from_the_standard_environment(monkeypatch):
    """AWS_REGION (as on Lambda) picks the region, and keys the cache."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    assert aws_clients.dynamodb().meta.region_name == "eu-west-1"
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    assert aws_clients.dynamodb().meta.region_name == "us-east-1"

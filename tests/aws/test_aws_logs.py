"""`wsctl logs`: events of the functions' log groups merged in time order; --follow polls."""

from __future__ import annotations

import contextlib
import time

import boto3
import pytest

from wsctl.aws import logs as stack_logs
from wsctl.aws.awsclient import AwsClient
from wsctl.aws.session import open_target
from wsctl.errors import ConfigError


def test_parse_since_units():
    """30s, 10m, 2h, 1d are seconds; anything else is a usage error."""
    assert [stack_logs.parse_since(t) for t in ("30s", "10m", "2h", "1d")] == [
        30,
        600,
        7200,
        86400,
    ]
    with pytest.raises(ConfigError):
        stack_logs.parse_since("ten minutes")


def test_merge_orders_events_across_functions_by_time():
    """Events of several groups come out as one list in timestamp order."""
    merged = stack_logs.merge(
        {
            "a": [
                {"timestamp": 1, "message": "a1", "eventId": "1"},
                {"timestamp": 5, "message": "a5", "eventId": "2"},
            ],
            "b": [{"timestamp": 3, "message": "b3\n", "eventId": "3"}],
        }
    )
    assert [(line.function, line.message) for line in merged] == [
        ("a", "a1"),
        ("b", "b3"),
        ("a", "a5"),
    ]


def _put(group: str, stream: str, messages: list[tuple[int, str]]) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": m} for ts, m in messages],
    )


@pytest.fixture
def deployed(cli, service, aws):
    assert cli("up", "--config", str(service.config)).exit_code == 0
    return service


def test_logs_prints_both_functions_in_time_order(cli, deployed):
    """Interleaved events of two functions print in time order; --function narrows to one."""
    now = int(time.time() * 1000)
    _put(
        "/aws/lambda/demo-test-chat", "s", [(now - 3000, "chat first"), (now - 1000, "chat third")]
    )
    _put("/aws/lambda/demo-test-connect", "s", [(now - 2000, "connect second")])
    result = cli("logs", "--config", str(deployed.config), "--since", "1h")
    assert result.exit_code == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert [line.split(" ", 3)[3] for line in lines] == [
        "chat first",
        "connect second",
        "chat third",
    ]
    assert [line.split(" ")[2] for line in lines] == ["chat", "connect", "chat"]
    only = cli("logs", "--config", str(deployed.config), "--since", "1h", "--function", "connect")
    assert "connect second" in only.stdout and "chat" not in only.stdout
    bad = cli("logs", "--config", str(deployed.config), "--function", "nope")
    assert bad.exit_code == 2 and "no such function" in bad.stderr


def test_logs_since_excludes_older_events(cli, deployed):
    """--since 1m leaves out an event from an hour ago."""
    now = int(time.time() * 1000)
    _put("/aws/lambda/demo-test-chat", "s", [(now - 3_600_000, "old"), (now - 1000, "new")])
    result = cli("logs", "--config", str(deployed.config), "--since", "1m")
    assert "new" in result.stdout and "old" not in result.stdout


def test_follow_emits_new_events_once_each(deployed):
    """--follow's loop: events that arrive between polls are printed once, none twice."""
    client = AwsClient(open_target(profile=None, region="us-east-1", endpoint_url=None))
    groups = {"chat": "/aws/lambda/demo-test-chat"}
    now = int(time.time() * 1000)
    _put(groups["chat"], "s", [(now - 500, "before")])
    arrivals = iter([[(now + 1, "during-1")], [(now + 2, "during-2")], []])

    def sleep(seconds: float) -> None:
        batch = next(arrivals)
        if batch:
            _put(groups["chat"], "s", batch)

    seen: list[str] = []
    stack_logs.follow(
        client,
        groups,
        now - 60_000,
        lambda line: seen.append(line.message),
        sleep=sleep,
        max_polls=4,
    )
    assert seen == ["before", "during-1", "during-2"]

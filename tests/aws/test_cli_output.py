"""Output for scripts and people from the stack commands (issue 13): --json for up, down and
logs (camelCase keys), logs saying when there is nothing or when it waits, log messages made
safe for the terminal, and bad values as one line with exit 2."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

WSCTL = Path(sys.executable).with_name("wsctl")


def _keys(value) -> set[str]:
    """Every key of a JSON value, however deep."""
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_up_and_down_json_print_one_object_with_camel_case_keys(cli, service, aws):
    """`up --json`: only one JSON object on stdout (url, managementUrl, apiId...); `down
    --json --yes`: what was deleted; no snake_case key in either."""
    up = cli("up", "--config", str(service.config), "--json")
    assert up.exit_code == 0, up.stderr
    facts = json.loads(up.stdout)
    (api,) = boto3.client("apigatewayv2", region_name="us-east-1").get_apis()["Items"]
    assert facts["apiId"] == api["ApiId"] and facts["url"].startswith("wss://")
    assert facts["managementUrl"].startswith("https://") and facts["changed"] > 0
    down = cli("down", "--config", str(service.config), "--json", "--yes")
    assert down.exit_code == 0, down.stderr
    gone = json.loads(down.stdout)
    assert {"kind": "Lambda function", "name": "demo-test-chat"} in gone["deleted"]
    assert "WebSocket API" in {item["kind"] for item in gone["deleted"]}
    assert gone["leftAlone"] == []
    for keys in (_keys(facts), _keys(gone)):
        assert not [key for key in keys if "_" in key], keys


def _put(group: str, messages: list[tuple[int, str]]) -> None:
    logs = boto3.client("logs", region_name="us-east-1")
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=group)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_stream(logGroupName=group, logStreamName="s")
    logs.put_log_events(
        logGroupName=group,
        logStreamName="s",
        logEvents=[{"timestamp": ts, "message": m} for ts, m in messages],
    )


def test_logs_with_no_events_says_so(cli, service, aws):
    """No events in the window: nothing on stdout, a line on stderr saying what to try."""
    result = cli("logs", "--config", str(service.config), "--since", "5m")
    assert (result.exit_code, result.stdout) == (0, "")
    assert "No log events of the 2 functions of stack demo-test in the last 5m" in result.stderr


def test_logs_escape_terminal_sequences_and_json_gives_events(cli, service, aws):
    """A message carrying escape sequences prints them escaped (one event stays one line per
    line it had); --json prints one object per event, the message as it was."""
    now = int(time.time() * 1000)
    hostile = "owned\x1b]52;c;ZXZpbA==\x07 \x1b[2J\x9b31m\nsecond line"
    _put("/aws/lambda/demo-test-chat", [(now - 1000, hostile)])
    shown = cli("logs", "--config", str(service.config), "--since", "1h")
    assert shown.exit_code == 0, shown.stderr
    assert "\x1b" not in shown.stdout and "\x9b" not in shown.stdout and "\x07" not in shown.stdout
    assert "owned\\x1b]52;c;ZXZpbA==\\x07 \\x1b[2J\\x9b31m\nsecond line" in shown.stdout
    as_json = cli("logs", "--config", str(service.config), "--since", "1h", "--json")
    (event,) = [json.loads(line) for line in as_json.stdout.splitlines()]
    assert (event["function"], event["message"], event["timestamp"]) == (
        "chat",
        hostile,
        now - 1000,
    )
    assert not [key for key in event if "_" in key]


@pytest.mark.timeout(90)
def test_logs_follow_says_it_is_waiting(service, tmp_path):
    """`logs -f` says on stderr that it waits for events (and how to stop); Ctrl-C ends it
    with 130 and no traceback."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        env = {**os.environ, "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
        errors = tmp_path / "stderr"
        with errors.open("w") as sink:
            process = subprocess.Popen(
                [str(WSCTL), "logs", "-f", "--config", str(service.config)],
                stdout=subprocess.DEVNULL,
                stderr=sink,
                env=env,
            )
            try:
                deadline = time.monotonic() + 60
                while "Ctrl-C stops" not in errors.read_text():
                    assert process.poll() is None, errors.read_text()
                    assert time.monotonic() < deadline, errors.read_text()
                    time.sleep(0.05)
                process.send_signal(signal.SIGINT)
                code = process.wait(30)
            finally:
                if process.poll() is None:
                    process.kill()
    finally:
        server.stop()
    text = errors.read_text()
    assert "Waiting for log events of the 2 functions of stack demo-test" in text
    assert code == 130 and "Traceback" not in text


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["up", "--local", "--port", "99999"], {}, "Invalid value for '--port'"),
        (["status"], {"AWS_ENDPOINT_URL": "not-a-url"}, "'not-a-url' is not a URL"),
        (["status", "--stage", "dev\n"], {}, "stage 'dev\\n'"),
        (["up", "--name", "chat\n"], {}, "name 'chat\\n'"),
    ],
)
def test_bad_values_are_one_line_usage_errors(cli, monkeypatch, args, env, says):
    """Values that were internal errors or slipped through (a trailing newline passed a `$`
    pattern) are one line on stderr and exit 2."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = cli(*args)
    assert result.exit_code == 2, result.stderr
    assert says in result.stderr and result.stderr.count("\n") == 1
    assert "internal error" not in result.stderr

"""A service from `wsctl init`, all the way: its example test, hot reload in the emulator
without a reconnect, and `up` against moto converging as routes are added and removed."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import time
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from rich.console import Console
from websockets.sync.client import connect

from tests.aws.strict_aws import switched_on
from wsctl import naming
from wsctl.config import CONFIG_FILE, parse_spec_file
from wsctl.local import LocalService

REGION = "us-east-1"
ACCOUNT = "123456789012"
RELOAD_DEADLINE = 15.0  # seconds for the emulator to notice an edit (it polls every 0.5 s)

# A route of the user's own: answers through the management API, as on AWS.
ECHO_HANDLER = """\
import json

import boto3


def handle(event, context):
    ctx = event["requestContext"]
    api = boto3.client(
        "apigatewaymanagementapi", endpoint_url=f"https://{ctx['domainName']}/{ctx['stage']}"
    )
    frame = {"type": "echo", "version": VERSION, "connectionId": ctx["connectionId"]}
    api.post_to_connection(ConnectionId=ctx["connectionId"], Data=json.dumps(frame).encode())
    return {"statusCode": 200}


VERSION = 1
"""

ECHO_FUNCTION = '\n[functions.echo]\nhandler = "echo.handle"\nmemory = 128\ntimeout = 10\n'
ECHO_PERMISSIONS = 'permissions = ["execute-api:ManageConnections"]\n'


def init_service(cli, directory: Path) -> Path:
    result = cli("init", str(directory), "--region", REGION)
    assert result.exit_code == 0, result.stderr
    return directory


def add_echo_route(service: Path) -> None:
    """The user's edit: a new handler file, its [functions.echo], and a route to it."""
    (service / "lambda_code" / "echo.py").write_text(ECHO_HANDLER)
    config = service / CONFIG_FILE
    text = config.read_text().replace("[routes]", ECHO_FUNCTION + ECHO_PERMISSIONS + "\n[routes]")
    config.write_text(text + 'echo = "echo"\n')


def edit_file(path: Path, old: str, new: str) -> None:
    """Edit a file and move its mtime on, as a save a second later would."""
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 2_000_000_000))


def test_the_example_test_of_a_new_service_passes(cli, tmp_path):
    """The tests/test_service.py that init writes runs green against the emulator."""
    service = init_service(cli, tmp_path / "chat")
    path = service / "tests" / "test_service.py"
    module_spec = importlib.util.spec_from_file_location("chat_example_test", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    tests = [getattr(module, name) for name in dir(module) if name.startswith("test_")]
    assert tests
    for test in tests:
        test()


def test_an_edited_handler_answers_with_new_code_on_the_same_connection(cli, tmp_path):
    """init, add a route, run with reload, connect, edit the handler: the next reply is new."""
    service = init_service(cli, tmp_path / "chat")
    add_echo_route(service)
    spec = parse_spec_file(service / CONFIG_FILE)
    console_text = io.StringIO()
    console = Console(file=console_text, width=200, no_color=True)
    with (
        LocalService(spec, port=0, reload=True, console=console) as local,
        connect(local.url, open_timeout=10) as ws,
    ):
        ws.send(json.dumps({"action": "echo"}))
        first = json.loads(ws.recv(timeout=10))
        assert (first["type"], first["version"]) == ("echo", 1)

        edit_file(service / "lambda_code" / "echo.py", "VERSION = 1", "VERSION = 2")
        deadline = time.monotonic() + RELOAD_DEADLINE
        reply = first
        while reply["version"] == 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            ws.send(json.dumps({"action": "echo"}))
            reply = json.loads(ws.recv(timeout=10))
        assert reply["version"] == 2
        assert reply["connectionId"] == first["connectionId"]  # no reconnect
    assert "Reloaded echo.py" in console_text.getvalue()


def _route_keys(api_id: str) -> set[str]:
    gateway = boto3.client("apigatewayv2", region_name=REGION)
    return {route["RouteKey"] for route in gateway.get_routes(ApiId=api_id)["Items"]}


def _integration_count(api_id: str) -> int:
    gateway = boto3.client("apigatewayv2", region_name=REGION)
    return len(gateway.get_integrations(ApiId=api_id)["Items"])


def _source_arns(function: str) -> list[str]:
    lam = boto3.client("lambda", region_name=REGION)
    try:
        policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
    except lam.exceptions.ResourceNotFoundException:
        return []
    return sorted(s["Condition"]["ArnLike"]["AWS:SourceArn"] for s in policy["Statement"])


def _function_names() -> set[str]:
    lam = boto3.client("lambda", region_name=REGION)
    return {f["FunctionName"] for f in lam.list_functions()["Functions"]}


@pytest.fixture
def aws():
    """moto, held to what AWS does beyond it (the deploy suite's strict layer)."""
    with switched_on() as strict, mock_aws():
        yield strict


def test_init_then_up_converges_as_a_route_comes_and_goes(cli, tmp_path, aws, monkeypatch):
    """up creates a new route's function, integration and permission; removing it removes them."""
    service = init_service(cli, tmp_path / "chat")
    monkeypatch.chdir(service)
    spec = parse_spec_file(service / CONFIG_FILE)
    original = (service / CONFIG_FILE).read_text()

    first = cli("up")
    assert first.exit_code == 0, first.stderr
    (api,) = boto3.client("apigatewayv2", region_name=REGION).get_apis()["Items"]
    api_id = api["ApiId"]
    bundled_keys = set(spec.routes)
    assert _route_keys(api_id) == bundled_keys
    integrations = _integration_count(api_id)
    echo_function = naming.function_name(spec, "echo")
    assert echo_function not in _function_names()

    add_echo_route(service)
    added = cli("up")
    assert added.exit_code == 0, added.stderr
    assert _route_keys(api_id) == bundled_keys | {"echo"}
    assert _integration_count(api_id) == integrations + 1
    assert echo_function in _function_names()
    echo_arn = f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{api_id}/*"  # one per function
    assert _source_arns(echo_function) == [echo_arn]

    (service / CONFIG_FILE).write_text(original)
    removed = cli("up")
    assert removed.exit_code == 0, removed.stderr
    assert _route_keys(api_id) == bundled_keys
    assert _integration_count(api_id) == integrations
    assert echo_function not in _function_names()
    assert not any("/echo" in arn for f in _function_names() for arn in _source_arns(f))
    assert aws.seen["ConflictException"] and aws.seen["role cannot be assumed"]  # AWS's ways

"""`up --local` following wsctl.toml edits: routes, environment and authorizer applied live on
open connections; an invalid edit keeps the running configuration with a one-line error."""

from __future__ import annotations

import asyncio
import io
import json
import time

import pytest
from rich.console import Console
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.local.conftest import eventually, next_json, write_service
from wsctl.local import LocalService

LIVE_TOML = """
[stack]
name = "live"
stage = "test"

[functions.default]
handler = "handler.default"

[functions.gate]
handler = "handler.gate"

[routes]
"$default" = { function = "default", respond = true }
"""

LIVE_HANDLER = """
import json
import os


def default(event, context):
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "route": event["requestContext"]["routeKey"],
                "color": os.environ.get("COLOR"),
                "principal": (event["requestContext"].get("authorizer") or {}).get("principalId"),
            }
        ),
    }


def gate(event, context):
    return {
        "principalId": "gated",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": event["methodArn"]}
            ],
        },
    }
"""

DEADLINE = 15.0  # generous: the machine may be busy; typically well under 2 s


@pytest.fixture
def live(tmp_path):
    spec = write_service(tmp_path / "live", LIVE_TOML, LIVE_HANDLER)
    output = io.StringIO()
    console = Console(file=output, width=400, no_color=True)
    with LocalService(spec, reload=True, console=console) as service:
        yield service, spec.source, output


async def ask(ws, action: str) -> dict:
    await ws.send(json.dumps({"action": action}))
    return await next_json(ws)


async def until(ws, action: str, predicate) -> dict:
    """Send ``action`` until the reply satisfies ``predicate``, within DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while True:
        reply = await ask(ws, action)
        if predicate(reply):
            return reply
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw the change; last reply {reply}")
        await asyncio.sleep(0.05)


def test_a_route_added_to_wsctl_toml_works_on_the_same_connection(live):
    """Adding a route while connected: the same connection reaches it without reconnecting,
    and the emulator says what changed."""
    service, config, output = live

    async def scenario():
        async with connect(service.url) as ws:
            assert (await ask(ws, "shout"))["route"] == "$default"
            config.write_text(
                config.read_text() + 'shout = { function = "default", respond = true }\n'
            )
            await until(ws, "shout", lambda reply: reply["route"] == "shout")
            assert ws.close_code is None

    asyncio.run(scenario())
    assert "Applied wsctl.toml: route shout added (-> default, two-way)" in output.getvalue()


def test_an_environment_edit_reaches_the_function(live):
    """A variable added to [functions.default.environment] is seen by its next invocation;
    the emulator names the variable, never its value."""
    service, config, output = live

    async def scenario():
        async with connect(service.url) as ws:
            assert (await ask(ws, "x"))["color"] is None
            config.write_text(
                config.read_text() + '\n[functions.default.environment]\nCOLOR = "teal-secret"\n'
            )
            await until(ws, "x", lambda reply: reply["color"] == "teal-secret")

    asyncio.run(scenario())
    shown = output.getvalue()
    assert "function default: environment COLOR changed" in shown
    assert "teal-secret" not in shown


def test_an_authorizer_added_live_guards_new_connections_only(live):
    """auth = "custom" added while a client is connected: that client stays; a new one
    without its identity source is refused 401, with it admitted and authorized."""
    service, config, output = live

    async def scenario():
        async with connect(service.url) as ws:
            text = config.read_text().replace('stage = "test"', 'stage = "test"\nauth = "custom"')
            text += '"$connect" = "default"\n[authorizer]\nfunction = "gate"\n'
            text += 'identity_sources = ["route.request.header.X-Key"]\n'
            config.write_text(text)

            async def refused() -> bool:
                try:
                    async with connect(service.url):
                        return False
                except InvalidStatus as error:
                    return error.response.status_code == 401

            deadline = time.monotonic() + DEADLINE
            while not await refused():
                assert time.monotonic() < deadline, output.getvalue()
                await asyncio.sleep(0.05)
            async with connect(service.url, additional_headers={"X-Key": "k"}) as admitted:
                assert (await ask(admitted, "x"))["principal"] == "gated"
            assert (await ask(ws, "x"))["principal"] is None  # the old connection, still open

    asyncio.run(scenario())


def test_an_invalid_edit_keeps_the_running_configuration(live):
    """A route to a missing function: one line saying it was not applied, and why; the
    running routes keep working; fixing the file applies it."""
    service, config, output = live
    good = config.read_text()

    async def scenario():
        async with connect(service.url) as ws:
            config.write_text(good + 'shout = "nobody"\n')
            eventually(lambda: "wsctl.toml not applied" in output.getvalue(), timeout=DEADLINE)
            assert (await ask(ws, "shout"))["route"] == "$default"
            config.write_text(good + 'shout = { function = "default", respond = true }\n')
            await until(ws, "shout", lambda reply: reply["route"] == "shout")

    asyncio.run(scenario())
    lines = [line for line in output.getvalue().splitlines() if "not applied" in line]
    assert len(lines) == 1
    assert "[routes] 'shout': names function 'nobody', which is not defined" in lines[0]


def test_a_stage_change_needs_a_restart_and_says_so(live):
    """Renaming the stage cannot apply live (the URL would change): said in one line."""
    service, config, output = live
    config.write_text(config.read_text().replace('stage = "test"', 'stage = "other"'))
    eventually(lambda: "stage changed: restart" in output.getvalue(), timeout=DEADLINE)
    assert service.spec.stage == "test"


def test_an_env_file_edit_and_a_new_function_apply_live(live):
    """env_file is watched too; a function added with its own module answers its new route."""
    service, config, output = live
    root = config.parent
    (root / ".env").write_text("COLOR=red\n")
    (root / "lambda_code" / "extra.py").write_text(
        "import json\n\n\ndef shout(event, context):\n"
        '    return {"statusCode": 200, "body": json.dumps({"route": "loud"})}\n'
    )

    async def scenario():
        async with connect(service.url) as ws:
            text = config.read_text().replace('stage = "test"', 'stage = "test"\nenv_file = ".env"')
            text = text.replace(
                "[routes]", '[functions.extra]\nhandler = "extra.shout"\n\n[routes]'
            )
            config.write_text(text + 'loud = { function = "extra", respond = true }\n')
            await until(ws, "x", lambda reply: reply["color"] == "red")
            assert (await ask(ws, "loud"))["route"] == "loud"
            (root / ".env").write_text("COLOR=blue\n")
            await until(ws, "x", lambda reply: reply["color"] == "blue")

    asyncio.run(scenario())
    assert "function extra added" in output.getvalue()

"""A sentinel token passed through every path wsctl has: deploy (moto), status, re-deploy,
logs, the local emulator with auth, the client commands, refusals and their error lines. It
must appear nowhere but in `wsctl token` and the owner-only token file."""

from __future__ import annotations

import io
import json
import logging
import stat
from urllib.parse import quote

import boto3
import pytest
from moto import mock_aws
from rich.console import Console

from tests.aws.strict_aws import switched_on
from wsctl import naming, state
from wsctl.auth import token_digest
from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.local import LocalService

SENTINEL = "SeNtInEl-7f3Kq9ZxWv2-tOkEn"
# What would betray the sentinel in a longer text: itself, URL-encoded, or a long run of it.
BETRAYALS = (SENTINEL, quote(SENTINEL), SENTINEL[4:20])
SPEC = parse_spec_file(bundled_service_dir() / CONFIG_FILE).with_overrides(auth="token")
STACK = SPEC.stack
# websockets' own DEBUG logging (off unless an application turns it on; wsctl does not)
# prints every handshake header, as HTTP libraries' debug logs do; it is left out here.
UNSEARCHED_LOGGERS = ("websockets",)


class Transcript:
    """Everything wsctl printed or logged during a test, labelled for the failure message."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []

    def add(self, label: str, text: str) -> None:
        self.texts.append((label, text))

    def run(self, cli, *args: str):
        result = cli(*args)
        self.add(f"wsctl {' '.join(args)} (stdout)", result.stdout)
        self.add(f"wsctl {' '.join(args)} (stderr)", result.stderr)
        return result

    def add_logs(self, caplog) -> None:
        for record in caplog.records:
            if not record.name.startswith(UNSEARCHED_LOGGERS):
                self.add(f"log {record.name}", record.getMessage() + (record.exc_text or ""))

    def leaks(self) -> list[str]:
        return [label for label, text in self.texts if any(b in text for b in BETRAYALS)]


@pytest.fixture
def transcript(caplog):
    caplog.set_level(logging.DEBUG)
    return Transcript()


def _function_configurations() -> list[dict]:
    lam = boto3.client("lambda", region_name="us-east-1")
    return [
        lam.get_function_configuration(FunctionName=naming.function_name(SPEC, function))
        for function in SPEC.functions
    ]


def test_sentinel_never_leaves_the_token_file_when_deploying(
    cli, transcript, caplog, tmp_path, monkeypatch
):
    """up --auth token, status, status --json, logs, up again: the token shows nowhere."""
    monkeypatch.chdir(tmp_path)
    state.save_token(STACK, SENTINEL)
    with switched_on() as strict, mock_aws():  # held to AWS's behaviour, as the deploy suite is
        first = transcript.run(cli, "up", "--auth", "token")
        assert first.exit_code == 0, first.stderr
        assert transcript.run(cli, "status").exit_code == 0
        status = transcript.run(cli, "status", "--json")
        assert status.exit_code == 0
        json.loads(status.stdout)
        transcript.run(cli, "logs", "--since", "10m")
        again = transcript.run(cli, "up", "--auth", "token")
        assert again.exit_code == 0, again.stderr
        configurations = _function_configurations()
        apis = boto3.client("apigatewayv2", region_name="us-east-1")
        for api in apis.get_apis()["Items"]:
            transcript.add("API", json.dumps(api, default=str))
            routes = apis.get_routes(ApiId=api["ApiId"])["Items"]
            transcript.add("routes", json.dumps(routes, default=str))
        transcript.add("deployed record", json.dumps(state.load_deployed(STACK)))
        assert strict.seen["ConflictException"]  # the layer was in force
    for configuration in configurations:
        transcript.add(f"function {configuration['FunctionName']}", json.dumps(configuration))
    environments = {
        c["FunctionName"]: c.get("Environment", {}).get("Variables", {}) for c in configurations
    }
    connect_function = naming.function_name(SPEC, SPEC.routes["$connect"])
    assert environments[connect_function][naming.TOKEN_DIGEST_ENV] == token_digest(SENTINEL)
    others = [env for name, env in environments.items() if name != connect_function]
    assert all(naming.TOKEN_DIGEST_ENV not in env for env in others)
    transcript.add_logs(caplog)

    assert transcript.leaks() == []
    assert state.load_token(STACK) == SENTINEL  # re-running up kept it
    token_file = state.home() / "secrets" / f"{STACK}.token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    shown = cli("token")
    assert shown.stdout == SENTINEL + "\n"  # the one place it is shown: when asked


@pytest.mark.timeout(90)
def test_sentinel_never_leaves_the_token_file_locally(cli, transcript, caplog):
    """The emulator with the token, every client command, and refusals: nowhere to be seen."""
    state.save_token(state.local_token_key(STACK), SENTINEL)
    emulator_console = io.StringIO()
    console = Console(file=emulator_console, width=200)
    with LocalService(SPEC, auth_token=SENTINEL, console=console) as service:
        state.save_local(service.local_record())
        for args in (
            ("send", '{"action": "whoami"}'),
            ("send", '{"action": "whoami"}', "--json"),
            ("send", '{"action": "list"}', service.url),
            ("broadcast", "hello"),
            ("broadcast", "hello", "--json"),
            ("connections",),
            ("connections", "--json"),
            ("connect", "-x", '{"action": "whoami"}', "-w", "0.5"),
        ):
            result = transcript.run(cli, *args)
            assert result.exit_code == 0, (args, result.stderr)
    with LocalService(SPEC, auth_token="another-token", console=console) as service:
        state.save_local(service.local_record())
        refusals = [
            transcript.run(cli, "send", '{"action": "whoami"}'),
            transcript.run(cli, "connections", "--json"),
            transcript.run(cli, "send", "x", f"{service.url}?token={quote(SENTINEL)}"),
            transcript.run(cli, "--debug", "send", "x", f"{service.url}?token={SENTINEL}"),
        ]
        stopped_url = service.url
    refusals.append(transcript.run(cli, "send", "x", f"{stopped_url}?token={quote(SENTINEL)}"))
    assert [r.exit_code for r in refusals] == [1, 1, 1, 1, 1]
    assert all("401" in r.stderr for r in refusals[:4])
    transcript.add("emulator console", emulator_console.getvalue())
    transcript.add_logs(caplog)

    assert transcript.leaks() == []

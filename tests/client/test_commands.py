"""The client commands against the local emulator running the bundled service, endpoint
resolution from a running local record, the stack's token, and the light import path."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from client_servers import echo, fake_service
from websockets.sync.client import connect as sync_connect

from wsctl import state
from wsctl.config import load_spec
from wsctl.local import LocalService

HEAVY_MODULES = ("boto3", "botocore", "moto", "prompt_toolkit")


def record_local(service: LocalService) -> None:
    """What `wsctl up --local` writes so other terminals find it (this process serves it)."""
    state.save_local(
        state.LocalRecord(
            stack=service.spec.stack,
            pid=os.getpid(),
            port=service.port,
            stage=service.spec.stage,
            url=service.url,
            management_url=service.management_url,
            started_at=0.0,
            process_start=state.process_start(os.getpid()),
        )
    )


@pytest.fixture(scope="module")
def bundled_service() -> Iterator[LocalService]:
    """The bundled service in the emulator, shared by this module's tests."""
    with LocalService(load_spec(), port=0) as service:
        yield service


def test_broadcast_reaches_every_connection(cli, bundled_service):
    """Through the real service, a broadcast reaches another client and the ack counts it."""
    with sync_connect(bundled_service.url, open_timeout=5) as listener:
        result = cli("broadcast", '{"n": 7}', "--url", bundled_service.url, "--json")
        assert result.exit_code == 0, result.stderr
        counts = json.loads(result.stdout)
        assert counts["delivered"] >= 2 and counts["failed"] == 0
        frame = json.loads(listener.recv(timeout=5))
    assert (frame["type"], frame["message"]) == ("broadcast", {"n": 7})


def test_a_message_over_32_kb_passes_the_emulators_frame_limit(cli, bundled_service):
    """A 60 KB broadcast goes out in fragments the emulator accepts (it closes 1009 on a frame
    over 32 KB), and comes back whole."""
    text = "w" * (60 * 1024)
    result = cli("send", json.dumps({"action": "broadcast", "message": text}),
                 bundled_service.url, "-w", "1.5", "--json")  # fmt: skip
    assert result.exit_code == 0, result.stderr
    replies = [json.loads(json.loads(line)["data"]) for line in result.stdout.splitlines()
               if json.loads(line)["direction"] == "in"]  # fmt: skip
    assert {"broadcast", "ack"} <= {reply["type"] for reply in replies}
    assert next(r for r in replies if r["type"] == "broadcast")["message"] == text


def test_connections_lists_you_and_the_others(cli, bundled_service):
    """`connections --json` includes another open connection and marks the caller's own."""
    with sync_connect(bundled_service.url, open_timeout=5, user_agent_header="other/1"):
        result = cli("connections", "--url", bundled_service.url, "--json")
    assert result.exit_code == 0, result.stderr
    facts = json.loads(result.stdout)
    agents = {c["userAgent"]: c["you"] for c in facts["connections"]}
    assert agents["other/1"] is False
    assert [c["userAgent"].split("/")[0] for c in facts["connections"] if c["you"]] == ["wsctl"]


def test_send_prints_the_service_reply(cli, bundled_service):
    """`send` a whoami action: the service's reply is printed on one line."""
    result = cli("send", '{"action": "whoami"}', bundled_service.url, "-w", "1")
    assert result.exit_code == 0, result.stderr
    reply = json.loads(result.stdout.splitlines()[0])
    assert reply["type"] == "whoami" and reply["connectionId"]


def test_without_a_url_the_running_local_service_is_used(cli, bundled_service):
    """With a local record for the stack and no URL, commands find the emulator by themselves."""
    record_local(bundled_service)
    result = cli("connections", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["you"]


def test_without_a_url_or_a_stack_the_error_says_what_to_do(cli):
    """Nothing running and nothing deployed: one line, naming the stack and the way out."""
    result = cli("connections", "--stage", "nowhere")
    assert result.exit_code == 1
    assert "No running local service or deployed stack for wsctl-nowhere" in result.stderr
    assert "or give a URL" in result.stderr


def test_the_stack_token_is_sent_automatically_and_never_printed(cli):
    """A stack with token auth accepts wsctl's commands, which send the saved token; a client
    without it is refused with 401."""
    spec = load_spec().with_overrides(stage="locked")  # its own table, beside the shared one
    token = "t0k3n-for-the-test"
    with LocalService(spec, port=0, auth_token=token) as service:
        record_local(service)
        state.save_token(state.local_token_key(spec.stack), token)
        allowed = cli("connections", "--stage", "locked", "--json")
        assert allowed.exit_code == 0, allowed.stderr
        assert token not in allowed.stdout + allowed.stderr
        state.clear_token(state.local_token_key(spec.stack))
        refused = cli("connections", "--stage", "locked")
    assert refused.exit_code == 1
    assert "rejected the handshake: HTTP 401" in refused.stderr
    assert token not in refused.stderr


PROBE = """
import json, sys
from wsctl.cli import run
code = run(sys.argv[1:])
heavy = sorted({m.split(".")[0] for m in sys.modules} & set(%r))
print(json.dumps({"code": code, "heavy": heavy}))
"""


@pytest.mark.parametrize(
    "args",
    [
        ["send", "hi", "{url}", "-w", "0"],
        ["connect", "{url}", "-x", "hi", "-w", "0"],
        ["broadcast", "hi", "--url", "{url}"],
        ["connections", "--url", "{url}"],
    ],
)
def test_client_commands_do_not_import_boto3(ws_server, args):
    """In a fresh interpreter, the client commands load neither boto3, botocore, moto nor
    (outside an interactive session) prompt_toolkit."""
    server = ws_server(fake_service() if args[0] in ("broadcast", "connections") else echo)
    probe = PROBE % (HEAVY_MODULES,)
    finished = subprocess.run(
        [sys.executable, "-c", probe, *(a.format(url=server.url) for a in args)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    result = json.loads(finished.stdout.splitlines()[-1])
    assert result == {"code": 0, "heavy": []}, finished.stderr

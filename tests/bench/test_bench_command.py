"""`wsctl bench` through the CLI, over real connections on 127.0.0.1: against `wsctl up
--local` in its own process, and against small servers that lose messages or refuse
handshakes, which the bench must count (never hang on)."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from websockets.sync.server import serve

from tests.auth.local_process import up_local
from wsctl.bench.plan import Plan


@contextlib.contextmanager
def protocol_server(*, drop_every: int = 0, refuse_every: int = 0) -> Iterator[str]:
    """A server speaking wsctl's broadcast protocol on 127.0.0.1: it drops every
    ``drop_every``-th frame it would deliver, and refuses every ``refuse_every``-th handshake
    with 403. Yields its URL."""
    lock = threading.Lock()
    clients: set = set()
    counts = {"frames": 0, "handshakes": 0}

    def process_request(connection, request):
        with lock:
            counts["handshakes"] += 1
            refuse = refuse_every and counts["handshakes"] % refuse_every == 0
        if refuse:
            return connection.respond(403, "Forbidden\n")
        return None

    def process_response(connection, request, response):
        # Registered before the handshake's answer goes out, as API Gateway's $connect is: a
        # client that is open receives every broadcast sent after.
        if response.status_code == 101:
            with lock:
                clients.add(connection)
        return None

    def handler(websocket):
        try:
            for message in websocket:
                request = json.loads(message)
                if request.get("action") != "broadcast":
                    continue
                frame = json.dumps(
                    {"type": "broadcast", "from": "x", "message": request["message"]}
                )
                with lock:
                    targets = list(clients)
                delivered = 0
                for target in targets:
                    with lock:
                        counts["frames"] += 1
                        drop = drop_every and counts["frames"] % drop_every == 0
                    if not drop:
                        with contextlib.suppress(Exception):
                            target.send(frame)
                            delivered += 1
                ack = {"type": "ack", "action": "broadcast", "delivered": delivered}
                websocket.send(json.dumps({**ack, "gone": 0, "failed": 0}))
        finally:
            with lock:
                clients.discard(websocket)

    with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        process_response=process_response,
    ) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"ws://127.0.0.1:{server.socket.getsockname()[1]}/"
        finally:
            server.shutdown()
            thread.join(timeout=10)


def _figures(result) -> dict:
    assert result.stdout.count("\n") == 1, result.stdout  # one JSON object, nothing else
    return json.loads(result.stdout)


def test_bench_against_up_local_is_complete(cli, tmp_path):
    """500 clients, 20 broadcasts against `wsctl up --local` in its own process: every
    connection opens, every broadcast is acked and reaches all 500, percentiles in order."""
    with up_local("wsctl-dev", tmp_path) as running:
        result = cli("bench", "--clients", "500", "--broadcasts", "20", "--json")
        figures = _figures(result)
        assert result.exit_code == 0, (figures, running.log.read_text()[-2000:])
    assert (figures["connected"], figures["acked"]) == (500, 20)
    assert (figures["delivered"], figures["expected"]) == (10_000, 10_000)
    assert figures["completeness"] == 1.0
    assert figures["errors"] == {}
    latency = figures["latencyMs"]
    assert 0 < latency["p50"] <= latency["p95"] <= latency["p99"] <= latency["max"]
    assert figures["connectRate"] > 0 and figures["deliveriesPerSecond"] > 0


def test_a_server_dropping_every_other_message_is_reported_within_the_bound(cli):
    """Half the deliveries never come: completeness at most 0.5, each missing one counted
    lost, exit 1, and the run ends inside the plan's time bound instead of waiting."""
    args = ["--clients", "20", "--broadcasts", "6", "--inflight", "3", "--timeout", "3"]
    with protocol_server(drop_every=2) as url:
        result = cli("bench", url, *args, "--json")
    figures = _figures(result)
    assert result.exit_code == 1
    assert figures["expected"] == 120
    # The server sent 60; one slower than the 3 s bound is lost too (and counted late).
    assert 0 < figures["delivered"] <= 60
    assert figures["completeness"] == figures["delivered"] / 120
    assert figures["errors"]["lost"] == 120 - figures["delivered"]
    assert set(figures["errors"]) <= {"lost", "late"}
    assert figures["acked"] == 6
    bound = Plan(clients=20, broadcasts=6, inflight=3, timeout=3).time_bound
    assert figures["elapsedSeconds"] <= bound


def test_refused_connections_are_counted_by_kind(cli):
    """A server refusing every other handshake with 403: 10 of 20 open, the 10 refusals are
    errors of their own kind, the broadcasts still reach the 10 that opened."""
    with protocol_server(refuse_every=2) as url:
        result = cli("bench", "--url", url, "--clients", "20", "--broadcasts", "3", "--json")
    figures = _figures(result)
    assert result.exit_code == 1
    assert figures["connected"] == 10
    assert figures["errors"] == {"connect http 403": 10}
    assert figures["completeness"] == 1.0


def test_the_table_and_cost_go_to_stdout_for_people(cli):
    """Without --json: a table with the figures and, with --cost, the dated prices."""
    with protocol_server() as url:
        result = cli("bench", url, "--clients", "5", "--broadcasts", "2", "--cost")
    assert result.exit_code == 0, result.stderr
    for label in ("completeness", "1.0000", "latency ms", "cost: total", "us-east-1"):
        assert label in result.stdout


def test_a_remote_url_needs_yes_when_there_is_no_terminal_to_ask(cli, monkeypatch):
    """Not loopback, no --yes, stdin not a terminal: a usage error saying to pass --yes, and
    no connection is attempted."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    result = cli("bench", "wss://abc123.execute-api.eu-west-1.amazonaws.com/dev", "-n", "10")
    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert result.stderr[-1] == "\n" and result.stderr.count("\n") == 1


@pytest.mark.parametrize(
    ("args", "flag"), [(["--clients", "0"], "--clients"), (["--inflight", "0"], "--inflight")]
)
def test_bad_bounds_are_usage_errors(cli, args, flag):
    """A bound out of range: exit 2 and one line naming the flag."""
    result = cli("bench", "ws://127.0.0.1:9/", *args)
    assert result.exit_code == 2
    assert flag in result.stderr


def test_the_cli_does_not_load_the_bench_to_start():
    """Importing the CLI (what every command pays) loads nothing of wsctl.bench."""
    code = "import sys, wsctl.cli; print([m for m in sys.modules if m.startswith('wsctl.bench')])"
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert loaded.strip() == "[]"


def test_live_progress_shows_on_a_terminal(cli, monkeypatch):
    """On a terminal, stderr shows the connections and broadcasts as they progress, up to
    the final counts."""
    from rich.console import Console

    from wsctl.commands import bench

    screen = io.StringIO()
    monkeypatch.setattr(bench, "err", Console(file=screen, force_terminal=True, width=100))
    with protocol_server() as url:
        result = cli("bench", url, "--clients", "5", "--broadcasts", "3")
    assert result.exit_code == 0, result.stderr
    shown = screen.getvalue()
    assert "connections" in shown and "broadcasts" in shown
    assert "5/5" in shown and "3/3" in shown and "15 delivered" in shown

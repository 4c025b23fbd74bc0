"""``run_foreground`` and ``stop``: the process behind ``wsctl up --local`` / ``down --local``."""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import subprocess
import sys
import threading
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.local.conftest import events_of, eventually, next_json
from wsctl import state
from wsctl.local import serve

RUNNER = """
import sys
from pathlib import Path
from wsctl.config import parse_spec_file
from wsctl.local.serve import run_foreground

spec = parse_spec_file(Path(sys.argv[1]))
sys.exit(run_foreground(spec, port=0, auth_token=None))
"""


class Served:
    """A process started with its output going to files (a full pipe could block it)."""

    def __init__(self, command: list[str], cwd, logs) -> None:
        self.stdout_path, self.stderr_path = logs / "stdout.txt", logs / "stderr.txt"
        with self.stdout_path.open("w") as out, self.stderr_path.open("w") as err:
            self.process = subprocess.Popen(command, cwd=cwd, stdout=out, stderr=err, text=True)

    def output(self) -> tuple[str, str]:
        return self.stdout_path.read_text(), self.stderr_path.read_text()

    def wait_for_record(self, stack: str):
        try:
            eventually(lambda: state.load_local(stack) or self.process.poll() is not None, 30)
        except AssertionError:
            self.process.kill()
            raise AssertionError(f"never served: {self.output()}") from None
        assert self.process.poll() is None, self.output()
        return state.load_local(stack)


def _start(spec, logs) -> Served:
    served = Served([sys.executable, "-c", RUNNER, str(spec.source)], None, logs)
    served.wait_for_record(spec.stack)
    return served


def _connected_client(url: str):
    async def scenario():
        ws = await connect(url)
        await ws.send(json.dumps({"action": "echo"}))
        await next_json(ws)
        return ws

    return scenario


@pytest.mark.timeout(60)
def test_ctrl_c_runs_disconnect_and_exits_0(recorder_spec, tmp_path):
    """SIGINT: open connections get 1001, $disconnect runs, the record goes, exit 0."""
    served = _start(recorder_spec, tmp_path)
    process = served.process
    try:
        record = state.load_local(recorder_spec.stack)
        assert record is not None and record.pid == process.pid
        assert record.url.startswith("ws://127.0.0.1:") and record.url.endswith("/test")

        async def scenario():
            ws = await _connected_client(record.url)()
            process.send_signal(signal.SIGINT)
            await asyncio.wait_for(ws.wait_closed(), 20)
            assert ws.close_code == 1001

        asyncio.run(scenario())
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    stdout, stderr = served.output()
    assert process.returncode == 0, stderr
    assert record.url in stdout and "/@connections" in stdout
    assert "Traceback" not in stderr
    disconnect = events_of(recorder_spec, "DISCONNECT")
    assert [e["requestContext"]["disconnectStatusCode"] for e in disconnect] == [1001]
    assert state.load_local(recorder_spec.stack) is None


@pytest.mark.timeout(60)
def test_stop_from_another_process(recorder_spec, tmp_path):
    """stop() finds the running service through its record, ends it, and reports it."""
    process = _start(recorder_spec, tmp_path).process
    # Our own child stays a zombie (its pid alive) until reaped: reap it as another shell would.
    reaper = threading.Thread(target=process.wait, daemon=True)
    reaper.start()
    try:
        assert serve.stop(recorder_spec) is True
        reaper.join(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert state.load_local(recorder_spec.stack) is None
    assert serve.stop(recorder_spec) is False


def test_stale_record_is_not_trusted(recorder_spec):
    """A record left by a process that died is detected: stop() says nothing runs."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    state.save_local(
        state.LocalRecord(
            stack=recorder_spec.stack,
            pid=dead.pid,
            port=1,
            stage="test",
            url="ws://127.0.0.1:1/test",
            management_url="http://127.0.0.1:1/test/@connections",
            started_at=time.time(),
        )
    )
    assert serve.stop(recorder_spec) is False
    assert not (state.home() / "local" / f"{recorder_spec.stack}.json").exists()


@pytest.mark.timeout(60)
def test_wsctl_up_local_then_ctrl_c(tmp_path):
    """`wsctl up --local --port 0` serves the bundled service; Ctrl-C exits 0 and cleans up."""
    from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file

    spec = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    command = [sys.executable, "-m", "wsctl", "up", "--local", "--port", "0"]
    served = Served(command, tmp_path, tmp_path)
    process = served.process
    try:
        record = served.wait_for_record(spec.stack)

        async def scenario():
            async with connect(record.url) as ws:
                await ws.send(json.dumps({"action": "whoami"}))
                assert (await next_json(ws))["type"] == "whoami"
                process.send_signal(signal.SIGINT)
                await asyncio.wait_for(ws.wait_closed(), 20)
                assert ws.close_code == 1001

        asyncio.run(scenario())
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    stdout, stderr = served.output()
    assert process.returncode == 0, stderr
    assert record.url in stdout
    assert "disconnect" in stderr  # the service's own log line, shown as CloudWatch would
    assert state.load_local(spec.stack) is None


def test_settle_heap_freezes_the_startup_heap_and_collects_less_often():
    """What the serving process does once started (see benchmarks/local.py for why)."""
    threshold = gc.get_threshold()
    try:
        serve.settle_heap()
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold()[0] > threshold[0]
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_up_local_takes_timers_from_the_local_table(tmp_path):
    """[local] idle_timeout in wsctl.toml reaches `wsctl up --local` (an idle client is
    closed 1001), and with auth none the emulator says so once."""
    from tests.auth.local_process import up_local
    from tests.local.conftest import RECORDER_HANDLER, RECORDER_TOML, write_service

    toml = RECORDER_TOML + "\n[local]\nidle_timeout = 0.5\n"
    spec = write_service(tmp_path / "svc", toml, RECORDER_HANDLER)
    with up_local(spec.stack, tmp_path / "svc") as running:

        async def scenario():
            async with connect(running.record.url) as ws:
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 20)
                return ws.close_code

        assert asyncio.run(scenario()) == 1001
        output = running.wait_for_output("Connect with")
    assert output.count("Auth        none") == 1

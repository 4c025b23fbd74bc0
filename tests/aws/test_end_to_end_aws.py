"""The installed `wsctl` command, run as a user runs it (subprocess, fake credentials), against
a moto server on 127.0.0.1: up, status --json, up again, down --yes, and an empty account."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aws_testing import assert_account_empty
from moto.server import ThreadedMotoServer

WSCTL = shutil.which("wsctl", path=str(Path(sys.executable).parent))


@pytest.fixture
def moto_server():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.mark.skipif(WSCTL is None, reason="wsctl is not installed next to this Python")
def test_up_status_up_down_as_a_user(moto_server, service, tmp_path):
    """The whole life of a stack through the real command line, ending with nothing left."""
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_ACCESS_KEY_ID": "fake",
        "AWS_SECRET_ACCESS_KEY": "fake",
        "WSCTL_HOME": str(tmp_path / "home"),
        "NO_COLOR": "1",
    }
    env.pop("AWS_SESSION_TOKEN", None)

    def wsctl(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [WSCTL, *args],
            cwd=service.root,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )

    first = wsctl("up")
    assert first.returncode == 0, first.stderr
    assert "wss://" in first.stdout

    status = wsctl("status", "--json")
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)  # nothing but JSON on stdout
    assert data["state"] == "deployed" and data["stack"] == "demo-test"
    assert data["url"] in first.stdout

    again = wsctl("up")
    assert again.returncode == 0, again.stderr
    assert "0 changed" in again.stderr

    refused = wsctl("down")
    assert refused.returncode == 2

    gone = wsctl("down", "--yes")
    assert gone.returncode == 0, gone.stderr
    assert wsctl("down", "--yes").returncode == 0
    assert wsctl("status").returncode == 1
    assert_account_empty(
        endpoint_url=moto_server, aws_access_key_id="fake", aws_secret_access_key="fake"
    )

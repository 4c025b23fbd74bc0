"""`wsctl up --local` started as a user starts it, in a process of its own, for the benchmarks
that measure the emulator from outside (benchmarks/console.py, benchmarks/reload.py)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

START_TIMEOUT = 60.0


def start(root: Path, stage: str = "dev") -> tuple[subprocess.Popen, str, Path]:
    """`wsctl up --local --port 0` of the service in ``root``; its WebSocket URL once it serves,
    and the file its output goes to."""
    log = root / "up.log"
    env = {**os.environ, "WSCTL_HOME": str(root / "home"), "NO_COLOR": "1"}
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "wsctl", "up", "--local", "--port", "0"],
            cwd=root,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    url = re.compile(rf"ws://127\.0\.0\.1:\d+/{re.escape(stage)}")
    while time.monotonic() < deadline:
        found = url.search(log.read_text())
        if found:
            return process, found.group(0), log
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.terminate()
    raise SystemExit(f"up --local did not start:\n{log.read_text()}")

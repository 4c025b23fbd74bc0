"""`wsctl up --local` in a process of its own, as a user runs it, for tests that need the
emulator to hold this machine's real credentials (the test process's emulator replaces them
with fake ones) or that check what `up` itself does."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from wsctl import state

START_TIMEOUT = 30.0


@dataclass(frozen=True)
class Running:
    """A running ``wsctl up --local``: the record it wrote, and the file its output goes to."""

    record: state.LocalRecord
    log: Path

    def wait_for_output(self, text: str, timeout: float = START_TIMEOUT) -> str:
        """The process's output once it contains ``text``; fails after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while text not in (output := self.log.read_text()):
            assert time.monotonic() < deadline, f"{text!r} never printed:\n{output}"
            time.sleep(0.05)
        return output


@contextlib.contextmanager
def up_local(stack: str, cwd: Path, *flags: str) -> Iterator[Running]:
    """Run ``wsctl up --local --port 0 FLAGS`` in ``cwd`` until the block ends (then Ctrl-C).
    Output goes to a file: a full pipe could block it."""
    log = cwd / f"up-local-{time.monotonic_ns()}.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "wsctl", "up", "--local", "--port", "0", *flags],
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT
            record = None
            while record is None and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
                record = state.load_local(stack)
            assert record is not None and record.pid == process.pid, log.read_text()
            yield Running(record, log)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()

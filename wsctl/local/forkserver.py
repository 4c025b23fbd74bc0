"""The zygote: one process that has loaded botocore and boto3 once, and forks every sandbox.

A sandbox started as a new interpreter costs 0.3-0.5 s of CPU (imports, then botocore's JSON
models) and ~30 MB of its own; forked from the zygote it starts in milliseconds and shares
those pages, so a burst of invocations no longer pays for interpreters, and warm sandboxes
cost a few MB each. The zygote runs ``sandbox_worker.run_zygote``; sandboxes are its children,
so it reports their exit codes here.
"""

from __future__ import annotations

import collections
import concurrent.futures
import contextlib
import mmap
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection

from wsctl.local import sandbox_worker

START_TIMEOUT = 60.0
KEPT_EXITS = 1024
# The worker runs as a file of its own, not as part of the wsctl package: importing the package
# would load the emulator (and moto) into every sandbox. -I: no PYTHON* variables, no user
# site; a sandbox puts its code directory first on sys.path, as Lambda's task root is.
_BOOT = (
    "import importlib.util, sys; "
    "spec = importlib.util.spec_from_file_location('wsctl_sandbox_worker', sys.argv[1]); "
    "worker = sys.modules[spec.name] = importlib.util.module_from_spec(spec); "
    "spec.loader.exec_module(worker); "
    "worker.run_from_argv(sys.argv[2:])"
)


class SharedCounter:
    """A count in memory the emulator shares with every sandbox it is given to (``spawn``):
    the emulator's event loop bumps it, sandboxes read it, with no message between them."""

    def __init__(self) -> None:
        if hasattr(os, "memfd_create"):
            self.fd = os.memfd_create("wsctl-counter")
        else:  # no memfd (macOS): an unlinked temporary file does the same
            import tempfile

            with tempfile.TemporaryFile() as backing:
                self.fd = os.dup(backing.fileno())
        os.ftruncate(self.fd, 8)
        self._memory = mmap.mmap(self.fd, 8)

    @property
    def value(self) -> int:
        return int.from_bytes(self._memory[:8], "little")

    def bump(self) -> None:
        """One more (a single writer: the event loop)."""
        self._memory[:8] = (self.value + 1).to_bytes(8, "little")

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._memory.close()
            os.close(self.fd)


class ZygoteGone(RuntimeError):
    """The zygote did not start, or has died: no sandbox can be forked from it."""


class ForkServer:
    """The emulator's end of the zygote: spawn sandboxes, learn how they ended."""

    def __init__(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-I",
                "-c",
                _BOOT,
                sandbox_worker.__file__,
                "zygote",
                str(child.fileno()),
            ],
            pass_fds=(child.fileno(),),
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "en_US.UTF-8"},
            stdin=subprocess.DEVNULL,
        )
        child.close()
        self._control = parent
        self._send_lock = threading.Lock()
        self._spawning: collections.deque[concurrent.futures.Future[int]] = collections.deque()
        # Exit codes not yet asked for (a killed sandbox's never is): the newest few.
        self._exits: collections.OrderedDict[int, int] = collections.OrderedDict()
        self._exited = threading.Condition()
        parent.settimeout(START_TIMEOUT)
        try:
            ready = pickle.loads(parent.recv(1 << 16))
        except (OSError, pickle.UnpicklingError, EOFError):
            ready = None
        if ready != ("ready",):
            self._process.kill()
            raise ZygoteGone("the sandbox zygote did not start")
        parent.settimeout(None)
        threading.Thread(target=self._read, name="wsctl-zygote", daemon=True).start()

    def spawn(
        self, code_dir: str, handler: str, env: dict[str, str], shared: SharedCounter
    ) -> tuple[int, Connection]:
        """Fork a sandbox for ``handler``, which maps ``shared``; its pid and the emulator's
        end of its pipe."""
        ours, theirs = socket.socketpair()
        spawned: concurrent.futures.Future[int] = concurrent.futures.Future()
        request = pickle.dumps(("spawn", code_dir, handler, env))
        try:
            with self._send_lock:  # requests and their answers in the same order
                self._spawning.append(spawned)
                socket.send_fds(self._control, [request], [theirs.fileno(), shared.fd])
        except OSError as error:
            ours.close()
            raise ZygoteGone("the sandbox zygote is gone") from error
        finally:
            theirs.close()
        pid = spawned.result(timeout=START_TIMEOUT)
        return pid, Connection(ours.detach())

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def kill(self, pid: int) -> None:
        with self._exited:
            if pid in self._exits:
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def exit_code(self, pid: int, timeout: float) -> int | None:
        """How ``pid`` ended (negative: the signal that ended it), once the zygote saw it."""
        with self._exited:
            self._exited.wait_for(lambda: pid in self._exits, timeout=timeout)
            return self._exits.pop(pid, None)

    def close(self) -> None:
        """End the zygote; it ends every sandbox it forked."""
        with contextlib.suppress(OSError):
            self._control.shutdown(socket.SHUT_RDWR)
        self._control.close()
        try:
            self._process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._process.kill()

    def _read(self) -> None:
        while True:
            try:
                data = self._control.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                break
            message = pickle.loads(data)
            if message[0] == "spawned":
                self._spawning.popleft().set_result(message[1])
            elif message[0] == "exited":
                with self._exited:
                    self._exits[message[1]] = message[2]
                    while len(self._exits) > KEPT_EXITS:
                        self._exits.popitem(last=False)
                    self._exited.notify_all()
        for waiting in self._spawning:
            if not waiting.done():
                waiting.set_exception(ZygoteGone("the sandbox zygote is gone"))

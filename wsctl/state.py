"""wsctl's own small state on this machine, under ``$WSCTL_HOME`` (default ``~/.wsctl``).

- ``local/{stack}.json``: where a running ``up --local`` serves (written by that process).
- ``stacks/{stack}.json``: the endpoint of a deployed stack, so client commands find it.
- ``secrets/{stack}.token``: the stack's auth token, owner-only (0600).

AWS itself stays the source of truth for deployed stacks (they are found by name and tag);
these files are a cache and a way for terminals to find each other.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def home() -> Path:
    return Path(os.environ.get("WSCTL_HOME") or Path.home() / ".wsctl")


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner can enter (0700), created if missing; its
    parents up to wsctl's home likewise (mkdir's mode applies to the last one only, and the
    umask would loosen it)."""
    root = home()
    for directory in [*reversed(path.relative_to(root).parents), path.relative_to(root)]:
        target = root / directory
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(target, 0o700)
    return path


def history_file() -> Path:
    """The interactive client's line history: what people type may hold secrets, so the file
    is the owner's only (0600)."""
    path = private_dir(home()) / "history"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.close(fd)
    os.chmod(path, 0o600)
    return path


def _write_json(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    """Write atomically, so a reader in another terminal never sees half a file."""
    _write_atomically(path, json.dumps(data, indent=2, sort_keys=True), mode)


def _write_atomically(path: Path, text: str, mode: int) -> None:
    """Write ``text`` to a temporary file beside ``path`` (created with ``mode``: mkstemp
    makes it 0600, so a secret is never readable by others, even for a moment), then rename
    it over ``path``: a reader sees the old file or the new one, never half of one."""
    import tempfile

    private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class LocalRecord:
    """A running local emulator, as recorded by the process that serves it."""

    stack: str
    pid: int
    port: int
    stage: str
    url: str
    management_url: str
    started_at: float
    auth: str = "none"  # what its handshakes require, so clients know to send a token or sign
    region: str | None = None  # the region SigV4 signatures must be scoped to (auth = "iam")
    # When the serving process started (see ``process_start``): with the pid, it names that
    # process and no other, so a pid reused after a crash is never taken for the emulator
    # (it would be sent the stack's token, or a SIGTERM from `down --local`).
    process_start: str | None = None

    def facts(self) -> dict[str, Any]:
        """What ``up --local --json`` and ``status --local --json`` print (camelCase)."""
        return {
            "stack": self.stack,
            "url": self.url,
            "managementUrl": self.management_url,
            "stage": self.stage,
            "port": self.port,
            "pid": self.pid,
            "auth": self.auth,
            "startedAt": int(self.started_at * 1000),
        }

    def is_alive(self) -> bool:
        """True only if the process that wrote the record still runs (same pid, same start
        time) and its port still accepts connections."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        if self.process_start is None or process_start(self.pid) != self.process_start:
            return False
        # A plain connect to the IP literal: create_connection() would resolve it through
        # getaddrinfo, loading the idna codec, a cost on every client command's start.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.settimeout(0.5)
            try:
                probe.connect(("127.0.0.1", self.port))
            except OSError:
                return False
        return True


def process_start(pid: int) -> str | None:
    """When process ``pid`` started, as the system tells it (None if it cannot): Linux's
    /proc start time in clock ticks since boot, else ``ps -o lstart``."""
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
        return stat.rpartition(")")[2].split()[19]  # field 22, starttime (proc(5))
    import subprocess

    with contextlib.suppress(OSError, subprocess.SubprocessError):
        finished = subprocess.run(
            ["ps", "-o", "lstart=", "-p", str(pid)], capture_output=True, text=True, timeout=5
        )
        return finished.stdout.strip() or None
    return None


def _local_path(stack: str) -> Path:
    return home() / "local" / f"{stack}.json"


def save_local(record: LocalRecord) -> None:
    _write_json(_local_path(record.stack), asdict(record))


def load_local(stack: str) -> LocalRecord | None:
    """The running local emulator for ``stack``; a stale record is removed, not trusted."""
    path = _local_path(stack)
    data = _read_json(path)
    if data is None:
        return None
    try:
        record = LocalRecord(**data)
    except TypeError:
        path.unlink(missing_ok=True)
        return None
    if not record.is_alive():
        path.unlink(missing_ok=True)
        return None
    return record


def clear_local(stack: str, pid: int | None = None) -> None:
    """Forget the local record, only if it is still ours (``pid``) when one is given."""
    path = _local_path(stack)
    data = _read_json(path)
    if data is not None and pid is not None and data.get("pid") != pid:
        return
    path.unlink(missing_ok=True)


def _stack_path(stack: str) -> Path:
    return home() / "stacks" / f"{stack}.json"


def save_deployed(stack: str, facts: dict[str, Any]) -> None:
    """Remember a deployed stack's endpoint (url, region, api id, stage, auth mode)."""
    _write_json(_stack_path(stack), facts)


def load_deployed(stack: str) -> dict[str, Any] | None:
    return _read_json(_stack_path(stack))


def clear_deployed(stack: str) -> None:
    _stack_path(stack).unlink(missing_ok=True)


def local_token_key(stack: str) -> str:
    """Where the token of ``up --local --auth token`` is kept: apart from the deployed
    stack's, so a local emulator (and whatever answers on its port) never sees the token
    that opens the deployed stack. Stack names hold no dot, so it names no stack."""
    return f"{stack}.local"


def _token_path(stack: str) -> Path:
    return home() / "secrets" / f"{stack}.token"


def save_token(stack: str, token: str) -> None:
    """Keep the stack's token, owner-only (0600), replaced atomically: a crash mid-write never
    leaves an empty or half token that would lock the client out."""
    _write_atomically(_token_path(stack), token, 0o600)


def load_token(stack: str) -> str | None:
    try:
        return _token_path(stack).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def clear_token(stack: str) -> None:
    _token_path(stack).unlink(missing_ok=True)

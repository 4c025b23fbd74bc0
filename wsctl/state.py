"""wsctl's own small state on this machine, under ``$WSCTL_HOME`` (default ``~/.wsctl``).

- ``local/{stack}.json``: where a running ``up --local`` serves (written by that process).
- ``stacks/{stack}.json``: the endpoint of a deployed stack, so client commands find it.
- ``secrets/{stack}.token``: the stack's auth token, owner-only (0600).

AWS itself stays the source of truth for deployed stacks (they are found by name and tag);
these files are a cache and a way for terminals to find each other.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def home() -> Path:
    return Path(os.environ.get("WSCTL_HOME") or Path.home() / ".wsctl")


def _write_json(path: Path, data: dict[str, Any], mode: int = 0o644) -> None:
    """Write atomically, so a reader in another terminal never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
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

    def is_alive(self) -> bool:
        """True only if the process exists and its port still accepts connections."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # exists, owned by someone else
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False


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


def _token_path(stack: str) -> Path:
    return home() / "secrets" / f"{stack}.token"


def save_token(stack: str, token: str) -> None:
    path = _token_path(stack)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path.parent, 0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(token)
    os.chmod(path, 0o600)


def load_token(stack: str) -> str | None:
    try:
        return _token_path(stack).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def clear_token(stack: str) -> None:
    _token_path(stack).unlink(missing_ok=True)

"""Local state: atomic records, stale local records detected, the token kept owner-only."""

import dataclasses
import os
import socket
import stat
import time

import pytest

from wsctl import state
from wsctl.auth import ensure_token, token_digest


def _record(pid: int, port: int) -> state.LocalRecord:
    return state.LocalRecord(
        stack="wsctl-dev",
        pid=pid,
        port=port,
        stage="dev",
        url=f"ws://127.0.0.1:{port}/dev",
        management_url=f"http://127.0.0.1:{port}/dev/@connections",
        started_at=time.time(),
        process_start=state.process_start(pid),
    )


def test_live_local_record_is_found():
    """A record whose process is alive and whose port listens is returned as saved."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        record = _record(os.getpid(), listener.getsockname()[1])
        state.save_local(record)
        assert state.load_local("wsctl-dev") == record


def test_record_of_a_dead_process_is_stale_and_removed():
    """A record left by a process that died is not trusted, and is deleted."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    state.save_local(_record(2**22 + 12345, free_port))
    assert state.load_local("wsctl-dev") is None
    assert not (state.home() / "local" / "wsctl-dev.json").exists()


def test_record_whose_port_is_closed_is_stale():
    """A live pid is not enough: the port must still accept connections."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    state.save_local(_record(os.getpid(), free_port))
    assert state.load_local("wsctl-dev") is None


def test_clear_local_leaves_another_process_record_alone():
    """A process clears the record only if it is still its own."""
    state.save_local(_record(os.getpid(), 1))
    state.clear_local("wsctl-dev", pid=os.getpid() + 1)
    assert (state.home() / "local" / "wsctl-dev.json").exists()
    state.clear_local("wsctl-dev", pid=os.getpid())
    assert not (state.home() / "local" / "wsctl-dev.json").exists()


def test_token_is_owner_only_and_kept_across_runs():
    """The token file is 0600 in a 0700 folder; ensure_token reuses it unless rotating."""
    first = ensure_token("wsctl-dev")
    path = state.home() / "secrets" / "wsctl-dev.token"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert ensure_token("wsctl-dev") == first
    rotated = ensure_token("wsctl-dev", rotate=True)
    assert rotated != first
    assert state.load_token("wsctl-dev") == rotated


def test_token_digest_hides_the_token():
    """The deployed digest is a SHA-256 hex string that does not contain the token."""
    token = ensure_token("wsctl-dev")
    digest = token_digest(token)
    assert len(digest) == 64 and token not in digest
    assert digest == token_digest(token)


def test_a_reused_pid_is_not_taken_for_the_emulator():
    """A record whose pid now belongs to another process (another start time) is stale, even
    with the port listening: that process gets neither the token nor a SIGTERM."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        record = _record(os.getpid(), listener.getsockname()[1])
        state.save_local(dataclasses.replace(record, process_start="12345"))
        assert state.load_local("wsctl-dev") is None
        state.save_local(dataclasses.replace(record, process_start=None))
        assert state.load_local("wsctl-dev") is None


def test_wsctl_home_and_history_are_owner_only(tmp_path, monkeypatch):
    """~/.wsctl is created 0700 (even with a permissive umask), the history file 0600."""
    monkeypatch.setenv("WSCTL_HOME", str(tmp_path / "home" / ".wsctl"))
    previous = os.umask(0o002)
    try:
        history = state.history_file()
    finally:
        os.umask(previous)
    assert stat.S_IMODE(state.home().stat().st_mode) == 0o700
    assert stat.S_IMODE(history.stat().st_mode) == 0o600


def test_the_token_is_replaced_atomically(monkeypatch):
    """A failure while writing a new token leaves the old one whole, and no temporary file."""
    state.save_token("wsctl-dev", "old-token")

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        state.save_token("wsctl-dev", "new-token")
    assert state.load_token("wsctl-dev") == "old-token"
    assert [p.name for p in (state.home() / "secrets").iterdir()] == ["wsctl-dev.token"]

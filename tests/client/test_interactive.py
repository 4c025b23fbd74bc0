"""`wsctl connect` in a terminal, driven through a pseudo-terminal: frames arriving while the
user types print above the prompt and the typed line survives; slash commands; closing."""

from __future__ import annotations

import fcntl
import json
import os
import re
import struct
import subprocess
import sys
import termios
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from client_servers import close_with, echo, fake_service

WSCTL = Path(sys.executable).with_name("wsctl")
WAIT_LIMIT = 15.0
_ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|[@-Z\\-_]|\][^\x07]*\x07)")


def _take_controlling_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class Terminal:
    """`wsctl connect URL` on a pseudo-terminal: type into it, read what it shows."""

    def __init__(self, url: str, *args: str) -> None:
        self.master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        env = {**os.environ, "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "NO_COLOR": "1"}
        self.process = subprocess.Popen(
            [str(WSCTL), "connect", url, *args],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
            start_new_session=True,
            # As in a real terminal, the pty is the session's controlling terminal: without
            # it, a Ctrl-C typed before the prompt takes the terminal is silently dropped.
            preexec_fn=_take_controlling_terminal,
        )
        os.close(slave)
        self._raw = bytearray()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while True:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:  # the other side closed
                return
            if not chunk:
                return
            with self._lock:
                self._raw += chunk

    @property
    def screen_text(self) -> str:
        """Everything shown so far, with terminal control sequences removed."""
        with self._lock:
            text = self._raw.decode("utf-8", "replace")
        return _ANSI.sub("", text)

    def expect(self, text: str, after: int = 0) -> int:
        """Wait until ``text`` has been shown (past position ``after``); return where."""
        deadline = time.monotonic() + WAIT_LIMIT
        while (found := self.screen_text.find(text, after)) < 0:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not shown; screen so far:\n{self.screen_text}")
            time.sleep(0.02)
        return found

    def type(self, keys: str) -> None:
        """Type once the prompt reads keys itself (raw mode): typed earlier, the terminal's
        line discipline would echo and edit them in its place."""
        deadline = time.monotonic() + WAIT_LIMIT
        while termios.tcgetattr(self.master)[3] & termios.ICANON:
            if time.monotonic() > deadline:
                raise AssertionError(f"the prompt never took the terminal:\n{self.screen_text}")
            time.sleep(0.02)
        os.write(self.master, keys.encode())

    def wait(self) -> int:
        code = self.process.wait(WAIT_LIMIT)
        self._reader.join(2)
        return code

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(WAIT_LIMIT)
        os.close(self.master)


@pytest.fixture
def terminal() -> Iterator:
    opened: list[Terminal] = []

    def start(url: str, *args: str) -> Terminal:
        opened.append(Terminal(url, *args))
        return opened[-1]

    yield start
    for term in opened:
        term.close()


def test_a_frame_arriving_while_typing_does_not_corrupt_the_line(ws_server, terminal):
    """Half a line is typed, a frame arrives and prints above the prompt, the line is
    finished, and the server receives it whole; Ctrl-D then closes with 1000 and exit 0."""
    server = ws_server(echo)
    term = terminal(server.url)
    term.expect("Connected to")
    server.wait_for(lambda: server.connections, "the connection")
    term.type("hello wor")
    typed = term.expect("hello wor")
    server.push('{"type": "broadcast", "message": "PUSHED"}')
    pushed = term.expect('"message": "PUSHED"', typed)
    term.expect("hello wor", pushed)  # the prompt, redrawn below the frame, keeps the text
    term.type("ld\r")
    server.wait_for(lambda: "hello world" in server.recorded.messages, "the typed line")
    assert server.recorded.messages == ["hello world"]
    term.expect("< hello world")  # the echo
    term.type("\x04")
    assert term.wait() == 0
    term.expect("Connection closed: 1000 (OK)")


def test_slash_commands_speak_the_protocol_and_close_with_a_code(ws_server, terminal):
    """/whoami sends the action and shows the reply, /ping shows the round trip, an unknown
    command is refused, and /close 4000 closes with that code."""
    server = ws_server(fake_service())
    term = terminal(server.url)
    term.expect("Connected to")
    term.type("/whoami\r")
    term.expect('"connectionId": "conn-1"')
    assert json.loads(server.recorded.messages[0]) == {"action": "whoami"}
    term.type("/ping\r")
    term.expect("pong after")
    term.type("/nonsense\r")
    term.expect("unknown command /nonsense")
    term.type("/close 4000 done\r")
    assert term.wait() == 0
    term.expect("Connection closed: 4000 (application code): done")
    assert len(server.recorded.messages) == 1


def test_a_server_close_ends_the_session_with_its_code_in_words(ws_server, terminal):
    """The server closing with 1011 interrupts the prompt, prints the code, exits 1."""
    server = ws_server(close_with(1011, "crashed"))
    term = terminal(server.url)
    term.expect("Connected to")
    term.type("trigger\r")
    assert term.wait() == 1
    term.expect("Connection closed: 1011 (internal error): crashed")


def test_ctrl_c_closes_cleanly(ws_server, terminal):
    """Ctrl-C at the prompt closes with 1000 and exits 0, without a traceback."""
    server = ws_server(echo)
    term = terminal(server.url)
    term.expect("Connected to")
    term.type("half a li")
    term.expect("half a li")
    term.type("\x03")
    assert term.wait() == 0
    term.expect("Connection closed: 1000 (OK)")
    assert "Traceback" not in term.screen_text
    assert server.recorded.messages == []


def test_frames_are_compact_by_default_and_pretty_on_request(ws_server, terminal):
    """A JSON frame shows on one line by default, indented with --pretty; /pong sends a pong
    with its data."""
    server = ws_server(fake_service())
    term = terminal(server.url)
    term.expect("Connected to")
    term.type("/whoami\r")
    term.expect('{"type": "whoami", "connectionId": "conn-1", ')
    term.type("/pong are you there\r")
    term.expect("pong sent")
    server.wait_for(lambda: server.recorded.pongs, "the pong")
    assert server.recorded.pongs == [b"are you there"]
    term.type("/quit\r")
    assert term.wait() == 0

    pretty = terminal(server.url, "--pretty")
    pretty.expect("Connected to")
    pretty.type("/whoami\r")
    pretty.expect('\n  "type": "whoami",\r\n  "connectionId": "conn-2",')
    pretty.type("/quit\r")
    assert pretty.wait() == 0

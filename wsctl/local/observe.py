"""What happens in the emulator, for whoever watches it (the console's feed): connections
opening and closing, and one ``Invocation`` per function run.

Events are emitted on the emulator's event loop; a listener must return quickly and never
raise (one that does is dropped, so it cannot break the data plane). With no listener,
emitting costs one truth test.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from wsctl.local.events import Peer

OK = "ok"
ERROR = "error"  # the handler raised, or could not be imported
TIMEOUT = "timeout"


@dataclass(frozen=True)
class Invocation:
    """One function run: what ran, for which route and connection, how long, how it ended."""

    function: str
    route: str
    request_id: str
    connection_id: str | None
    started_at: int  # epoch ms
    duration_ms: float
    outcome: str  # OK, ERROR or TIMEOUT
    logs: tuple[str, ...]


@dataclass(frozen=True)
class Connected:
    peer: Peer


@dataclass(frozen=True)
class Disconnected:
    connection_id: str
    code: int
    reason: str


Event = Invocation | Connected | Disconnected
Listener = Callable[[Event], None]


class Observers:
    """The listeners of one emulator."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def __bool__(self) -> bool:
        return bool(self._listeners)

    def add(self, listener: Listener) -> Callable[[], None]:
        """Start calling ``listener``; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self.discard(listener)

    def discard(self, listener: Listener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def emit(self, event: Event) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                self.discard(listener)


class LogCapture(logging.Handler):
    """Collects the log records a handler writes while it runs, per invocation.

    Handlers run one per thread: the lines go to the buffer of the invocation running on the
    record's thread (threads the handler starts itself are not followed).
    """

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            with contextlib.suppress(Exception):
                lines.append(self.format(record))

    @contextlib.contextmanager
    def capturing(self, lines: list[str]) -> Iterator[None]:
        """Append to ``lines`` what is logged on this thread while the block runs."""
        self._local.lines = lines
        try:
            yield
        finally:
            self._local.lines = None

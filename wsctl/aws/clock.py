"""Time for the deployer: what it reads and how it waits, injectable as one object.

Every wait and back-off of ``wsctl.aws`` goes through a ``Clock``, so tests and benchmarks
swap in a ``VirtualClock`` (sleeping advances time at once) and retries that would take
minutes on AWS run instantly. ``use`` installs one for the code that builds its own
``AwsClient`` (the CLI commands).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class VirtualClock:
    """Sleeping moves time forward instead of waiting; ``slept`` is the total asked for."""

    def __init__(self) -> None:
        self._now = 0.0
        self.slept = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += max(0.0, seconds)
            self.slept += max(0.0, seconds)


class SleepOnly:
    """A clock from a bare ``sleep`` function: time is what has been slept."""

    def __init__(self, sleep) -> None:
        self._sleep = sleep
        self._virtual = VirtualClock()

    def now(self) -> float:
        return self._virtual.now()

    def sleep(self, seconds: float) -> None:
        self._sleep(seconds)
        self._virtual.sleep(seconds)


_current: Clock = SystemClock()


def current() -> Clock:
    return _current


@contextlib.contextmanager
def use(clock: Clock) -> Iterator[Clock]:
    """Make ``clock`` the one new ``AwsClient`` objects take by default, for a while."""
    global _current
    previous, _current = _current, clock
    try:
        yield clock
    finally:
        _current = previous

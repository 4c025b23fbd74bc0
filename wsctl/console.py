"""The two terminals wsctl writes to. Everything meant for people goes through rich.

stdout carries results (and nothing but JSON under ``--json``); stderr carries progress,
warnings and errors. Both resolve ``sys.stdout``/``sys.stderr`` when they write, so tests
that redirect those streams capture everything without patching.

``out`` and ``err`` are made on first use (module ``__getattr__``): importing rich costs
startup time, and `wsctl send` prints its frames with ``write_line`` instead.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console


class OutputClosed(Exception):
    """Whoever read our output went away (``wsctl ... | head -1``): stop quietly, as Unix
    tools do. The CLI boundary turns it into exit 0."""


def silence_closed_output() -> None:
    """Point stdout at /dev/null when its reader is gone, so the interpreter's final flush
    does not fail again (Python's advice, in the signal module's note on SIGPIPE)."""
    try:
        sys.stdout.flush()
    except OSError:
        _to_devnull(sys.stdout)
    except (AttributeError, ValueError):
        pass


def _to_devnull(stream: Any) -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


@functools.cache
def _console_class() -> type[Console]:
    from rich.console import Console

    class WsctlConsole(Console):
        """A rich console that reports a closed pipe as ``OutputClosed`` instead of rich's
        ``SystemExit(1)`` (which, raised inside an asyncio task, ends in a traceback)."""

        def on_broken_pipe(self) -> None:
            self.quiet = True
            _to_devnull(self.file)
            raise OutputClosed

    return WsctlConsole


def make_console(**options: Any) -> Console:
    """A rich console with wsctl's handling of a closed pipe (and NO_COLOR honoured)."""
    options.setdefault("highlight", False)
    options.setdefault("soft_wrap", True)
    options["no_color"] = options.get("no_color") or no_color()
    return _console_class()(**options)


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


_consoles: dict[str, Console] = {}


def __getattr__(name: str) -> Console:
    if name not in ("out", "err"):
        raise AttributeError(name)
    if name not in _consoles:
        _consoles[name] = make_console(stderr=name == "err")
    return _consoles[name]


def write_line(text: str, stream: TextIO | None = None) -> None:
    """One line of plain text on stdout (or ``stream``), flushed, for output that needs no
    rich: a closed pipe raises ``OutputClosed``, as the rich consoles do."""
    stream = stream or sys.stdout
    try:
        stream.write(text + "\n")
        stream.flush()
    except BrokenPipeError:
        _to_devnull(stream)
        raise OutputClosed from None

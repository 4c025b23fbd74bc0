"""The two terminals wsctl writes to. Everything meant for people goes through rich.

stdout carries results (and nothing but JSON under ``--json``); stderr carries progress,
warnings and errors. Both resolve ``sys.stdout``/``sys.stderr`` when they write, so tests
that redirect those streams capture everything without patching.
"""

from __future__ import annotations

import contextlib
import os
import sys

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


def _to_devnull(stream) -> None:
    with contextlib.suppress(AttributeError, OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, stream.fileno())
        finally:
            os.close(devnull)


class WsctlConsole(Console):
    """A rich console that reports a closed pipe as ``OutputClosed`` instead of rich's
    ``SystemExit(1)`` (which, raised inside an asyncio task, ends in a traceback)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        _to_devnull(self.file)
        raise OutputClosed


def no_color() -> bool:
    return bool(os.environ.get("NO_COLOR"))


out = WsctlConsole(highlight=False, no_color=no_color(), soft_wrap=True)
err = WsctlConsole(stderr=True, highlight=False, no_color=no_color(), soft_wrap=True)

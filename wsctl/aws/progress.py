"""Live progress on the terminal: a spinner while a step runs, then one line per resource."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.status import Status

from wsctl.aws.planner import Action

_STYLES = {
    "created": "green",
    "updated": "yellow",
    "deleted": "red",
    "already gone": "dim",
    "unchanged": "dim",
}


def describe(action: Action, outcome: str, seconds: float) -> str:
    """``created    Lambda function wsctl-dev-connect  (1.2 s)``, as plain text."""
    changes = f": {', '.join(action.changes)}" if action.changes and outcome == "updated" else ""
    return f"{outcome:<12} {action.label}{changes}  ({seconds:.1f} s)"


class RichReporter:
    """Reports to ``console`` (stderr): the spinner only when it is a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._status: Status | None = None

    def begin(self, action: Action) -> None:
        if action.verb == "unchanged" or not self.console.is_terminal:
            return
        verb = {"create": "Creating", "update": "Updating", "delete": "Deleting"}[action.verb]
        self._status = self.console.status(escape(f"{verb} {action.label}..."))
        self._status.start()

    def end(self, action: Action, outcome: str, seconds: float) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        style = _STYLES.get(outcome, "")
        line = escape(describe(action, outcome, seconds))
        self.console.print(f"  [{style}]{line}[/]" if style else f"  {line}", highlight=False)

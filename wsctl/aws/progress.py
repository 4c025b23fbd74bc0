"""Progress on the terminal while steps run concurrently: one live line per resource that
changes, in the plan's (stable) order; without a terminal, one line per step as it ends.
Unchanged resources get no line: the command summarises them."""

from __future__ import annotations

import threading
from collections import Counter

from rich.console import Console, Group
from rich.live import Live
from rich.markup import escape
from rich.spinner import Spinner
from rich.text import Text

from wsctl.aws.planner import KIND_LABELS, Action

_STYLES = {
    "created": "green",
    "updated": "yellow",
    "deleted": "red",
    "already gone": "dim",
}
_DOING = {"create": "creating", "update": "updating", "delete": "deleting"}


def describe(action: Action, outcome: str, seconds: float) -> str:
    """``created      Lambda function wsctl-dev-connect  (1.2 s)``, as plain text."""
    changes = f": {', '.join(action.changes)}" if action.changes and outcome == "updated" else ""
    return f"{outcome:<12} {action.label}{changes}  ({seconds:.1f} s)"


def unchanged_summary(actions: list[Action]) -> str:
    """``table, API, 4 roles, ...``: what did not change, by kind, in the plan's order."""
    counts = Counter(action.kind for action in actions if action.verb == "unchanged")
    parts = []
    for kind in dict.fromkeys(action.kind for action in actions):
        if counts[kind]:
            label = KIND_LABELS[kind]
            parts.append(label if counts[kind] == 1 else f"{counts[kind]} {_plural(label)}")
    return ", ".join(parts)


def _plural(label: str) -> str:
    return label[:-1] + "ies" if label.endswith("y") else label + "s"


class RichReporter:
    """Reports to ``console`` (stderr); live lines only when it is a terminal."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._lock = threading.Lock()
        self._lines: dict[int, Spinner | Text] = {}
        self._index: dict[int, int] = {}  # id(action) -> line
        self._live: Live | None = None

    def plan(self, actions: list[Action]) -> None:
        working = [action for action in actions if action.verb != "unchanged"]
        if not working or not self.console.is_terminal:
            return
        for line, action in enumerate(working):
            self._index[id(action)] = line
            self._lines[line] = Text(f"  waiting      {action.label}", style="dim")
        self._live = Live(self._render(), console=self.console, refresh_per_second=8)
        self._live.start()

    def begin(self, action: Action) -> None:
        if self._live is None or action.verb == "unchanged":
            return
        with self._lock:
            text = f"{_DOING[action.verb]:<12} {action.label}..."
            self._lines[self._index[id(action)]] = Spinner("dots", text=Text(text))
            self._live.update(self._render())

    def end(self, action: Action, outcome: str, seconds: float) -> None:
        if action.verb == "unchanged":
            return
        style = _STYLES.get(outcome, "")
        line = describe(action, outcome, seconds)
        with self._lock:
            if self._live is None:
                markup = escape(line)
                self.console.print(
                    f"  [{style}]{markup}[/]" if style else f"  {markup}", highlight=False
                )
                return
            self._lines[self._index[id(action)]] = Text(f"  {line}", style=style)
            self._live.update(self._render())
            if all(
                isinstance(item, Text) and not item.plain.startswith("  waiting")
                for item in self._lines.values()
            ):
                self.stop()

    def stop(self) -> None:
        """Leave the last view on the terminal (also after a failure)."""
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _render(self) -> Group:
        return Group(*(self._lines[line] for line in sorted(self._lines)))

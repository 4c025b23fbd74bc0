"""Progress while steps run at once: one live line per changing resource in the plan's order,
and a no-op `up` that summarises what did not change instead of listing it."""

from __future__ import annotations

import io
import random
import threading

from rich.console import Console

from wsctl.aws.planner import Action
from wsctl.aws.progress import RichReporter, unchanged_summary

ACTIONS = [
    Action("unchanged", "table", "t", "demo-test-connections"),
    Action("create", "role", "chat", "demo-test-chat"),
    Action("create", "role", "connect", "demo-test-connect"),
    Action("update", "function", "chat", "demo-test-chat", ("code",)),
    Action("create", "route", "say", "say"),
]


def test_live_lines_follow_the_plan_whatever_order_steps_end_in():
    """Steps ending in a random order from several threads: the final view has one line per
    changing resource, in the plan's order, and none for the unchanged table."""
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100, color_system=None)
    reporter = RichReporter(console)
    reporter.plan(ACTIONS)
    working = [a for a in ACTIONS if a.verb != "unchanged"]
    order = random.Random(7).sample(working, len(working))

    def run(action):
        reporter.begin(action)
        reporter.end(action, {"create": "created", "update": "updated"}[action.verb], 0.1)

    threads = [threading.Thread(target=run, args=(action,)) for action in order]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reporter.stop()
    final = buffer.getvalue().split("\x1b[2K")[-len(working) :]
    text = "".join(final)
    positions = [text.index(a.label) for a in working]
    assert positions == sorted(positions)
    assert "demo-test-connections" not in buffer.getvalue()


def test_without_a_terminal_each_step_is_one_line_and_unchanged_ones_none():
    """Piped output: one plain line per changing step as it ends; nothing for unchanged."""
    buffer = io.StringIO()
    reporter = RichReporter(Console(file=buffer, force_terminal=False, width=100))
    reporter.plan(ACTIONS)
    for action in ACTIONS:
        reporter.begin(action)
        outcome = {"create": "created", "update": "updated", "unchanged": "unchanged"}[action.verb]
        reporter.end(action, outcome, 0.2)
    lines = buffer.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[2].split() == [
        "updated",
        "Lambda",
        "function",
        "demo-test-chat:",
        "code",
        "(0.2",
        "s)",
    ]


def test_unchanged_summary_counts_by_kind_in_plan_order():
    """What did not change, by kind: singular for one, a count and plural for more."""
    actions = [
        Action("unchanged", "table", "t", "t"),
        Action("unchanged", "role", "a", "a"),
        Action("unchanged", "role", "b", "b"),
        Action("create", "route", "r", "r"),
        Action("unchanged", "permission", "a", "a"),
    ]
    assert unchanged_summary(actions) == "DynamoDB table, 2 IAM roles, invoke permission"


def test_a_no_op_up_summarises_instead_of_listing(cli, service, aws):
    """The second `up`: no per-resource line, one summary of what did not change."""
    config = ("--config", str(service.config))
    assert cli("up", *config).exit_code == 0
    second = cli("up", *config)
    assert second.exit_code == 0
    assert "unchanged " not in second.stderr.replace("unchanged (", "")
    (done,) = [line for line in second.stderr.splitlines() if line.startswith("Done in")]
    assert "0 changed" in done
    assert "(DynamoDB table, WebSocket API, 2 IAM roles, 2 IAM inline policies" in done

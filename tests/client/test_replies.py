"""The service's replies, understood and presented."""

import datetime as dt

from rich.console import Console

from wsctl.client import replies

LISTING = {
    "type": "connections",
    "count": 2,
    "connections": [
        {"connectionId": "B=", "connectedAt": 2_000, "sourceIp": "10.0.0.2", "userAgent": "b"},
        {"connectionId": "A=", "connectedAt": 1_000, "sourceIp": "10.0.0.1", "userAgent": "a\x1b"},
    ],
}


def local_date(epoch_seconds: float) -> str:
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).astimezone().strftime("%Y-%m-%d")


def test_error_frames_and_aws_internal_errors_are_problems():
    """An error frame, or API Gateway's untyped internal error, means the request failed."""
    error = {"type": "error", "error": "not_found", "message": "No connection x."}
    assert replies.reply_problem(error) == "the service answered not_found: No connection x."
    aws = {"message": "Internal server error", "requestId": "r-1"}
    assert replies.reply_problem(aws) == ("the service failed: Internal server error (request r-1)")
    assert replies.reply_problem({"type": "ack", "delivered": 1}) is None


def test_ack_summary_counts():
    """The broadcast ack reads delivered, gone and failed."""
    ack = {"type": "ack", "action": "broadcast", "delivered": 1, "gone": 2, "failed": 3}
    assert replies.ack_summary(ack) == "Broadcast delivered to 1 connection (gone 2, failed 3)."
    assert replies.ack_counts(ack) == {"delivered": 1, "gone": 2, "failed": 3}


def test_connections_facts_mark_you_and_sort_oldest_first():
    """--json lists connections oldest first with a boolean for your own."""
    facts = replies.connections_facts(LISTING, "B=")
    assert facts["you"] == "B=" and facts["count"] == 2
    assert [(c["connectionId"], c["you"]) for c in facts["connections"]] == [
        ("A=", False),
        ("B=", True),
    ]


def test_connections_table_shows_each_column_and_marks_you():
    """The table has id, connected since, source IP and user agent; * marks yours."""
    console = Console(width=200, record=True, no_color=True)
    now = dt.datetime.fromtimestamp(61.5, dt.UTC)
    console.print(replies.connections_table(LISTING, "B=", now))
    text = console.export_text()
    row_b = next(line for line in text.splitlines() if "B=" in line)
    row_a = next(line for line in text.splitlines() if "A=" in line)
    assert "*" in row_b and "*" not in row_a
    assert "10.0.0.1" in row_a and "a\\x1b" in row_a
    assert "(1 min ago)" in row_a and "(59 s ago)" in row_b
    assert local_date(1) not in text, "the date is left out on the same day"


def test_connected_since_shows_the_date_on_another_day():
    """A connection from an earlier day shows its date as well as its time."""
    console = Console(width=200, record=True, no_color=True)
    now = dt.datetime.fromtimestamp(3 * 86400, dt.UTC)
    console.print(replies.connections_table(LISTING, None, now))
    assert local_date(1) in console.export_text()

"""The service's replies, understood and shown: acks, connection listings, errors. Pure."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from wsctl.client.escaping import escape

if TYPE_CHECKING:
    from rich.table import Table

# What API Gateway sends when an integration fails; it carries no "type".
_AWS_INTERNAL_ERROR = "Internal server error"


def reply_problem(frame: dict[str, Any]) -> str | None:
    """Why a reply means the request failed, or None when it does not."""
    if frame.get("type") == "error":
        code = frame.get("error", "error")
        message = frame.get("message", "")
        return escape(f"the service answered {code}: {message}".rstrip(": "))
    if frame.get("message") == _AWS_INTERNAL_ERROR and "type" not in frame:
        request = frame.get("requestId")
        suffix = f" (request {request})" if request else ""
        return escape(f"the service failed: {_AWS_INTERNAL_ERROR}{suffix}")
    return None


def _count(ack: dict[str, Any], key: str) -> int:
    value = ack.get(key, 0)
    return value if isinstance(value, int) else 0


def ack_counts(ack: dict[str, Any]) -> dict[str, int]:
    return {key: _count(ack, key) for key in ("delivered", "gone", "failed")}


def sender_included(seen: list[dict[str, Any]], message: Any) -> bool:
    """Whether our own broadcast came back to us before its ack (the bundled service fans out
    to every connection, the sender's included)."""
    return any(
        frame.get("type") == "broadcast" and frame.get("message") == message for frame in seen
    )


def ack_facts(ack: dict[str, Any], sender_included: bool) -> dict[str, Any]:
    """What ``broadcast --json`` prints: the ack's counts and whether one delivery was ours."""
    return {**ack_counts(ack), "senderIncluded": sender_included}


def _connections(count: int) -> str:
    return f"{count} connection{'' if count == 1 else 's'}"


def ack_summary(ack: dict[str, Any], sender_included: bool = False) -> str:
    """``Broadcast delivered to 3 connections: 2 others and this sender (gone 1, failed 0).``"""
    counts = ack_counts(ack)
    delivered = counts["delivered"]
    whom = ""
    if sender_included and delivered >= 1:
        others = delivered - 1
        whom = f": {others} other{'' if others == 1 else 's'} and this sender"
    return (
        f"Broadcast delivered to {_connections(delivered)}{whom} "
        f"(gone {counts['gone']}, failed {counts['failed']})."
    )


def _connected_since(epoch_ms: Any, now: dt.datetime) -> str:
    if not isinstance(epoch_ms, int | float):
        return "?"
    at = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    age = max(0, int((now - at).total_seconds()))
    if age < 60:
        ago = f"{age} s ago"
    elif age < 3600:
        ago = f"{age // 60} min ago"
    else:
        ago = f"{age // 3600} h {age % 3600 // 60} min ago"
    local = at.astimezone()
    # Connections live two hours at most on API Gateway: the date is news only on another day.
    shown = (
        f"{local:%H:%M:%S}"
        if local.date() == now.astimezone().date()
        else f"{local:%Y-%m-%d %H:%M:%S}"
    )
    return f"{shown} ({ago})"


def listed(listing: dict[str, Any]) -> list[dict[str, Any]]:
    """The connections of a ``connections`` frame, oldest first, malformed entries dropped."""
    items = [item for item in listing.get("connections") or [] if isinstance(item, dict)]
    return sorted(
        items, key=lambda item: (item.get("connectedAt") or 0, str(item.get("connectionId")))
    )


def connections_facts(listing: dict[str, Any], me: str | None) -> dict[str, Any]:
    """What ``connections --json`` prints: the listing, with your own connection marked."""
    items = [{**item, "you": item.get("connectionId") == me} for item in listed(listing)]
    return {"count": listing.get("count", len(items)), "you": me, "connections": items}


def connections_summary(listing: dict[str, Any], me: str | None) -> str:
    """``3 connections: this one (*) and 2 others``: whether the caller is among them."""
    items = listed(listing)
    count = listing.get("count", len(items))
    count = count if isinstance(count, int) else len(items)
    if me is not None and any(item.get("connectionId") == me for item in items):
        others = count - 1
        return f"{_connections(count)}: this one (*) and {others} other{'' if others == 1 else 's'}"
    return _connections(count)


def connections_table(listing: dict[str, Any], me: str | None, now: dt.datetime) -> Table:
    from rich.table import Table

    """The live connections as a table; yours is marked with ``*``."""
    table = Table(title=connections_summary(listing, me), title_justify="left")
    for column in ("", "id", "connected since", "source IP"):
        table.add_column(column, no_wrap=True)
    table.add_column("user agent", overflow="fold")
    for item in listed(listing):
        table.add_row(
            "*" if item.get("connectionId") == me else "",
            escape(str(item.get("connectionId", "?"))),
            _connected_since(item.get("connectedAt"), now),
            escape(str(item.get("sourceIp") or "")),
            escape(str(item.get("userAgent") or "")),
        )
    return table

"""The connections table: one DynamoDB item per open connection, keyed by ``connectionId``.

Items carry ``connectedAt`` (epoch ms), ``sourceIp``, ``userAgent`` and ``ttl`` (epoch
seconds). API Gateway closes a connection after 2 hours, so ``ttl`` is that plus a margin:
DynamoDB's TTL then removes records whose ``$disconnect`` never ran. TTL deletion is lazy
(it can lag by days), so readers skip expired items themselves (``live``).

Uses the low-level client, which is thread-safe (boto3 resources are not): fan-out workers
delete stale records concurrently.

The service keeps a few records of its own in the table (a segmented broadcast's counters,
``segments.py``), keyed with ``RESERVED_PREFIX``: no API Gateway connection id contains ``#``,
and every reader here skips them, so they are never listed, counted or posted to.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

CONNECTION_LIFETIME_SECONDS = 2 * 60 * 60
TTL_MARGIN_SECONDS = 5 * 60
# Keys of the service's own records; wsctl's status counts skip them too (wsctl/naming.py).
RESERVED_PREFIX = "wsctl#"


def is_connection_key(connection_id: str) -> bool:
    """Whether a key names a connection rather than one of the service's own records."""
    return not connection_id.startswith(RESERVED_PREFIX)


def expiry_for(connected_at_ms: int) -> int:
    """The ``ttl`` of a connection opened at ``connected_at_ms``: its latest possible end."""
    return connected_at_ms // 1000 + CONNECTION_LIFETIME_SECONDS + TTL_MARGIN_SECONDS


def has_expired(ttl: int | None, now_seconds: float) -> bool:
    """Whether a record with this ``ttl`` outlived its connection (no ttl: never)."""
    return ttl is not None and ttl <= now_seconds


@dataclass(frozen=True)
class ConnectionRecord:
    connection_id: str
    connected_at: int
    source_ip: str | None = None
    user_agent: str | None = None
    ttl: int | None = None

    def is_expired(self, now_seconds: float) -> bool:
        return has_expired(self.ttl, now_seconds)

    def to_item(self) -> dict[str, dict[str, str]]:
        item = {
            "connectionId": {"S": self.connection_id},
            "connectedAt": {"N": str(self.connected_at)},
            "ttl": {"N": str(self.ttl if self.ttl is not None else expiry_for(self.connected_at))},
        }
        if self.source_ip is not None:
            item["sourceIp"] = {"S": self.source_ip}
        if self.user_agent is not None:
            item["userAgent"] = {"S": self.user_agent}
        return item

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ConnectionRecord:
        """Tolerant of items written by other code: absent or odd attributes become None/0."""
        return cls(
            connection_id=_string(item, "connectionId") or "",
            connected_at=_number(item, "connectedAt") or 0,
            source_ip=_string(item, "sourceIp"),
            user_agent=_string(item, "userAgent"),
            ttl=_number(item, "ttl"),
        )

    def public(self) -> dict[str, Any]:
        """What clients see in a ``connections`` frame."""
        return {
            "connectionId": self.connection_id,
            "connectedAt": self.connected_at,
            "sourceIp": self.source_ip,
            "userAgent": self.user_agent,
        }


def _string(item: dict[str, Any], name: str) -> str | None:
    value = item.get(name, {}).get("S")
    return value if isinstance(value, str) else None


def _number(item: dict[str, Any], name: str) -> int | None:
    try:
        return int(Decimal(item[name]["N"]))
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return None


def live(records: Iterable[ConnectionRecord], now_seconds: float) -> Iterator[ConnectionRecord]:
    """The records whose ``ttl`` has not passed (DynamoDB may not have deleted the rest yet)."""
    return (record for record in records if not record.is_expired(now_seconds))


# Only what fan-out needs: the whole item would cost transfer for nothing.
FAN_OUT_ATTRIBUTES = ("connectionId", "ttl")


class ConnectionStore:
    """Put, get, delete and scan connection records in one table."""

    def __init__(self, client: Any, table: str) -> None:
        self._client = client
        self.table = table

    def put(self, record: ConnectionRecord) -> None:
        self._client.put_item(TableName=self.table, Item=record.to_item())

    def delete(self, connection_id: str) -> None:
        self._client.delete_item(TableName=self.table, Key={"connectionId": {"S": connection_id}})

    def get(self, connection_id: str) -> ConnectionRecord | None:
        response = self._client.get_item(
            TableName=self.table, Key={"connectionId": {"S": connection_id}}
        )
        item = response.get("Item")
        return ConnectionRecord.from_item(item) if item else None

    def scan(self) -> Iterator[ConnectionRecord]:
        """Every connection's record, page after page (DynamoDB stops each page at 1 MB)."""
        for item in self._items():
            record = ConnectionRecord.from_item(item)
            if is_connection_key(record.connection_id):
                yield record

    def live_ids(self, now_seconds: float) -> Iterator[str]:
        """The ids of the records whose ``ttl`` has not passed: all a fan-out needs.

        Reads two attributes per item and builds no records: on a large table this loop is
        most of a broadcast's own CPU time.
        """
        for item in self._items(FAN_OUT_ATTRIBUTES):
            connection_id = live_id(item, now_seconds)
            if connection_id is not None:
                yield connection_id

    def count_live(
        self,
        now_seconds: float,
        *,
        segment: tuple[int, int] | None = None,
        start_key: dict[str, Any] | None = None,
    ) -> int:
        """How many live connections the table (or ``segment``, after ``start_key``) holds,
        counted by DynamoDB (``Select=COUNT``): no item is read back."""
        count = 0
        while True:
            page = self.page(
                segment=segment,
                start_key=start_key,
                Select="COUNT",
                FilterExpression="NOT begins_with(#id, :reserved) "
                "AND (attribute_not_exists(#ttl) OR #ttl > :now)",
                ExpressionAttributeNames={"#id": "connectionId", "#ttl": "ttl"},
                ExpressionAttributeValues={
                    ":reserved": {"S": RESERVED_PREFIX},
                    ":now": {"N": str(int(now_seconds))},
                },
            )
            count += page.count
            if page.last_key is None:
                return count
            start_key = page.last_key

    def page(
        self,
        attributes: Iterable[str] = (),
        *,
        segment: tuple[int, int] | None = None,
        start_key: dict[str, Any] | None = None,
        **extra: Any,
    ) -> ScanPage:
        """One Scan call: of the whole table, or of ``segment`` = (index, total) of a
        parallel scan, from ``start_key``, reading ``attributes`` (all if none)."""
        request: dict[str, Any] = {"TableName": self.table, **extra}
        names = tuple(attributes)
        if names:
            # "ttl" is a DynamoDB reserved word, so every name goes through a placeholder.
            placeholders = {f"#a{index}": name for index, name in enumerate(names)}
            request["ProjectionExpression"] = ", ".join(placeholders)
            request["ExpressionAttributeNames"] = placeholders
        if segment is not None:
            request["Segment"], request["TotalSegments"] = segment
        if start_key:
            request["ExclusiveStartKey"] = start_key
        response = self._client.scan(**request)
        items = response.get("Items", [])
        return ScanPage(
            items=items,
            count=response.get("Count", len(items)),
            last_key=response.get("LastEvaluatedKey") or None,
        )

    def _items(self, attributes: Iterable[str] = ()) -> Iterator[dict[str, Any]]:
        start_key = None
        while True:
            page = self.page(attributes, start_key=start_key)
            yield from page.items
            if page.last_key is None:
                return
            start_key = page.last_key


@dataclass(frozen=True)
class ScanPage:
    items: list[dict[str, Any]]
    count: int
    last_key: dict[str, Any] | None


def live_id(item: dict[str, Any], now_seconds: float) -> str | None:
    """The connection id of a scanned item, unless it expired or is one of the service's own."""
    connection_id = _string(item, "connectionId")
    if not connection_id or not is_connection_key(connection_id):
        return None
    return None if has_expired(_number(item, "ttl"), now_seconds) else connection_id

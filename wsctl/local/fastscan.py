"""A fast lane for DynamoDB Scan in the embedded moto.

moto answers a Scan by running its generic response serializer over every item, then botocore
parses that JSON back: about 250 ms for 500 connection records on this machine, which made a
broadcast's scan cost more than all its posts. This ``before-call`` hook answers the plain
scans a connections table sees (whole table, optionally projected through ``#name``
placeholders, one page) straight from moto's own table, as botocore would have parsed them.
Anything it does not handle exactly (filters, limits, pagination, reserved words, consumed
capacity, errors) returns None and goes through moto as before, so answers never differ.
"""

from __future__ import annotations

import base64
import json
import os
import re
from collections.abc import Callable
from typing import Any

from wsctl.local.answers import answer

_PAGE_BYTES = 1024 * 1024
_HANDLED_KEYS = {"TableName", "ProjectionExpression", "ExpressionAttributeNames", "ConsistentRead"}
_PLACEHOLDER = re.compile(r"^#[A-Za-z0-9_]+$")
_SCALARS = frozenset(("S", "N"))


def _parsed(value: Any) -> tuple[dict[str, Any], int]:
    """One moto DynamoType as botocore's parser returns it (binary as bytes), and its size.

    The size follows DynamoDB's rules closely enough to keep a page under 1 MB: UTF-8 bytes
    of strings, digits of numbers, bytes of binaries, plus a little per nested value.
    """
    kind, raw = value.type, value.value
    if kind == "M":
        pairs = {key: _parsed(item) for key, item in raw.items()}
        size = 3 + sum(len(key.encode()) + 1 + item[1] for key, item in pairs.items())
        return {"M": {key: item[0] for key, item in pairs.items()}}, size
    if kind == "L":
        items = [_parsed(item) for item in raw]
        return {"L": [item[0] for item in items]}, 3 + sum(1 + item[1] for item in items)
    if kind in ("B", "BS"):
        blobs = [raw] if kind == "B" else list(raw)
        decoded = [v if isinstance(v, bytes) else base64.b64decode(v) for v in blobs]
        size = sum(len(v) for v in decoded)
        return ({"B": decoded[0]} if kind == "B" else {"BS": decoded}), size
    if kind in ("SS", "NS"):
        return {kind: list(raw)}, sum(len(v.encode()) for v in raw)
    if isinstance(raw, str):
        return {kind: raw}, len(raw.encode())
    return {kind: raw}, 1


def _key(value: Any) -> Any:
    """A key attribute's value as moto orders it (numbers numerically), cheaply."""
    if value.type == "N":
        number = value.value
        return int(number) if number.lstrip("-").isdigit() else float(number)
    return value.value


def _in_key_order(table: Any) -> list[Any]:
    """The table's items in the order moto's ``all_items`` gives (sorted by key).

    ``all_items`` compares moto's DynamoType objects, which costs more than the rest of the
    scan; sorting on plain values gives the same order.
    """
    if table.range_key_attr:
        items = [item for by_range in table.items.values() for item in by_range.values()]
        return sorted(items, key=lambda item: (_key(item.hash_key), _key(item.range_key)))
    return sorted(table.items.values(), key=lambda item: _key(item.hash_key))


def _projection(body: dict[str, Any]) -> list[str] | bool | None:
    """Attribute names to keep; None for all; False when this lane cannot answer."""
    names = body.get("ExpressionAttributeNames") or {}
    expression = body.get("ProjectionExpression")
    if expression is None:
        return False if names else None
    tokens = [token.strip() for token in expression.split(",")]
    if not all(_PLACEHOLDER.match(token) and token in names for token in tokens):
        return False  # plain names may be reserved words: let moto judge them
    if set(names) != set(tokens):
        return False  # unused names are a ValidationException
    return [names[token] for token in tokens]


def make_scan_hook(lock: Any, active: Callable[[], bool]) -> Callable[..., Any]:
    """The before-call.dynamodb.Scan handler, serialized with moto's other calls by ``lock``."""

    def fast_scan(model: Any, params: dict[str, Any], context: dict[str, Any], **_: Any) -> Any:
        if not active():
            return None
        try:
            body = json.loads(params.get("body") or b"{}")
        except ValueError:
            return None
        if not isinstance(body, dict) or set(body) - _HANDLED_KEYS:
            return None
        keep = _projection(body)
        if keep is False:
            return None
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.dynamodb.models import dynamodb_backends

        account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
        region = context.get("client_region")
        with lock:
            try:
                table = dynamodb_backends[account][region].tables.get(body.get("TableName"))
            except KeyError:
                return None
            if table is None:
                return None
            records = _in_key_order(table)
            items = []
            page = 0
            for record in records:
                item = {}
                for name, value in record.attrs.items():
                    # Every attribute counts toward the page, projected or not.
                    kind, raw = value.type, value.value
                    if kind not in _SCALARS:
                        parsed, size = _parsed(value)
                        page += len(name) + size
                        if keep is None or name in keep:
                            item[name] = parsed
                        continue
                    # Strings and numbers, nearly every attribute: inlined, twice as fast.
                    page += len(name) + (len(raw) if raw.isascii() else len(raw.encode()))
                    if keep is None or name in keep:
                        item[name] = {kind: raw}
                items.append(item)
            if page > _PAGE_BYTES:
                return None  # more than one page: moto paginates
        if not all(items) and keep is not None:
            return None  # items without the projected attributes: moto's answer decides
        parsed = {"Items": items, "Count": len(items), "ScannedCount": len(records)}
        return answer(params.get("url", ""), 200, parsed)

    return fast_scan

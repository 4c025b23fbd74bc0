"""The connections table: records in and out of DynamoDB (moto), pagination, expiry."""

from __future__ import annotations

from connection_store import (
    ConnectionRecord,
    ConnectionStore,
    expiry_for,
    live,
)
from service_fakes import NOW_MS, TABLE, seed


def test_expiry_is_two_hours_and_a_margin_after_connecting():
    """ttl = connectedAt (s) + 2 h API Gateway lifetime + 5 min margin."""
    assert expiry_for(1_700_000_000_123) == 1_700_000_000 + 7200 + 300


def test_put_then_get_round_trips_every_attribute(aws):
    """A stored record reads back equal, with its ttl written."""
    store = ConnectionStore(aws, TABLE)
    record = ConnectionRecord("abc=", NOW_MS, "192.0.2.1", "curl/8", expiry_for(NOW_MS))
    store.put(record)
    assert store.get("abc=") == record
    item = aws.get_item(TableName=TABLE, Key={"connectionId": {"S": "abc="}})["Item"]
    assert item["ttl"] == {"N": str(expiry_for(NOW_MS))}


def test_put_computes_ttl_when_none_is_given(aws):
    """A record without ttl is stored with the one its connectedAt implies."""
    store = ConnectionStore(aws, TABLE)
    store.put(ConnectionRecord("abc=", NOW_MS))
    assert store.get("abc=").ttl == expiry_for(NOW_MS)


def test_get_of_an_unknown_id_is_none_and_delete_removes(aws):
    """Unknown ids read as None; delete removes the record and tolerates absence."""
    store = ConnectionStore(aws, TABLE)
    assert store.get("nope=") is None
    store.put(ConnectionRecord("abc=", NOW_MS))
    store.delete("abc=")
    store.delete("abc=")
    assert store.get("abc=") is None


def test_scan_follows_pagination_past_the_1_mb_page(aws):
    """With records totalling over 1 MB, scan (and live_ids) return every one across pages."""
    ids = {f"conn-{i:04}=" for i in range(1500)}
    seed(aws, ids, user_agent="u" * 1000)
    pages = []

    def count_page(**_):
        pages.append(1)

    aws.meta.events.register("after-call.dynamodb.Scan", count_page)
    try:
        records = list(ConnectionStore(aws, TABLE).scan())
    finally:
        aws.meta.events.unregister("after-call.dynamodb.Scan", count_page)
    assert len(pages) >= 2
    assert len(records) == len(ids)
    assert {record.connection_id for record in records} == ids
    assert set(ConnectionStore(aws, TABLE).live_ids(NOW_MS / 1000)) == ids


def test_live_ids_reads_two_attributes_and_skips_the_expired(aws):
    """Fan-out's scan asks for the id and ttl only, and yields the ids still live."""
    seed(aws, ["live="])
    seed(aws, ["expired="], ttl=NOW_MS // 1000 - 1)
    requests = []

    def record(params, **_):
        requests.append(params)

    aws.meta.events.register("provide-client-params.dynamodb.Scan", record)
    try:
        ids = list(ConnectionStore(aws, TABLE).live_ids(NOW_MS / 1000))
    finally:
        aws.meta.events.unregister("provide-client-params.dynamodb.Scan", record)
    assert ids == ["live="]
    (request,) = requests
    projected = request["ExpressionAttributeNames"].values()
    assert sorted(projected) == ["connectionId", "ttl"]


def test_live_skips_records_whose_ttl_has_passed():
    """Expired records are skipped; records without ttl are kept."""
    records = [
        ConnectionRecord("old=", 0, ttl=999),
        ConnectionRecord("edge=", 0, ttl=1000),
        ConnectionRecord("new=", 0, ttl=1001),
        ConnectionRecord("none=", 0, ttl=None),
    ]
    assert [r.connection_id for r in live(records, 1000)] == ["new=", "none="]


def test_items_written_by_other_code_are_read_tolerantly():
    """Missing or malformed attributes become None or 0 instead of raising."""
    record = ConnectionRecord.from_item(
        {"connectionId": {"S": "abc="}, "connectedAt": {"S": "soon"}, "ttl": {"N": "NaN"}}
    )
    assert record == ConnectionRecord("abc=", 0, None, None, None)


def test_public_view_is_what_the_connections_frame_lists():
    """Clients see id, connectedAt, sourceIp and userAgent, never the ttl."""
    record = ConnectionRecord("abc=", 5, "192.0.2.1", "curl/8", 99)
    assert record.public() == {
        "connectionId": "abc=",
        "connectedAt": 5,
        "sourceIp": "192.0.2.1",
        "userAgent": "curl/8",
    }

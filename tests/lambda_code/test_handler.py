"""The four entry points against moto's DynamoDB and a fake management API: every route,
every error code, and broadcast's fan-out (pagination, 410, 403, 429, expiry, size)."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from urllib.parse import unquote

import aws_clients
import fanout
import handler
import messaging
import pytest
from connection_store import expiry_for
from messaging import ACTIONS, MAX_FRAME_BYTES
from service_fakes import (
    DOMAIN,
    NOW_MS,
    TABLE,
    binary_event,
    connect_event,
    disconnect_event,
    message_event,
    seed,
    stored_ids,
)

SENDER = "sender-AAAAAAA="
TOKEN = "s3cret-token-value"


def _item(aws, connection_id):
    return aws.get_item(TableName=TABLE, Key={"connectionId": {"S": connection_id}}).get("Item")


def _last(gateway, connection_id):
    frames = gateway.received(connection_id)
    assert frames, f"{connection_id} received nothing"
    return frames[-1]


def _error(gateway, connection_id=SENDER):
    frame = _last(gateway, connection_id)
    assert frame["type"] == "error"
    assert frame["actions"] == list(ACTIONS)
    return frame["error"]


# $connect --------------------------------------------------------------------------------


def test_connect_stores_the_record_with_identity_and_ttl(aws):
    """$connect writes connectedAt, sourceIp, userAgent and ttl, and accepts (200)."""
    event = connect_event("abc=", connected_at=NOW_MS, source_ip="192.0.2.1", user_agent="ua/1")
    assert handler.connect(event, None) == {"statusCode": 200}
    assert _item(aws, "abc=") == {
        "connectionId": {"S": "abc="},
        "connectedAt": {"N": str(NOW_MS)},
        "sourceIp": {"S": "192.0.2.1"},
        "userAgent": {"S": "ua/1"},
        "ttl": {"N": str(expiry_for(NOW_MS))},
    }


@pytest.fixture
def token_required(monkeypatch):
    monkeypatch.setenv("WSCTL_TOKEN_SHA256", hashlib.sha256(TOKEN.encode()).hexdigest())


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Authorization": f"Bearer {TOKEN}"}, None),
        ({"authorization": f"bearer {TOKEN}"}, None),
        (None, {"token": TOKEN}),
        ({"Authorization": "Bearer wrong"}, {"token": TOKEN}),
    ],
)
def test_connect_accepts_the_token_by_header_or_query(aws, token_required, headers, query):
    """With a token configured, a Bearer header (any case) or ?token= lets the client in."""
    assert handler.connect(connect_event("abc=", headers, query), None) == {"statusCode": 200}
    assert _item(aws, "abc=") is not None


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        (None, None),
        ({"Authorization": "Bearer wrong"}, None),
        ({"Authorization": TOKEN}, None),
        ({"Authorization": f"Basic {TOKEN}"}, None),
        (None, {"token": TOKEN + "x"}),
        (None, {"token": ""}),
    ],
)
def test_connect_refuses_a_missing_or_wrong_token_and_stores_nothing(
    aws, token_required, headers, query, caplog
):
    """Without the right token: 401, no record, and the token is in no log line."""
    caplog.set_level(logging.DEBUG)
    assert handler.connect(connect_event("abc=", headers, query), None) == {"statusCode": 401}
    assert _item(aws, "abc=") is None
    assert "refused" in caplog.text
    assert TOKEN not in caplog.text


def test_accepted_token_is_not_logged_either(aws, token_required, caplog):
    """A successful connect logs the connection, never the token it presented."""
    caplog.set_level(logging.DEBUG)
    handler.connect(connect_event("abc=", {"Authorization": f"Bearer {TOKEN}"}), None)
    assert "abc=" in caplog.text
    assert TOKEN not in caplog.text


def test_connect_refuses_when_the_record_cannot_be_stored(aws, monkeypatch):
    """A connection that could never receive broadcasts is refused (500), not half-open."""
    monkeypatch.setenv("WSCTL_TABLE", "no-such-table")
    assert handler.connect(connect_event("abc="), None) == {"statusCode": 500}


# $disconnect -----------------------------------------------------------------------------


def test_disconnect_deletes_only_its_own_record(aws):
    """$disconnect removes the closing connection's record and leaves the others."""
    seed(aws, ["abc=", "other="])
    assert handler.disconnect(disconnect_event("abc="), None) == {"statusCode": 200}
    assert stored_ids(aws) == {"other="}


def test_disconnect_is_best_effort(aws, monkeypatch):
    """An unknown id, or a table that fails, still answers 200 (ttl and 410 clean up)."""
    assert handler.disconnect(disconnect_event("never-seen="), None) == {"statusCode": 200}
    monkeypatch.setenv("WSCTL_TABLE", "no-such-table")
    assert handler.disconnect(disconnect_event("abc="), None) == {"statusCode": 200}


# whoami, list, send ----------------------------------------------------------------------


def test_whoami_replies_with_the_callers_identity(gateway):
    """whoami answers the sender with its id, connectedAt and sourceIp."""
    event = message_event(SENDER, {"action": "whoami"}, connected_at=123, source_ip="192.0.2.5")
    assert handler.default(event, None) == {"statusCode": 200}
    assert gateway.received(SENDER) == [
        {"type": "whoami", "connectionId": SENDER, "connectedAt": 123, "sourceIp": "192.0.2.5"}
    ]


def test_replies_go_to_the_management_endpoint_named_by_the_event(gateway):
    """The management API is https://{domainName}/{stage}, straight from the event."""
    handler.default(message_event(SENDER, {"action": "whoami"}), None)
    assert {unquote(url) for url in gateway.urls} == {f"https://{DOMAIN}/dev/@connections"}


def test_list_replies_with_live_connections_oldest_first(aws, gateway):
    """list answers with count and records (id, connectedAt, sourceIp, userAgent), no expired."""
    seed(aws, ["b="], connected_at=NOW_MS)
    seed(aws, ["a="], connected_at=NOW_MS - 1000)
    seed(aws, ["expired="], connected_at=NOW_MS, ttl=NOW_MS // 1000 - 1)
    handler.default(message_event(SENDER, {"action": "list"}), None)
    frame = _last(gateway, SENDER)
    assert frame["type"] == "connections"
    assert frame["count"] == 2
    assert [c["connectionId"] for c in frame["connections"]] == ["a=", "b="]
    assert frame["connections"][0] == {
        "connectionId": "a=",
        "connectedAt": NOW_MS - 1000,
        "sourceIp": "198.51.100.9",
        "userAgent": "wsctl-tests/1.0",
    }


def test_send_delivers_to_the_target_and_acks_the_sender(aws, gateway):
    """send posts a message frame to "to" and an ack (delivered 1) to the sender."""
    seed(aws, [SENDER, "target="])
    body = {"action": "send", "to": "target=", "message": {"hello": ["world", 1]}}
    handler.default(message_event(SENDER, body), None)
    (message,) = gateway.received("target=")
    assert message["type"] == "message"
    assert message["from"] == SENDER
    assert message["message"] == {"hello": ["world", 1]}
    assert isinstance(message["at"], int)
    assert gateway.received(SENDER) == [
        {"type": "ack", "action": "send", "delivered": 1, "gone": 0, "failed": 0}
    ]


@pytest.mark.parametrize("target", ["never-seen=", "expired=", "x" * 3000])
def test_send_to_an_unknown_or_expired_id_is_not_found(aws, gateway, target):
    """No record (or an expired one, or an impossible id): not_found, nothing posted to it."""
    seed(aws, ["expired="], ttl=NOW_MS // 1000 - 1)
    handler.default(message_event(SENDER, {"action": "send", "to": target, "message": 1}), None)
    assert _error(gateway) == "not_found"
    assert gateway.attempts.get(target, 0) == 0


def test_send_to_a_closed_connection_reports_gone_and_deletes_its_record(aws, gateway):
    """A 410 from the target: ack gone 1, and the stale record is removed."""
    seed(aws, [SENDER, "stale="])
    gateway.answer("stale=", 410)
    handler.default(message_event(SENDER, {"action": "send", "to": "stale=", "message": 1}), None)
    assert _last(gateway, SENDER) == {
        "type": "ack",
        "action": "send",
        "delivered": 0,
        "gone": 1,
        "failed": 0,
    }
    assert stored_ids(aws) == {SENDER}


def test_send_to_oneself_is_delivered(aws, gateway):
    """The sender may message itself: it gets the message, then the ack."""
    seed(aws, [SENDER])
    handler.default(message_event(SENDER, {"action": "send", "to": SENDER, "message": "me"}), None)
    assert [frame["type"] for frame in gateway.received(SENDER)] == ["message", "ack"]


# $default errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("hello there", "invalid_json"),
        ("[1, 2, 3]", "invalid_json"),
        ('{"action": "dance"}', "unknown_action"),
        ('{"message": "no action"}', "missing_field"),
        ('{"action": "send", "to": "x="}', "missing_field"),
        ('{"action": "broadcast"}', "missing_field"),
    ],
)
def test_bad_frames_get_an_error_frame_with_their_code(gateway, body, code):
    """$default answers every unusable frame with an error frame naming the valid actions."""
    assert handler.default(message_event(SENDER, body), None) == {"statusCode": 200}
    assert _error(gateway) == code
    assert len(gateway.received(SENDER)) == 1


def test_binary_frames_are_read_as_their_text(aws, gateway):
    """A binary frame holding valid JSON is acted on; holding garbage, it is invalid_json."""
    handler.default(binary_event(SENDER, b'{"action": "whoami"}'), None)
    assert _last(gateway, SENDER)["type"] == "whoami"
    handler.default(binary_event(SENDER, b"\x00\xff\xfe"), None)
    assert _error(gateway) == "invalid_json"


def test_a_failing_table_gets_an_internal_error_frame(aws, gateway, monkeypatch):
    """A genuine failure inside the service reaches the sender as `internal`, not a crash."""
    monkeypatch.setenv("WSCTL_TABLE", "no-such-table")
    assert handler.default(message_event(SENDER, {"action": "list"}), None) == {"statusCode": 200}
    assert _error(gateway) == "internal"


def test_a_missing_table_setting_gets_an_internal_error_frame(aws, gateway, monkeypatch):
    """Without WSCTL_TABLE the service cannot work, and says so to the sender."""
    monkeypatch.delenv("WSCTL_TABLE")
    handler.broadcast(message_event(SENDER, {"action": "broadcast", "message": 1}), None)
    assert _error(gateway) == "internal"


def test_an_event_without_a_connection_is_ignored(gateway):
    """No connectionId or domainName: nobody to answer, so 200 and no post."""
    event = message_event(SENDER, {"action": "whoami"})
    del event["requestContext"]["domainName"]
    assert handler.default(event, None) == {"statusCode": 200}
    assert handler.default({}, None) == {"statusCode": 200}
    assert gateway.all_frames() == []


def test_broadcast_function_answers_other_actions_like_default(aws, gateway):
    """A non-broadcast frame reaching the broadcast function is still answered properly."""
    handler.broadcast(message_event(SENDER, {"action": "whoami"}), None)
    assert _last(gateway, SENDER)["type"] == "whoami"


# broadcast -------------------------------------------------------------------------------


def _broadcast(message, sender=SENDER):
    body = {"action": "broadcast", "message": message}
    event = message_event(sender, body, route_key="broadcast")
    assert handler.broadcast(event, None) == {"statusCode": 200}


def _ack(gateway, sender=SENDER):
    frame = _last(gateway, sender)
    assert frame["type"] == "ack"
    assert frame["action"] == "broadcast"
    return frame["delivered"], frame["gone"], frame["failed"]


def test_broadcast_to_no_connections_acks_zero(aws, gateway):
    """With an empty table the sender gets only an ack of 0 delivered."""
    _broadcast("anyone?")
    assert gateway.all_frames() == [
        {"type": "ack", "action": "broadcast", "delivered": 0, "gone": 0, "failed": 0}
    ]


def test_broadcast_to_one_connection_reaches_the_sender_too(aws, gateway):
    """The sender is a recipient: it gets the broadcast frame, then the ack."""
    seed(aws, [SENDER])
    _broadcast({"k": "v"})
    broadcast_frame, ack = gateway.received(SENDER)
    assert broadcast_frame["type"] == "broadcast"
    assert broadcast_frame["from"] == SENDER
    assert broadcast_frame["message"] == {"k": "v"}
    assert abs(broadcast_frame["at"] - NOW_MS) < 600_000
    assert ack == {"type": "ack", "action": "broadcast", "delivered": 1, "gone": 0, "failed": 0}


def test_broadcast_reaches_3000_connections_across_scan_pages(aws, gateway):
    """3,000 records over 1 MB (so several scan pages): every connection gets the frame once."""
    ids = [f"conn-{i:05}=" for i in range(2999)] + [SENDER]
    seed(aws, ids, user_agent="Mozilla/5.0 " + "x" * 500)
    pages = []

    def count_page(**_):
        pages.append(1)

    aws_clients.dynamodb().meta.events.register("after-call.dynamodb.Scan", count_page)
    try:
        _broadcast("to everyone")
    finally:
        aws_clients.dynamodb().meta.events.unregister("after-call.dynamodb.Scan", count_page)
    assert len(pages) >= 2
    assert _ack(gateway) == (3000, 0, 0)
    for connection_id in ids:
        frames = [f for f in gateway.received(connection_id) if f["type"] == "broadcast"]
        assert len(frames) == 1, connection_id
        assert frames[0]["message"] == "to everyone"
    assert gateway.peak_in_flight <= fanout.FAN_OUT_WORKERS


def test_stale_connections_are_counted_gone_and_exactly_they_are_deleted(aws, gateway):
    """3 live (sender included) + 2 closed: 3 delivered, 2 gone, only the 2 stale deleted."""
    live_ids = [SENDER, "live-1=", "live-2="]
    stale_ids = ["stale-1=", "stale-2="]
    seed(aws, live_ids + stale_ids)
    for connection_id in stale_ids:
        gateway.answer(connection_id, 410)
    _broadcast("hi")
    assert _ack(gateway) == (3, 2, 0)
    assert stored_ids(aws) == set(live_ids)
    for connection_id in live_ids:
        assert gateway.received(connection_id)[0]["type"] == "broadcast"


def test_the_senders_record_survives_its_own_410(aws, gateway):
    """Even if the sender's post answers 410, its record is not the broadcast's to delete."""
    seed(aws, [SENDER, "other="])
    gateway.answer(SENDER, 410)
    _broadcast("hi")
    assert stored_ids(aws) == {SENDER, "other="}


def test_forbidden_posts_are_failed_and_delete_nothing(aws, gateway):
    """A 403 is counted failed, the broadcast goes on, and no record is removed."""
    seed(aws, [SENDER, "a=", "b="])
    gateway.answer("a=", 403)
    _broadcast("hi")
    assert _ack(gateway) == (2, 0, 1)
    assert stored_ids(aws) == {SENDER, "a=", "b="}
    assert gateway.received("b=")[0]["message"] == "hi"


def test_throttled_posts_are_retried_then_counted(aws, gateway):
    """429 then 200 is delivered after a retry; 429 every time is failed after the retries."""
    seed(aws, [SENDER, "recovers=", "throttled="])
    gateway.answer("recovers=", 429, 200)
    gateway.answer("throttled=", 429)
    _broadcast("hi")
    assert _ack(gateway) == (2, 0, 1)
    assert gateway.attempts["recovers="] == 2
    assert gateway.attempts["throttled="] == fanout.MAX_ATTEMPTS
    assert gateway.received("recovers=")[0]["message"] == "hi"
    assert stored_ids(aws) == {SENDER, "recovers=", "throttled="}


def test_expired_records_are_skipped(aws, gateway):
    """Records past their ttl (not yet removed by DynamoDB) are not posted to."""
    seed(aws, [SENDER])
    seed(aws, ["expired="], ttl=NOW_MS // 1000 - 60)
    _broadcast("hi")
    assert _ack(gateway) == (1, 0, 0)
    assert gateway.attempts.get("expired=", 0) == 0


def test_oversize_broadcast_is_too_large_before_any_post(aws, gateway):
    """A message whose frame would exceed 128 KB: too_large to the sender, nothing else."""
    seed(aws, [SENDER, "a="])
    _broadcast("x" * MAX_FRAME_BYTES)
    assert _error(gateway) == "too_large"
    assert gateway.received("a=") == []
    assert len(gateway.received(SENDER)) == 1


def test_oversize_send_is_too_large(aws, gateway):
    """send checks the outgoing frame's size the same way."""
    seed(aws, [SENDER, "a="])
    body = {"action": "send", "to": "a=", "message": "x" * MAX_FRAME_BYTES}
    handler.default(message_event(SENDER, json.dumps(body)), None)
    assert _error(gateway) == "too_large"
    assert gateway.received("a=") == []


def test_concurrent_invocations_in_threads_each_get_their_own_answer(aws, gateway):
    """As the emulator may: 8 broadcasts at once from 8 threads, each fully delivered and acked."""
    senders = [f"sender-{i}=" for i in range(8)]
    others = [f"other-{i}=" for i in range(12)]
    seed(aws, senders + others)
    errors = []

    def invoke(sender):
        try:
            _broadcast(f"from {sender}", sender=sender)
        except BaseException as error:  # surfaced below: a thread's failure must fail the test
            errors.append(error)

    threads = [threading.Thread(target=invoke, args=(sender,)) for sender in senders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    for sender in senders:
        acks = [f for f in gateway.received(sender) if f["type"] == "ack"]
        assert acks == [messaging.ack_frame("broadcast", 20, 0, 0)]
    for connection_id in senders + others:
        messages = sorted(
            f["message"] for f in gateway.received(connection_id) if f["type"] == "broadcast"
        )
        assert messages == sorted(f"from {sender}" for sender in senders)

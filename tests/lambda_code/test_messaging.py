"""The wire protocol: parsing client frames, building and sizing service frames."""

from __future__ import annotations

import base64
import json

import messaging
import pytest
from messaging import (
    INVALID_JSON,
    MAX_FRAME_BYTES,
    MISSING_FIELD,
    TOO_LARGE,
    UNKNOWN_ACTION,
    Broadcast,
    ListConnections,
    ProtocolError,
    Send,
    WhoAmI,
)


def _code(body, is_base64_encoded=False) -> str:
    with pytest.raises(ProtocolError) as caught:
        messaging.parse_request(body, is_base64_encoded)
    return caught.value.code


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('{"action": "broadcast", "message": {"a": [1, 2]}}', Broadcast({"a": [1, 2]})),
        ('{"action": "broadcast", "message": null}', Broadcast(None)),
        ('{"action": "send", "to": "abc=", "message": "hi"}', Send("abc=", "hi")),
        ('{"action": "list"}', ListConnections()),
        ('{"action": "whoami", "extra": true}', WhoAmI()),
    ],
)
def test_valid_frames_parse_to_their_request(body, expected):
    """Each documented client frame becomes its request; extra fields are ignored."""
    assert messaging.parse_request(body) == expected


def test_base64_body_of_a_binary_frame_is_decoded():
    """API Gateway base64-encodes binary frames; JSON inside them is still understood."""
    body = base64.b64encode(b'{"action": "list"}').decode()
    assert messaging.parse_request(body, True) == ListConnections()


@pytest.mark.parametrize(
    ("body", "is_base64_encoded"),
    [
        ("hello", False),
        ("", False),
        (None, False),
        ('{"action": "list"', False),
        ('{"action": "broadcast", "message": NaN}', False),
        ("[1, 2]", False),
        ('"list"', False),
        ("42", False),
        ("null", False),
        ("not base64!", True),
        (base64.b64encode(b"\xff\xfe\x00").decode(), True),
        ("1" * 5000, False),
    ],
)
def test_unreadable_or_non_object_bodies_are_invalid_json(body, is_base64_encoded):
    """Non-JSON, non-UTF-8, NaN, and JSON that is not an object all get invalid_json."""
    assert _code(body, is_base64_encoded) == INVALID_JSON


@pytest.mark.parametrize(
    "frame",
    [
        {},
        {"message": "hi"},
        {"action": "broadcast"},
        {"action": "send", "message": "hi"},
        {"action": "send", "to": "abc="},
        {"action": "send", "to": "", "message": "hi"},
        {"action": "send", "to": 7, "message": "hi"},
        {"action": "send", "to": ["abc="], "message": "hi"},
    ],
)
def test_absent_or_wrong_typed_fields_are_missing_field(frame):
    """No action, no message, or a "to" that is not a non-empty string: missing_field."""
    assert _code(json.dumps(frame)) == MISSING_FIELD


@pytest.mark.parametrize("action", ["nope", "BROADCAST", "$default", 5, None, {"a": 1}])
def test_other_actions_are_unknown_action(action):
    """Any action but the four documented ones (including non-strings) is unknown_action."""
    assert _code(json.dumps({"action": action})) == UNKNOWN_ACTION


def test_unknown_action_message_names_the_valid_actions_and_stays_short():
    """The error sentence lists the valid actions and shortens a huge action value."""
    with pytest.raises(ProtocolError) as caught:
        messaging.parse_request(json.dumps({"action": "x" * 10_000}))
    assert "broadcast, send, list, whoami" in caught.value.message
    assert len(caught.value.message) < 200


def test_error_frame_carries_code_sentence_and_actions():
    """Error frames have the documented shape, with the valid actions listed."""
    frame = messaging.error_for(ProtocolError(UNKNOWN_ACTION, "Unknown action."))
    assert frame == {
        "type": "error",
        "error": "unknown_action",
        "message": "Unknown action.",
        "actions": ["broadcast", "send", "list", "whoami"],
    }


def test_service_frames_have_the_documented_fields():
    """broadcast, message, ack and whoami frames carry exactly the documented keys."""
    assert messaging.broadcast_frame("a=", [1], 5) == {
        "type": "broadcast",
        "from": "a=",
        "message": [1],
        "at": 5,
    }
    assert messaging.message_frame("a=", "hi", 6) == {
        "type": "message",
        "from": "a=",
        "message": "hi",
        "at": 6,
    }
    assert messaging.ack_frame("send", 1, 0, 2) == {
        "type": "ack",
        "action": "send",
        "delivered": 1,
        "gone": 0,
        "failed": 2,
    }
    assert messaging.whoami_frame("a=", 7, "192.0.2.1") == {
        "type": "whoami",
        "connectionId": "a=",
        "connectedAt": 7,
        "sourceIp": "192.0.2.1",
    }


def test_frame_of_exactly_the_limit_is_accepted_and_one_byte_more_is_too_large():
    """The 128 KB check counts encoded bytes, with the limit itself allowed."""
    overhead = len(messaging.encode_frame(messaging.broadcast_frame("a=", "", 1)))
    fits = messaging.broadcast_frame("a=", "x" * (MAX_FRAME_BYTES - overhead), 1)
    assert len(messaging.encode_within_limit(fits)) == MAX_FRAME_BYTES
    over = messaging.broadcast_frame("a=", "x" * (MAX_FRAME_BYTES - overhead + 1), 1)
    with pytest.raises(ProtocolError) as caught:
        messaging.encode_within_limit(over)
    assert caught.value.code == TOO_LARGE


def test_size_counts_utf8_bytes_not_characters():
    """Multi-byte characters count as the bytes they take on the wire."""
    frame = messaging.broadcast_frame("a=", "é" * (MAX_FRAME_BYTES // 2), 1)
    with pytest.raises(ProtocolError):
        messaging.encode_within_limit(frame)


def test_lone_surrogates_are_encoded_as_valid_json_escapes():
    """A lone surrogate from a JSON escape cannot be UTF-8, so it stays escaped."""
    message = json.loads('"\\ud800"')
    data = messaging.encode_frame(messaging.broadcast_frame("a=", message, 1))
    assert json.loads(data.decode("utf-8"))["message"] == message


def test_connections_frame_lists_everyone_when_it_fits():
    """A small listing is whole, with its count and no truncated flag."""
    connections = [{"connectionId": f"c{i}="} for i in range(3)]
    frame = messaging.connections_frame(connections)
    assert frame == {"type": "connections", "count": 3, "connections": connections}


def test_connections_frame_is_cut_to_fit_128_kb_and_says_so():
    """A listing too big for one frame keeps the total count and marks itself truncated."""
    connections = [{"connectionId": f"c{i:05}=", "userAgent": "u" * 200} for i in range(2000)]
    frame = messaging.connections_frame(connections)
    assert frame["count"] == 2000
    assert frame["truncated"] is True
    assert 0 < len(frame["connections"]) < 2000
    assert frame["connections"] == connections[: len(frame["connections"])]
    assert len(messaging.encode_frame(frame)) <= MAX_FRAME_BYTES
    one_more = {**frame, "connections": connections[: len(frame["connections"]) + 1]}
    assert len(messaging.encode_frame(one_more)) > MAX_FRAME_BYTES


def test_could_be_connection_id_rejects_what_dynamodb_cannot_store():
    """Over-long ids and lone surrogates cannot be DynamoDB keys, so cannot be connections."""
    assert messaging.could_be_connection_id("L0SM9cOFvHcCIhw=")
    assert not messaging.could_be_connection_id("x" * 2049)
    assert not messaging.could_be_connection_id("\ud800")


def test_unknown_action_names_the_stacks_own_routes(monkeypatch):
    """With WSCTL_ROUTES set (by wsctl), the error and the frame name the stack's routes too."""
    monkeypatch.setenv(messaging.ROUTES_ENV, json.dumps(["hello", "send", "room/join"]))
    with pytest.raises(ProtocolError) as caught:
        messaging.parse_request(json.dumps({"action": "nope"}))
    assert "broadcast, send, list, whoami, hello, room/join" in caught.value.message
    frame = messaging.error_for(caught.value)
    assert frame["actions"] == ["broadcast", "send", "list", "whoami", "hello", "room/join"]


def test_a_garbled_routes_variable_falls_back_to_the_services_actions(monkeypatch):
    """WSCTL_ROUTES that is not a JSON list is ignored, never an error for the client."""
    monkeypatch.setenv(messaging.ROUTES_ENV, "{not json")
    assert messaging.valid_actions() == list(messaging.ACTIONS)
    monkeypatch.setenv(messaging.ROUTES_ENV, '{"a": 1}')
    assert messaging.valid_actions() == list(messaging.ACTIONS)

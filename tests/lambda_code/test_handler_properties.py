"""Property: whatever a client sends, no handler raises, and every frame the service posts is
protocol JSON with a known type (errors with a documented code)."""

from __future__ import annotations

import base64
import json

import handler
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from messaging import ACTIONS, ERROR_CODES, FRAME_TYPES
from service_fakes import NOW_MS, connect_event, disconnect_event, message_event, seed

SENDER = "sender-AAAAAAA="
PEERS = ["peer-1=", "peer-2="]

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
actions = st.sampled_from([*ACTIONS, "", "nope", "$default"]) | json_values
frames = st.fixed_dictionaries(
    {},
    optional={
        "action": actions,
        "to": st.sampled_from([SENDER, *PEERS, "", "ghost="]) | json_values,
        "message": json_values,
    },
)
bodies = st.one_of(
    st.text(),
    json_values.map(json.dumps),
    frames.map(json.dumps),
    st.none(),
)
binary_bodies = st.binary().map(lambda data: base64.b64encode(data).decode("ascii"))

ENTRY_POINTS = [handler.connect, handler.disconnect, handler.default, handler.broadcast]


def _check_frames(gateway) -> None:
    for frame in gateway.all_frames():
        assert isinstance(frame, dict)
        assert frame.get("type") in FRAME_TYPES, frame
        if frame["type"] == "error":
            assert frame["error"] in ERROR_CODES
            assert isinstance(frame["message"], str) and frame["message"]
            assert frame["actions"] == list(ACTIONS)
        if frame["type"] == "ack":
            assert frame["action"] in ("broadcast", "send")
            assert all(isinstance(frame[key], int) for key in ("delivered", "gone", "failed"))


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(body=bodies | binary_bodies, binary=st.booleans(), entry=st.sampled_from(ENTRY_POINTS))
def test_any_body_to_any_handler_gets_protocol_frames(aws, gateway, body, binary, entry):
    """No exception escapes; each message gets exactly one reply of a known protocol type."""
    # The table as each example starts: the sender, a live peer, and one that is gone (410).
    seed(aws, [SENDER, *PEERS], connected_at=NOW_MS)
    gateway.answer(PEERS[1], 410)
    gateway.frames.clear()
    if entry is handler.connect:
        event = connect_event(SENDER)
        event["body"] = body
    elif entry is handler.disconnect:
        event = disconnect_event(SENDER)
        event["body"] = body
    else:
        event = message_event(SENDER, body, is_base64_encoded=binary)
    result = entry(event, None)
    assert result == {"statusCode": 200}
    _check_frames(gateway)
    if entry in (handler.default, handler.broadcast):
        replies = [f for f in gateway.received(SENDER) if f["type"] not in ("broadcast", "message")]
        assert len(replies) == 1
        assert replies[0]["type"] in ("ack", "connections", "whoami", "error")
    else:
        assert gateway.all_frames() == []

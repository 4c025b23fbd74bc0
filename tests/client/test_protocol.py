"""The wire protocol's frames and API Gateway's size limits, as the client applies them."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsctl.client import protocol


def test_action_frames_follow_the_wire_protocol():
    """Each builder produces the JSON object DESIGN.md section 1 defines."""
    assert json.loads(protocol.broadcast_frame({"a": 1})) == {
        "action": "broadcast",
        "message": {"a": 1},
    }
    assert json.loads(protocol.send_frame("abc=", "hi")) == {
        "action": "send",
        "to": "abc=",
        "message": "hi",
    }
    assert json.loads(protocol.list_frame()) == {"action": "list"}
    assert json.loads(protocol.whoami_frame()) == {"action": "whoami"}


def test_a_message_is_json_when_it_parses_and_text_otherwise():
    """Typed JSON keeps its type; anything else is sent as a string."""
    assert protocol.message_value('{"x": [1]}') == {"x": [1]}
    assert protocol.message_value("42") == 42
    assert protocol.message_value("hello there") == "hello there"


def test_json_object_accepts_objects_only():
    """Replies are JSON objects; arrays, plain text and binary are not replies."""
    assert protocol.json_object('{"type": "ack"}') == {"type": "ack"}
    assert protocol.json_object("[1]") is None
    assert protocol.json_object("not json") is None
    assert protocol.json_object(b'{"type": "ack"}') is None


def test_a_small_message_goes_out_whole():
    """Up to 32 KB, the text itself is sent (one frame)."""
    text = "x" * protocol.MAX_FRAME_BYTES
    assert protocol.outgoing(text) == text


def test_a_large_message_goes_out_in_32_kb_fragments():
    """Above 32 KB, the message is cut into fragments of at most 32 KB that rejoin exactly."""
    text = "y" * (protocol.MAX_FRAME_BYTES * 2 + 5)
    pieces = protocol.outgoing(text)
    assert isinstance(pieces, list)
    assert [len(p.encode()) for p in pieces] == [32768, 32768, 5]
    assert "".join(pieces) == text


def test_more_than_128_kb_is_refused_before_sending():
    """A message over the 128 KB limit raises MessageTooLarge with its size in the message."""
    with pytest.raises(protocol.MessageTooLarge, match="131,073 bytes not sent"):
        protocol.outgoing("z" * (protocol.MAX_MESSAGE_BYTES + 1))


@given(st.text(min_size=1, max_size=400), st.integers(min_value=4, max_value=64))
def test_fragments_never_split_a_character(text, limit):
    """Fragments are valid UTF-8 within the byte limit, and join back to the original text."""
    pieces = protocol.fragments(text, limit)
    assert "".join(pieces) == text
    assert all(0 < len(piece.encode("utf-8")) <= limit for piece in pieces)

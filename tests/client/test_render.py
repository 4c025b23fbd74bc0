"""How frames are shown to people and to scripts."""

import datetime as dt
import json

from wsctl.client import render

AT = dt.datetime(2026, 11, 27, 18, 42, 21, 123456, tzinfo=dt.UTC)


def test_json_is_compact_and_highlighted_by_default():
    """A JSON object is shown on one line, coloured, by default."""
    text = render.render_frame('{"type":"ack","delivered":2}', AT)
    assert text.plain == render.clock(AT) + ' < {"type": "ack", "delivered": 2}'
    assert text.spans, "JSON should be coloured"


def test_json_is_indented_on_request():
    """With pretty=True (connect --pretty) a JSON object is indented over several lines."""
    text = render.render_frame('{"type":"ack","delivered":2}', AT, pretty=True)
    assert '  "type": "ack",\n  "delivered": 2\n}' in text.plain
    assert text.plain.startswith(render.clock(AT) + " < {")


def test_text_and_binary_frames():
    """Text is escaped; binary becomes a short hex summary; outgoing frames use >."""
    assert render.render_frame("hi\x1b[2J", AT).plain.endswith("< hi\\x1b[2J")
    assert render.render_frame(b"\x01\x02", AT).plain.endswith("< (binary, 2 bytes) 01 02")
    assert " > " in render.render_frame("x", AT, "out").plain


def test_del_and_c1_controls_inside_json_are_escaped():
    """json.dumps leaves DEL and C1 controls raw; the rendering escapes them too."""
    text = render.render_frame(json.dumps({"m": "a\x9bb"}, ensure_ascii=False), AT)
    assert "\x9b" not in text.plain
    assert "a\\x9bb" in text.plain


def test_lines_for_scripts_keep_one_frame_per_line():
    """A multi-line text frame stays on one output line; binary is summarised."""
    assert render.line("a\nb") == "a\\nb"
    assert render.line(b"\xff") == "(binary, 1 byte) ff"


def test_json_lines_carry_time_direction_type_and_data():
    """--json prints one object per frame: UTC time to the ms, direction, type, data."""
    assert json.loads(render.json_line("hi", AT, "out")) == {
        "time": "2026-11-27T18:42:21.123Z",
        "direction": "out",
        "type": "text",
        "data": "hi",
    }
    assert json.loads(render.json_line(b"\x00\xff", AT, "in"))["data"] == "00ff"


def test_pings_and_pongs_for_show_ping_pong():
    """-P shows a ping's or pong's data as text when it is text, else in hex (as wscat)."""
    assert render.control_line("ping", b"\x01\x02") == "(ping 01 02)"
    assert render.control_line("ping", b"hello") == "(ping hello)"
    assert render.control_line("pong", "café".encode()) == "(pong café)"
    assert render.control_line("pong", b"\xff\xfe") == "(pong ff fe)"
    assert render.control_line("pong", b"") == "(pong)"

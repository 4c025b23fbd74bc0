"""Wire data made safe for a terminal."""

from wsctl.client.escaping import binary_summary, escape


def test_control_characters_are_escaped_and_text_is_kept():
    """C0, DEL and C1 controls become visible escapes; ordinary and non-ASCII text stays."""
    assert escape("a\x1b[31mb\x7f\x9bé\tz") == "a\\x1b[31mb\\x7f\\x9bé\\tz"


def test_binary_is_summarised_with_size_and_leading_bytes():
    """Binary shows its size and its first 16 bytes in hex, with an ellipsis when cut."""
    assert binary_summary(b"\x00\x01\xff") == "(binary, 3 bytes) 00 01 ff"
    summary = binary_summary(bytes(range(40)))
    assert summary.startswith("(binary, 40 bytes) 00 01 02")
    assert summary.endswith("0f…")

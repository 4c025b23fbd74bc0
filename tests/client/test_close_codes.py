"""Close codes in words."""

from wsctl.client.close_codes import describe_close, explain, is_sendable


def test_close_is_described_with_code_words_and_reason():
    """A close reads "Connection closed: 1009 (message too big)", then the reason."""
    assert describe_close(1009) == "Connection closed: 1009 (message too big)"
    assert describe_close(1001, "Going away") == "Connection closed: 1001 (going away): Going away"


def test_no_close_frame_reads_as_a_lost_connection():
    """Without a close frame (None), the description says the connection was lost."""
    assert describe_close(None) == "Connection closed: 1006 (connection lost without a close frame)"


def test_application_ranges_and_unknown_codes():
    """3000-3999 and 4000-4999 are named as application codes; others are unknown."""
    assert explain(3001) == "registered application code"
    assert explain(4321) == "application code"
    assert explain(2500) == "unknown"


def test_control_characters_in_a_reason_are_escaped():
    """A reason from the wire cannot carry terminal escapes."""
    assert describe_close(1000, "bye\x1b[2J") == "Connection closed: 1000 (OK): bye\\x1b[2J"


def test_reserved_codes_cannot_be_sent():
    """1005, 1006 and 1015 are never sent; application codes are."""
    assert not is_sendable(1006)
    assert not is_sendable(1015)
    assert is_sendable(1000) and is_sendable(4000)

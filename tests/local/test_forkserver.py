"""The memory the emulator shares with its sandboxes."""

from __future__ import annotations

import mmap

from wsctl.local.forkserver import SharedCounter


def test_a_shared_count_is_seen_through_another_mapping_of_its_fd():
    """A sandbox maps the counter's fd as it is forked; bumps show through that mapping."""
    counter = SharedCounter()
    other = mmap.mmap(counter.fd, 8)
    try:
        assert counter.value == 0
        counter.bump()
        counter.bump()
        assert counter.value == 2
        assert int.from_bytes(other[:8], "little") == 2
    finally:
        other.close()
        counter.close()

"""Wire data made safe for a terminal: control characters escaped, binary summarised."""

from __future__ import annotations

import itertools

# ASCII control characters (0-31), DEL (127) and the C1 controls (128-159) could move the
# cursor or change the terminal's state; show them as Python escapes instead.
_TERMINAL_ESCAPES = str.maketrans(
    {i: repr(chr(i))[1:-1] for i in itertools.chain(range(32), range(127, 160))}
)
BINARY_PREVIEW_BYTES = 16


def escape(text: str) -> str:
    """``text`` with control characters escaped, so the wire cannot drive the terminal."""
    return text.translate(_TERMINAL_ESCAPES)


def binary_summary(data: bytes, preview: int = BINARY_PREVIEW_BYTES) -> str:
    """``(binary, 1,234 bytes) 0a1b2c…``: the size and the first bytes in hex."""
    head = data[:preview].hex(" ")
    more = "…" if len(data) > preview else ""
    unit = "byte" if len(data) == 1 else "bytes"
    return f"(binary, {len(data):,} {unit}) {head}{more}".rstrip()

"""Close codes in words (after websockets' ``frames.CLOSE_CODE_EXPLANATIONS``)."""

from __future__ import annotations

from wsctl.client.escaping import escape

CLOSE_CODE_EXPLANATIONS: dict[int, str] = {
    1000: "OK",
    1001: "going away",
    1002: "protocol error",
    1003: "unsupported data",
    1005: "no status received",
    1006: "connection lost without a close frame",
    1007: "invalid frame payload data",
    1008: "policy violation",
    1009: "message too big",
    1010: "mandatory extension",
    1011: "internal error",
    1012: "service restart",
    1013: "try again later",
    1014: "bad gateway",
    1015: "TLS handshake failure",
}

# Codes an endpoint may put in a close frame it sends (RFC 6455 section 7.4).
SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011})
CLEAN_CLOSE = 1000


def explain(code: int) -> str:
    if code in CLOSE_CODE_EXPLANATIONS:
        return CLOSE_CODE_EXPLANATIONS[code]
    if 3000 <= code <= 3999:
        return "registered application code"
    if 4000 <= code <= 4999:
        return "application code"
    return "unknown"


def describe_close(code: int | None, reason: str = "") -> str:
    """``Connection closed: 1009 (message too big)``, then the reason when there is one."""
    if code is None:
        return "Connection closed: 1006 (connection lost without a close frame)"
    text = f"Connection closed: {code} ({explain(code)})"
    return f"{text}: {escape(reason)}" if reason else text


def is_sendable(code: int) -> bool:
    return code in SENDABLE_CLOSE_CODES or 3000 <= code <= 4999

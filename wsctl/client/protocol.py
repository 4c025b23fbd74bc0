"""The service's wire protocol (DESIGN.md section 1) as the client speaks it, and API Gateway's
size limits: frames of at most 32 KB, messages of at most 128 KB."""

from __future__ import annotations

import json
from typing import Any

from wsctl.errors import ConfigError

MAX_FRAME_BYTES = 32 * 1024
MAX_MESSAGE_BYTES = 128 * 1024


class MessageTooLarge(ConfigError):
    """A message API Gateway would refuse: it is not sent."""


def message_value(text: str) -> Any:
    """What a typed message means: the JSON value when it parses as JSON, else the text."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _frame(payload: dict[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def broadcast_frame(message: Any) -> str:
    return _frame({"action": "broadcast", "message": message})


def send_frame(to: str, message: Any) -> str:
    return _frame({"action": "send", "to": to, "message": message})


def list_frame() -> str:
    return _frame({"action": "list"})


def whoami_frame() -> str:
    return _frame({"action": "whoami"})


# The reply that completes each action of the service's protocol (DESIGN.md section 1); an
# error frame completes any of them.
FINAL_REPLIES = {"broadcast": "ack", "send": "ack", "list": "connections", "whoami": "whoami"}


def final_reply_type(message: str) -> str | None:
    """The type of the reply that completes ``message``'s action, or None when the message is
    not one of the protocol's actions (then only an error frame ends the wait early)."""
    request = json_object(message)
    action = request.get("action") if request is not None else None
    return FINAL_REPLIES.get(action) if isinstance(action, str) else None


def json_object(data: str | bytes) -> dict[str, Any] | None:
    """A text frame holding a JSON object (what the service sends), or None for anything else."""
    if not isinstance(data, str):
        return None
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def check_size(text: str) -> None:
    """Refuse, before sending, a message larger than API Gateway's 128 KB message limit."""
    size = len(text.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(
            f"message of {size:,} bytes not sent: the limit is {MAX_MESSAGE_BYTES:,} bytes (128 KB)"
        )


def fragments(text: str, limit: int = MAX_FRAME_BYTES) -> list[str]:
    """``text`` cut into pieces of at most ``limit`` UTF-8 bytes, never inside a character."""
    data = text.encode("utf-8")
    pieces: list[str] = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        # A UTF-8 continuation byte (0b10xxxxxx) cannot start a piece: back up to a boundary.
        while end < len(data) and data[end] & 0xC0 == 0x80:
            end -= 1
        pieces.append(data[start:end].decode("utf-8"))
        start = end
    return pieces or [""]


def outgoing(text: str, limit: int = MAX_FRAME_BYTES) -> str | list[str]:
    """What to hand to ``websockets``' ``send``: the text, or its fragments when it is too big
    for one frame (``send`` sends an iterable as one fragmented message)."""
    check_size(text)
    if len(text.encode("utf-8")) <= limit:
        return text
    return fragments(text, limit)

"""The functions' CloudWatch log events, merged in time order; ``follow`` polls for more."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from wsctl.aws.awsclient import AwsClient, ResourceDoesNotExist
from wsctl.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*\Z")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


@dataclass(frozen=True)
class LogLine:
    timestamp_ms: int
    function: str
    message: str
    event_id: str


def parse_since(text: str) -> int:
    """``10m`` -> 600 seconds (s, m, h, d, w)."""
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(f"--since {text!r}: use a number and a unit, e.g. 30s, 10m, 2h, 1d")
    return int(match.group(1)) * _SECONDS[match.group(2)]


def merge(events: dict[str, Iterable[dict]]) -> list[LogLine]:
    """Events of several log groups (keyed by function) as one list in time order."""
    lines = [
        LogLine(
            int(event.get("timestamp", 0)),
            function,
            str(event.get("message", "")).rstrip("\n"),
            str(event.get("eventId") or f"{function}:{event.get('timestamp')}:{index}"),
        )
        for function, group in events.items()
        for index, event in enumerate(group)
    ]
    return sorted(lines, key=lambda line: (line.timestamp_ms, line.function, line.event_id))


def fetch(client: AwsClient, groups: dict[str, str], start_ms: int) -> list[LogLine]:
    """Events since ``start_ms`` of each function's log group (function -> group name)."""
    events: dict[str, list[dict]] = {}
    for function, group in groups.items():
        try:
            events[function] = client.log_events(group, start_ms)
        except ResourceDoesNotExist:
            events[function] = []
    return merge(events)


def follow(
    client: AwsClient,
    groups: dict[str, str],
    start_ms: int,
    emit: Callable[[LogLine], None],
    *,
    interval: float = 2.0,
    sleep: Callable[[float], None] = time.sleep,
    max_polls: int | None = None,
) -> None:
    """Emit events as they arrive, each once, until interrupted (or ``max_polls``)."""
    seen: set[str] = set()
    since = start_ms
    polls = 0
    while max_polls is None or polls < max_polls:
        polls += 1
        for line in fetch(client, groups, since):
            if line.event_id in seen:
                continue
            seen.add(line.event_id)
            emit(line)
            # Events can arrive late by a little: re-read a short window, dedupe by id.
            since = max(since, line.timestamp_ms - 5_000)
        if max_polls is None or polls < max_polls:
            sleep(interval)

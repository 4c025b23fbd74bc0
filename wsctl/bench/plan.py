"""What one bench run will do, checked before any socket opens, and how long it may take."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from urllib.parse import urlsplit

from wsctl.errors import ConfigError

# API Gateway's default quota of new connections per second per account and region.
DEFAULT_CONNECT_RATE = 500.0
MAX_CLIENTS = 20_000
MAX_BROADCASTS = 100_000
# Every delivery's latency is kept until the end: 5 million doubles are 40 MB.
MAX_DELIVERIES = 5_000_000
MAX_INFLIGHT = 1_000
# A broadcast frame carries the run's marks besides the padding: leave room under 128 KB.
MAX_SIZE = 120 * 1024
CLOSE_SECONDS = 5.0


@dataclass(frozen=True)
class Plan:
    clients: int
    broadcasts: int
    inflight: int = 1
    size: int = 64
    connect_rate: float = DEFAULT_CONNECT_RATE
    timeout: float = 10.0  # seconds for every delivery of one broadcast, and its ack
    open_timeout: float = 10.0

    def check(self) -> Plan:
        """This plan, or a ConfigError naming the flag that is out of bounds."""
        _within("--clients", self.clients, 1, MAX_CLIENTS)
        _within("--broadcasts", self.broadcasts, 1, MAX_BROADCASTS)
        _within("--inflight", self.inflight, 1, MAX_INFLIGHT)
        _within("--size", self.size, 0, MAX_SIZE)
        if not self.connect_rate > 0:
            raise ConfigError("--connect-rate must be more than 0 connections per second")
        if self.clients * self.broadcasts > MAX_DELIVERIES:
            raise ConfigError(
                f"--clients x --broadcasts is {self.clients * self.broadcasts:,} deliveries; "
                f"bench measures at most {MAX_DELIVERIES:,} in one run"
            )
        return self

    @property
    def connect_seconds(self) -> float:
        """The longest the connections may take: paced at the rate, the last one's timeout."""
        return self.clients / self.connect_rate + self.open_timeout

    @property
    def broadcast_seconds(self) -> float:
        """The longest the broadcasts may take: each waits ``timeout`` at most, K at a time."""
        return math.ceil(self.broadcasts / self.inflight) * self.timeout

    @property
    def time_bound(self) -> float:
        return self.connect_seconds + self.broadcast_seconds + CLOSE_SECONDS


def _within(flag: str, value: int, low: int, high: int) -> None:
    if not low <= value <= high:
        raise ConfigError(f"{flag} must be from {low:,} to {high:,}, not {value:,}")


def is_loopback(url: str) -> bool:
    """Whether ``url`` names this machine (127.0.0.0/8, ::1, localhost)."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False

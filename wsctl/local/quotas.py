"""API Gateway's WebSocket quotas, as the emulator enforces them (configurable for tests)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from wsctl.config import LOCAL_LIMITS, LocalSettings
from wsctl.errors import ConfigError

KIB = 1024


@dataclass(frozen=True)
class Quotas:
    """Frame and message limits (larger: close 1009), the two connection timers (close 1001),
    and how much may wait unsent for a client that does not read (dropped past it)."""

    frame_bytes: int = 32 * KIB
    message_bytes: int = 128 * KIB
    idle_timeout: float = 10 * 60.0
    max_lifetime: float = 2 * 60 * 60.0
    # API Gateway waits this long for an integration, whatever the function's own timeout.
    integration_timeout: float = 29.0
    # Not an AWS quota: the bound on what may wait unsent for one client that does not read.
    write_buffer_bytes: int = 4 * 1024 * KIB

    @property
    def websocket_max_size(self) -> tuple[int, int]:
        """The ``(max_message_size, max_fragment_size)`` pair websockets enforces."""
        return (self.message_bytes, self.frame_bytes)

    @property
    def sweep_interval(self) -> float:
        """How often to look for idle or expired connections: a fraction of the shorter timer."""
        return min(1.0, max(0.02, min(self.idle_timeout, self.max_lifetime) / 10))


def quotas_for(settings: LocalSettings, **flags: Any) -> Quotas:
    """The quotas ``up --local`` runs with: command-line ``flags`` (None: unset) over
    ``[local]``, over API Gateway's. A flag above AWS's value is a one-line error."""
    values: dict[str, Any] = {}
    for key in LOCAL_LIMITS:
        from_file = getattr(settings, key)
        if from_file is not None:
            values[key] = from_file
    for key, value in flags.items():
        if value is None:
            continue
        limit = LOCAL_LIMITS[key]
        if not 0 < value <= limit:
            option = "--" + key.replace("_", "-")
            raise ConfigError(
                f"{option} {value:g}: must be above 0 and at most {limit:g} (API Gateway's "
                "value: what works locally must work on AWS)"
            )
        values[key] = value
    return replace(Quotas(), **values)

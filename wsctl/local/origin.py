"""Which web pages may use the local stack (DESIGN.md section 7, "Browsers").

Browsers send ``Origin`` with every WebSocket handshake and with cross-origin HTTP requests;
wsctl, wscat and SDKs send none unless asked. Without these rules any page open in the
developer's browser could drive the stack on 127.0.0.1:

- a handshake with an ``Origin`` is accepted only from the emulator's own origin (the
  console's page) and from origins the user allowed (``--allow-origin``); none: accepted;
- the console's feed (live connections, invocations, the token) answers its own origin only,
  and never a client that sends no ``Origin``;
- the @connections management API refuses any request that carries an ``Origin``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = ("127.0.0.1", "localhost")


def normalize(origin: str) -> str:
    """``origin`` as browsers serialize it: lowercase scheme and host, no path or slash."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return origin.strip()  # "null" (file:// pages, sandboxed frames) stays itself
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


def parse_allowed(value: str) -> str:
    """A user's ``--allow-origin`` value as an origin; ValueError saying what one looks like."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise ValueError(
            f"--allow-origin {value!r} is not an origin: give scheme, host and port, "
            "e.g. http://localhost:3000"
        )
    return normalize(value)


def own_origins(host: str, port: int) -> frozenset[str]:
    """The origins of pages the emulator itself serves on ``host:port``.

    On loopback both names reach it, so a page opened as http://localhost:{port}/ works too.
    """
    names = LOOPBACK_NAMES if host in LOOPBACK_NAMES else (host,)
    return frozenset(f"http://{name}:{port}" for name in names)


@dataclass(frozen=True)
class OriginPolicy:
    """The emulator's own origins and the ones the user allowed."""

    own: frozenset[str]
    allowed: frozenset[str] = frozenset()

    @classmethod
    def for_server(cls, host: str, port: int, allowed: Iterable[str] = ()) -> OriginPolicy:
        return cls(own_origins(host, port), frozenset(normalize(value) for value in allowed))

    def handshake_allowed(self, origin: str | None) -> bool:
        """May a WebSocket handshake with this ``Origin`` header (None: absent) proceed?"""
        if origin is None:
            return True
        origin = normalize(origin)
        return origin in self.own or origin in self.allowed

    def own_host(self, host: str | None) -> bool:
        """Is ``Host`` one of the emulator's own names? (A page on another name that resolves
        to 127.0.0.1, DNS rebinding, is not the console.)"""
        return host is not None and f"http://{host.strip().lower()}" in self.own

    def console_allowed(self, origin: str | None) -> bool:
        """May this client read the console's feed? Only the console's own page may."""
        return origin is not None and normalize(origin) in self.own


def management_allowed(origin: str | None) -> bool:
    """The management API answers programs, never web pages: no ``Origin`` at all."""
    return origin is None

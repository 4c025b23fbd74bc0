"""The console's files: which path is which file, and the headers it is served with."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

PREFIX = "/@console/"
FEED_PATH = PREFIX + "feed"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Everything comes from this origin: no CDN, no inline script, no framing by other sites.
_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    ("Content-Security-Policy", _POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-store"),
)


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    body: bytes


def asset_name(path: str) -> str | None:
    """The static file a request path names ('/' is the page), or None."""
    if path == "/":
        return "index.html"
    if not path.startswith(PREFIX):
        return None
    name = path[len(PREFIX) :]
    # Only plain file names of known types: no traversal, no subfolders.
    if "/" in name or "\\" in name or name.startswith(".") or _suffix(name) not in _TYPES:
        return None
    return name


def load(name: str) -> Asset | None:
    """The file shipped in the package as ``static/{name}``, or None if there is none."""
    file = resources.files(__package__).joinpath("static", name)
    if not file.is_file():
        return None
    return Asset(name, _TYPES[_suffix(name)], file.read_bytes())


def _suffix(name: str) -> str:
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""

"""The web console of ``wsctl up --local`` (DESIGN.md section 10), served on the gateway's port.

``GET /`` and ``/@console/...`` are answered here: the page's static files, and its feed (a
WebSocket at ``/@console/feed``, for the page's own origin only) of live connections and
invocations. The page's own frames go to the stage's WebSocket like any browser client's.
The gateway imports this package only when someone asks for one of these paths, so nothing
of it is loaded while the CLI starts or while no one browses.
"""

from wsctl.local.console.handshake import answer

__all__ = ["answer"]

"""``wsctl bench``: a load test of a WebSocket stack through its own protocol.

``plan`` (the bounds of a run), ``stats`` (what a run measured, summarised), ``prices`` (what
that traffic would cost on AWS) are pure; ``run`` holds the sockets. The command
(``wsctl/commands/bench.py``) imports this package only when it runs, so the CLI's start-up
does not pay for it.
"""

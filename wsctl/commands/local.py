"""``wsctl demo``: the bundled service on this machine, three clients, narrated step by step.

The first command a newcomer runs: it shows what the service does (broadcast, list, whoami,
send) and what `up --local` gives them, in a few seconds, and leaves nothing running.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Annotated, Any

import typer
from rich.markup import escape

from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
from wsctl.console import out
from wsctl.errors import WsctlError

REPLY_TIMEOUT = 5.0
NAMES = ("alice", "bob", "carol")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    port: Annotated[
        int,
        typer.Option("--port", min=0, max=65535, help="Port to serve on (0 picks a free one)."),
    ] = 0,
) -> None:
    """Start the bundled service locally, connect three clients, broadcast, list, and stop.

    Examples:

    \b
      wsctl demo
      wsctl demo --port 8765
    """
    from wsctl.local import LocalService

    spec = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    started = time.monotonic()
    _step(1, "Start the service on this machine")
    out.print(
        "  DynamoDB is moto, in this process; the gateway emulates API Gateway's WebSocket API "
        "and runs the handlers from lambda_code/ unchanged."
    )
    with LocalService(spec, port=port) as service:
        out.print(f"  WebSocket  [bold]{service.url}[/]")
        out.print(f"  Management [bold]{service.management_url}[/]/{{connectionId}}")
        try:
            asyncio.run(_tour(service.url))
        except (OSError, TimeoutError, ValueError) as exc:
            raise WsctlError(f"the demo failed: {type(exc).__name__}: {exc}") from None
        _step(6, "The clients leave, and the service stops")
        service.close_connections()  # waits for the $disconnect of the clients that left
        records = service.record_count()
    out.print(f"  $disconnect ran for each client: {records} record(s) left in the table.")
    out.print(
        f"\n[bold green]Done[/] in {time.monotonic() - started:.1f} s. Next: "
        "[bold]wsctl up --local[/] keeps it running; [bold]wsctl connect[/] talks to it from "
        "another terminal; [bold]wsctl up[/] deploys it to AWS."
    )


def _step(number: int, title: str) -> None:
    out.print(f"\n[bold cyan]{number}.[/] [bold]{escape(title)}[/]")


def _show(name: str, frame: dict[str, Any]) -> None:
    out.print(f"  [magenta]{name:<5}[/] ← {escape(json.dumps(frame))}", highlight=False)


async def _tour(url: str) -> None:
    from websockets.asyncio.client import connect

    _step(2, "Connect three clients")
    clients = {name: await connect(url, user_agent_header=f"wsctl-demo/{name}") for name in NAMES}
    try:
        ids = {}
        for name, ws in clients.items():
            await ws.send(json.dumps({"action": "whoami"}))
            me = await _reply(ws, "whoami")
            ids[name] = me["connectionId"]
            out.print(f"  {name:<5} is connection [bold]{escape(me['connectionId'])}[/]")

        _step(3, "alice broadcasts; everyone receives it, alice included")
        await clients["alice"].send(
            json.dumps({"action": "broadcast", "message": "hello, everyone"})
        )
        for name, ws in clients.items():
            _show(name, await _reply(ws, "broadcast"))
        _show("alice", await _reply(clients["alice"], "ack"))

        _step(4, "bob lists the connections (read from the DynamoDB table)")
        await clients["bob"].send(json.dumps({"action": "list"}))
        listing = await _reply(clients["bob"], "connections")
        out.print(f"  bob   ← {listing.get('count')} connections:")
        for item in listing.get("connections", []):
            out.print(
                f"          {escape(str(item.get('connectionId')))}  "
                f"{escape(str(item.get('userAgent')))}",
                highlight=False,
            )

        _step(5, "carol sends alice a direct message")
        await clients["carol"].send(
            json.dumps({"action": "send", "to": ids["alice"], "message": "hi alice"})
        )
        _show("alice", await _reply(clients["alice"], "message"))
        _show("carol", await _reply(clients["carol"], "ack"))
    finally:
        for ws in clients.values():
            await ws.close()


async def _reply(ws: Any, frame_type: str) -> dict[str, Any]:
    """The next frame of ``frame_type`` (others are skipped), or an error naming what came."""
    async with asyncio.timeout(REPLY_TIMEOUT):
        while True:
            frame = json.loads(await ws.recv())
            if isinstance(frame, dict) and frame.get("type") == frame_type:
                return frame
            if isinstance(frame, dict) and frame.get("type") == "error":
                raise ValueError(f"the service answered an error: {frame}")

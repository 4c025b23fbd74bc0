"""``wsctl bench``: a load test of a stack through its protocol (DESIGN.md section 9).

Everything heavy loads inside the command, so the CLI's start-up does not grow.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from wsctl.commands.client import HeaderOpt
from wsctl.console import err, out
from wsctl.errors import ConfigError, ExitCode
from wsctl.options import (
    ConfigOpt,
    JsonOpt,
    NameOpt,
    StageOpt,
    UrlAliasOpt,
    UrlArg,
    YesOpt,
    pick_url,
    resolve_spec,
)

if TYPE_CHECKING:  # loaded inside the command only
    from wsctl.bench.plan import Plan
    from wsctl.bench.stats import Recorded
    from wsctl.client.endpoint import Endpoint
    from wsctl.client.handshake import ConnectOptions

ClientsOpt = Annotated[int, typer.Option("--clients", "-n", help="Connections to open.")]
BroadcastsOpt = Annotated[int, typer.Option("--broadcasts", "-m", help="Broadcasts to send.")]
InflightOpt = Annotated[
    int, typer.Option("--inflight", "-k", help="Broadcasts in flight at once, at most.")
]
SizeOpt = Annotated[int, typer.Option("--size", help="Bytes of padding in each broadcast.")]
ConnectRateOpt = Annotated[
    float,
    typer.Option(
        "--connect-rate",
        help="New connections per second, at most (API Gateway's default quota is 500).",
    ),
]
TimeoutOpt = Annotated[
    float,
    typer.Option(
        "--timeout", min=0.1, help="Seconds a broadcast may take to reach everyone and ack."
    ),
]
CostOpt = Annotated[
    bool, typer.Option("--cost", help="Add what this traffic would cost on AWS (dated prices).")
]


def bench(
    url: UrlArg = None,
    url_option: UrlAliasOpt = None,
    clients: ClientsOpt = 100,
    broadcasts: BroadcastsOpt = 10,
    inflight: InflightOpt = 1,
    size: SizeOpt = 64,
    connect_rate: ConnectRateOpt = 500.0,
    timeout: TimeoutOpt = 10.0,
    json_output: JsonOpt = False,
    cost: CostOpt = False,
    yes: YesOpt = False,
    header: HeaderOpt = None,
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
) -> None:
    """Load-test a stack: N connections, M broadcasts; latency, rate, completeness, errors."""
    import asyncio
    import json

    from wsctl.bench import plan as plans
    from wsctl.bench import stats
    from wsctl.client.endpoint import resolve_endpoint
    from wsctl.client.handshake import ConnectOptions, parse_header

    plan = plans.Plan(
        clients=clients,
        broadcasts=broadcasts,
        inflight=inflight,
        size=size,
        connect_rate=connect_rate,
        timeout=timeout,
    ).check()
    spec = resolve_spec(config, name=name, stage=stage)
    endpoint = resolve_endpoint(pick_url(url, url_option), spec.stack, hint="give a URL")
    _confirm(endpoint.url, plan, yes)
    options = ConnectOptions(
        headers=tuple(parse_header(h) for h in header or ()), open_timeout=plan.open_timeout
    )
    recorded = asyncio.run(_run(endpoint, options, plan, live=not json_output))
    figures = stats.summary(recorded)
    if cost:
        figures["cost"] = _cost(plan, recorded)
    if json_output:
        out.out(json.dumps(figures), highlight=False)
    else:
        from wsctl.bench.report import table

        out.print(table(figures))
    if not stats.passed(figures):
        raise typer.Exit(ExitCode.FAILED)


def _confirm(url: str, plan: Plan, yes: bool) -> None:
    """Ask before loading a server that is not this machine (unless --yes)."""
    from wsctl.auth import redact_url
    from wsctl.bench.plan import is_loopback

    if yes or is_loopback(url):
        return
    question = (
        f"Open {plan.clients:,} connections to {redact_url(url)} and send {plan.broadcasts:,} "
        f"broadcasts ({plan.clients * plan.broadcasts:,} deliveries, billed on AWS)?"
    )
    if not sys.stdin.isatty():
        raise ConfigError(f"{question} Not a terminal to ask in: pass --yes to go ahead")
    if not typer.confirm(question, err=True):
        raise typer.Exit(ExitCode.FAILED)


async def _run(endpoint: Endpoint, options: ConnectOptions, plan: Plan, *, live: bool) -> Recorded:
    from wsctl.bench.run import Progress, run_bench

    progress = Progress(plan.clients, plan.broadcasts)
    if not (live and err.is_terminal):
        return await run_bench(endpoint, options, plan, progress)
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
    from rich.progress import Progress as Bars

    with Bars(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        console=err,
        transient=True,
    ) as bars:
        connecting = bars.add_task("connections", total=plan.clients, note="")
        sending = bars.add_task("broadcasts", total=plan.broadcasts, note="")

        def tick(now: Progress) -> None:
            bars.update(
                connecting,
                completed=now.connected + now.failed,
                note=f"{now.failed:,} failed" if now.failed else "",
            )
            bars.update(
                sending,
                completed=now.done,
                note=f"{now.delivered:,} delivered, {now.errors:,} errors",
            )

        recorded = await run_bench(endpoint, options, plan, progress, on_tick=tick)
        tick(progress)  # the final counts, shown before the bars go
        return recorded


def _cost(plan: Plan, recorded: Recorded) -> dict:
    import json

    from wsctl.bench.prices import Traffic, estimate

    sample = {"type": "broadcast", "from": "x" * 16, "at": 0, "message": {"pad": "x" * plan.size}}
    frame_bytes = len(json.dumps(sample)) + 40
    return estimate(
        Traffic(
            clients=recorded.connected,
            broadcasts=recorded.sent,
            frame_bytes=frame_bytes,
            request_bytes=frame_bytes,
            deliveries=recorded.delivered,
            connected_seconds=recorded.elapsed,
        )
    )


def register(app: typer.Typer) -> None:
    app.command("bench")(bench)

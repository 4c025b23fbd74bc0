"""``wsctl up``, ``down``, ``status`` and ``logs``: the stack on AWS (and ``--local``).

boto3 and the deployer are imported inside the commands, never at module level, so that
client commands start without loading them.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from wsctl import auth, naming, state
from wsctl.client.escaping import escape as terminal_safe
from wsctl.config import ServiceSpec
from wsctl.console import err, out
from wsctl.errors import ConfigError, WsctlError
from wsctl.options import (
    ConfigOpt,
    EndpointUrlOpt,
    JsonOpt,
    LocalOpt,
    NameOpt,
    ProfileOpt,
    RegionOpt,
    StageOpt,
    YesOpt,
    resolve_spec,
)

if TYPE_CHECKING:
    from wsctl.aws.awsclient import AwsClient
    from wsctl.local.quotas import Quotas

AuthOpt = Annotated[
    str | None,
    typer.Option(
        "--auth",
        help="Who may connect: none, token (a bearer token wsctl keeps) or iam (SigV4). "
        "Default: auth in wsctl.toml.",
        show_default=False,
    ),
]
RotateTokenOpt = Annotated[
    bool, typer.Option("--rotate-token", help="With --auth token: replace the stack's token.")
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        "--port",
        min=0,
        max=65535,
        metavar="PORT",
        help="With --local: the port (0 picks one). Default: [local] port in wsctl.toml, "
        "else 8765.",
        show_default=False,
    ),
]
DEFAULT_LOCAL_PORT = 8765


def _seconds_opt(flag: str, what: str) -> Any:
    return Annotated[
        float | None,
        typer.Option(
            flag,
            metavar="SECONDS",
            help=f"With --local: {what} (at most API Gateway's; default: [local] in "
            "wsctl.toml, else AWS's).",
            show_default=False,
        ),
    ]


IdleTimeoutOpt = _seconds_opt("--idle-timeout", "close connections idle this long (1001)")
MaxLifetimeOpt = _seconds_opt("--max-lifetime", "close connections this old (1001)")
IntegrationTimeoutOpt = _seconds_opt(
    "--integration-timeout", "how long the gateway waits for a function"
)
AllowOriginOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-origin",
        metavar="ORIGIN",
        help="With --local: web pages from this origin may connect, e.g. http://localhost:3000 "
        "(repeatable; the console's own origin always may).",
    ),
]
ForgetTokenOpt = Annotated[
    bool,
    typer.Option("--forget-token", help="Also delete the stack's token kept on this machine."),
]
FollowOpt = Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events.")]
SinceOpt = Annotated[str, typer.Option("--since", help="How far back to start: 30s, 10m, 2h.")]
FunctionOpt = Annotated[
    str | None, typer.Option("--function", help="Only this function's log (its wsctl.toml name).")
]


def _aws_client(spec: ServiceSpec, profile: str | None, endpoint_url: str | None) -> AwsClient:
    from wsctl.aws.awsclient import AwsClient
    from wsctl.aws.session import open_target

    return AwsClient(open_target(profile=profile, region=spec.region, endpoint_url=endpoint_url))


def up(
    config: ConfigOpt = None,
    stage: StageOpt = None,
    name: NameOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    auth_mode: AuthOpt = None,
    rotate_token: RotateTokenOpt = False,
    local: LocalOpt = False,
    port: PortOpt = None,
    allow_origin: AllowOriginOpt = None,
    idle_timeout: IdleTimeoutOpt = None,
    max_lifetime: MaxLifetimeOpt = None,
    integration_timeout: IntegrationTimeoutOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create or update the stack on AWS (or run it here with --local), then print its URL.

    Examples:

    \b
      wsctl up --local                  # on this machine, until Ctrl-C
      wsctl up --stage prod --region eu-west-1 --auth token
      wsctl up --json | jq -r .url
    """
    spec = resolve_spec(config, name=name, stage=stage, region=region, auth=auth_mode)
    if local:
        from wsctl.local.quotas import quotas_for

        origins = _allowed_origins([*spec.local.allow_origins, *(allow_origin or [])])
        quotas = quotas_for(
            spec.local,
            idle_timeout=idle_timeout,
            max_lifetime=max_lifetime,
            integration_timeout=integration_timeout,
        )
        if port is None:
            port = spec.local.port if spec.local.port is not None else DEFAULT_LOCAL_PORT
        raise typer.Exit(
            _up_local(
                spec,
                port=port,
                rotate_token=rotate_token,
                origins=origins,
                quotas=quotas,
                as_json=as_json,
            )
        )
    timers = (idle_timeout, max_lifetime, integration_timeout)
    if port is not None or any(value is not None for value in timers):
        raise ConfigError("--port and the timer options apply to up --local.")
    if allow_origin:
        raise ConfigError("--allow-origin applies to up --local (API Gateway checks no Origin).")
    token_digest = None
    if spec.auth == "token":
        token_digest = auth.token_digest(auth.ensure_token(spec.stack, rotate=rotate_token))
    elif spec.auth == "none":
        err.print("Warning: auth is none: anyone with the URL can connect (see --auth).")

    from wsctl.aws import deploy
    from wsctl.aws.progress import RichReporter, unchanged_summary

    client = _aws_client(spec, profile, endpoint_url)
    started = time.monotonic()
    err.print(f"Deploying stack {spec.stack} to {client.region}")
    reporter = RichReporter(err)
    try:
        result = deploy.up(client, spec, token_digest=token_digest, reporter=reporter)
    except KeyboardInterrupt:
        reporter.stop()
        # Every resource is tagged when it is created, so the next run finds all of it.
        err.print("Stopped part-way: run 'wsctl up' to finish, or 'wsctl down' to remove it.")
        raise
    finally:
        reporter.stop()
    endpoint = result.endpoint
    state.save_deployed(spec.stack, endpoint.facts(spec.auth))
    unchanged = len(result.outcomes) - result.changed
    summary = unchanged_summary([outcome.action for outcome in result.outcomes])
    err.print(
        f"Done in {time.monotonic() - started:.1f} s: {result.changed} changed, "
        f"{unchanged} unchanged" + (f" ({summary})." if summary else ".")
    )
    if as_json:
        facts = {
            "stack": endpoint.stack,
            "region": endpoint.region,
            "url": endpoint.url,
            "managementUrl": endpoint.management_url,
            "apiId": endpoint.api_id,
            "auth": spec.auth,
            "changed": result.changed,
            "unchanged": len(result.outcomes) - result.changed,
        }
        _print_json(facts)
        return
    out.print(f"WebSocket URL:   {escape(endpoint.url)}")
    out.print(f"Management URL:  {escape(endpoint.management_url)}")
    out.print(f"Region:          {endpoint.region}")
    out.print(f"Stack:           {endpoint.stack}")
    if spec.auth == "token":
        out.print("Auth:            token (kept by wsctl; its client commands send it)")
    elif spec.auth == "iam":
        out.print("Auth:            iam (handshakes signed with AWS credentials)")
    elif spec.auth == "custom" and spec.authorizer is not None:
        out.print(f"Auth:            custom (authorizer {escape(spec.authorizer.function)})")


def _up_local(
    spec: ServiceSpec,
    *,
    port: int,
    rotate_token: bool,
    origins: tuple[str, ...],
    quotas: Quotas,
    as_json: bool,
) -> int:
    serve = _local_serve()
    token = None
    if spec.auth == "token":
        token = auth.ensure_token(state.local_token_key(spec.stack), rotate=rotate_token)
    return serve.run_foreground(
        spec, port=port, auth_token=token, allow_origins=origins, quotas=quotas, as_json=as_json
    )


def _allowed_origins(values: list[str]) -> tuple[str, ...]:
    from wsctl.local.origin import parse_allowed

    try:
        return tuple(parse_allowed(value) for value in values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _print_json(facts: dict) -> None:
    """One JSON object on stdout: the facts of a command, for scripts (camelCase keys)."""
    typer.echo(json.dumps(facts, indent=2))


def _local_serve():
    try:
        from wsctl.local import serve
    except ModuleNotFoundError as exc:
        if exc.name in ("wsctl.local", "wsctl.local.serve"):
            raise WsctlError("The local emulator is not part of this wsctl build") from None
        raise
    return serve


def down(
    config: ConfigOpt = None,
    stage: StageOpt = None,
    name: NameOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    local: LocalOpt = False,
    yes: YesOpt = False,
    forget_token: ForgetTokenOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Delete every resource of the stack (found by name and tag), or stop --local.

    Examples:

    \b
      wsctl down --local
      wsctl down --stage prod --yes --json
    """
    spec = resolve_spec(config, name=name, stage=stage, region=region)
    if local:
        stopped = _local_serve().stop(spec)
        err.print(
            f"Stopped the local emulator of {spec.stack}."
            if stopped
            else f"No local emulator of {spec.stack} is running; nothing to stop."
        )
        if as_json:
            _print_json({"stack": spec.stack, "local": True, "stopped": stopped})
        return

    from wsctl.aws import deploy
    from wsctl.aws.planner import KIND_LABELS
    from wsctl.aws.progress import RichReporter

    client = _aws_client(spec, profile, endpoint_url)
    remote, actions = deploy.find(client, spec)
    for foreign in remote.foreign:
        err.print(
            f"Warning: leaving {foreign.kind} {escape(foreign.name)} alone: it is not tagged "
            f"{naming.STACK_TAG}={spec.stack}, so wsctl did not create it."
        )
    from wsctl.aws.planner import retained_tables

    kept = retained_tables(spec, remote)
    for table in kept:
        err.print(f"Keeping table {escape(table)} (retain = true in wsctl.toml).")
    deleted: list[dict] = []
    if not actions:
        err.print(f"Nothing of stack {spec.stack} in {client.region}; nothing to delete.")
    else:
        _confirm(f"Delete {len(actions)} resources of stack {spec.stack} in {client.region}?", yes)
        err.print(f"Deleting stack {spec.stack} from {client.region}")
        reporter = RichReporter(err)
        try:
            result = deploy.down(client, spec, remote=remote, reporter=reporter)
        finally:
            reporter.stop()
        err.print(f"Stack {spec.stack} deleted ({len(result.outcomes)} resources).")
        deleted = [
            {"kind": KIND_LABELS[outcome.action.kind], "name": outcome.action.name}
            for outcome in result.outcomes
        ]
    state.clear_deployed(spec.stack)
    if forget_token:
        state.clear_token(spec.stack)
    if as_json:
        facts = {"stack": spec.stack, "region": client.region, "deleted": deleted}
        facts["leftAlone"] = [{"kind": f.kind, "name": f.name} for f in remote.foreign]
        facts["kept"] = [{"kind": KIND_LABELS["table"], "name": table} for table in kept]
        _print_json(facts)


def _confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not sys.stdin.isatty():
        raise ConfigError(f"{question} Pass --yes to confirm when there is no terminal.")
    if not typer.confirm(question, default=False, err=True):
        raise WsctlError("Not confirmed; nothing was deleted.")


def status(
    config: ConfigOpt = None,
    stage: StageOpt = None,
    name: NameOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    local: LocalOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Each resource of the stack with its id and state, the endpoint and stored connections.

    Exit code 0 when the stack is deployed (even if out of date), 1 when absent or partial;
    with --local, 0 when its emulator is running here, 1 when not.

    Examples:

    \b
      wsctl status
      wsctl status --local --json
    """
    spec = resolve_spec(config, name=name, stage=stage, region=region)
    if local:
        _local_status(spec, as_json)
        return
    from wsctl.aws import deploy

    try:
        client = _aws_client(spec, profile, endpoint_url)
    except ConfigError as exc:
        if state.load_local(spec.stack) is None:
            raise
        raise ConfigError(
            f"{exc}. The stack runs on this machine: `wsctl status --local` describes it"
        ) from None
    token = state.load_token(spec.stack) if spec.auth == "token" else None
    found = deploy.status(client, spec, token_digest=auth.token_digest(token) if token else None)
    if as_json:
        _print_json(found.as_dict())
    else:
        _print_status(found)
    if not found.present:
        raise typer.Exit(1)


def _local_status(spec: ServiceSpec, as_json: bool) -> None:
    record = state.load_local(spec.stack)
    if as_json:
        facts = record.facts() if record is not None else {"stack": spec.stack}
        _print_json({**facts, "running": record is not None})
    elif record is None:
        out.print(f"Stack {spec.stack} is not running on this machine: run 'wsctl up --local'.")
    else:
        started = datetime.fromtimestamp(record.started_at).strftime("%Y-%m-%d %H:%M:%S")
        out.print(f"Stack {spec.stack} is running on this machine (since {started}).")
        out.print(f"WebSocket URL:   {escape(record.url)}")
        out.print(f"Management URL:  {escape(record.management_url)}")
        out.print(f"Auth:            {record.auth}")
        out.print(f"Process:         {record.pid}")
    if record is None:
        raise typer.Exit(1)


def _print_status(found) -> None:
    from rich.table import Table

    summary = {
        "deployed": "is deployed",
        "out of date": "is deployed but out of date: run 'wsctl up'",
        "partial": "is partially deployed: run 'wsctl up' to finish, or 'wsctl down'",
        "absent": "is not deployed: run 'wsctl up'",
    }[found.state]
    out.print(f"Stack {found.stack} in {found.region} {summary}.")
    if found.state == "absent":
        return
    if found.endpoint:
        out.print(f"WebSocket URL:   {escape(found.endpoint.url)}")
        out.print(f"Management URL:  {escape(found.endpoint.management_url)}")
    if found.connections is not None:
        out.print(f"Connections:     {found.connections} stored")
    # Fits 80 columns: names whole on one line, ARNs and ids left to --json.
    table = Table(box=None, pad_edge=False)
    table.add_column("resource", no_wrap=True)
    table.add_column("name", no_wrap=True, overflow="fold")
    table.add_column("state", overflow="fold")
    for row in found.resources:
        table.add_row(row.kind, escape(row.name), row.state)
    out.print(table)
    if found.tables:
        tables = Table(box=None, pad_edge=False)
        for column in ("table", "key", "items", "state"):
            tables.add_column(column, overflow="fold")
        for row in found.tables:
            items = "-" if row.items is None else str(row.items)
            tables.add_row(escape(row.name), escape(row.key), items, row.state)
        out.print(tables)


def logs(
    config: ConfigOpt = None,
    stage: StageOpt = None,
    name: NameOpt = None,
    region: RegionOpt = None,
    profile: ProfileOpt = None,
    endpoint_url: EndpointUrlOpt = None,
    follow: FollowOpt = False,
    since: SinceOpt = "10m",
    function: FunctionOpt = None,
    as_json: Annotated[
        bool,
        typer.Option("--json", help="One JSON object per event on stdout (JSON Lines)."),
    ] = False,
) -> None:
    """The functions' CloudWatch log events in time order; --follow polls until Ctrl-C.

    Examples:

    \b
      wsctl logs --since 1h
      wsctl logs -f --function broadcast
      wsctl logs --json | jq -r .message
    """
    from wsctl.aws.resources import deployable  # with auth = token: its authorizer's logs too

    spec = deployable(resolve_spec(config, name=name, stage=stage, region=region))
    from wsctl.aws import logs as stack_logs

    start_ms = int((time.time() - stack_logs.parse_since(since)) * 1000)
    if function is not None and function not in spec.functions:
        defined = ", ".join(sorted(spec.functions))
        raise ConfigError(f"--function {function!r}: no such function; defined: {defined}")
    chosen = [function] if function else sorted(spec.functions)
    groups = {fn: naming.log_group_name(spec, fn) for fn in chosen}
    client = _aws_client(spec, profile, endpoint_url)
    show = _log_json_line if as_json else _print_log_line
    which = f"function {function}" if function else f"the {len(chosen)} functions"
    if follow:
        err.print(
            f"Waiting for log events of {which} of stack {spec.stack} (since {since} ago); "
            "Ctrl-C stops."
        )
        stack_logs.follow(client, groups, start_ms, show)
        return
    lines = stack_logs.fetch(client, groups, start_ms)
    for line in lines:
        show(line)
    if not lines:
        err.print(
            f"No log events of {which} of stack {spec.stack} in the last {since}: "
            "try --since 1h, or --follow to wait for new ones."
        )


def _log_time(timestamp_ms: int) -> str:
    at = datetime.fromtimestamp(timestamp_ms / 1000, tz=UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{timestamp_ms % 1000:03d}"


def _print_log_line(line) -> None:
    # Log messages are written by code running in the cloud: escape control characters so
    # that none can drive the terminal (colours, cursor moves, titles, clipboard writes).
    message = "\n".join(terminal_safe(part) for part in line.message.split("\n"))
    out.print(f"{_log_time(line.timestamp_ms)} [bold]{escape(line.function)}[/] {escape(message)}")


def _log_json_line(line) -> None:
    event = {
        "timestamp": line.timestamp_ms,
        "time": _log_time(line.timestamp_ms),
        "function": line.function,
        "message": line.message,
        "eventId": line.event_id,
    }
    out.out(json.dumps(event, ensure_ascii=False), highlight=False)


def register(app: typer.Typer) -> None:
    app.command("up")(up)
    app.command("down")(down)
    app.command("status")(status)
    app.command("logs")(logs)

"""Commands for a service of the user's own: ``wsctl init`` and ``wsctl validate``."""

from __future__ import annotations

import json
import os
import shlex
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from wsctl.config import CONFIG_FILE, ServiceSpec, parse_spec_file
from wsctl.console import out
from wsctl.options import ConfigOpt, JsonOpt, NameOpt, RegionOpt, StageOpt, resolve_spec


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("validate")(validate)


def _shown(path: Path) -> str:
    """``path`` as the user would type it from here."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return relative if not relative.startswith("..") else str(path)


def init(
    directory: Annotated[
        Path, typer.Argument(help="Where to create the service (default: here).")
    ] = Path("."),
    name: Annotated[
        str | None,
        typer.Option("--name", help="Stack name (default: from the directory's name)."),
    ] = None,
    region: Annotated[
        str | None, typer.Option("--region", help="AWS region to write into wsctl.toml.")
    ] = None,
) -> None:
    """Start a service of your own from the bundled one: handlers, wsctl.toml, a test."""
    from wsctl.project.scaffold import plan_service, write_service

    service = plan_service(directory, name=name, region=region)
    write_service(service)
    spec = parse_spec_file(directory / CONFIG_FILE)  # what every command will now read
    where = _shown(directory.resolve())
    out.print(f"Created the service [bold]{spec.name}[/] in {escape(where)}/:")
    for new in service.files:
        out.print(f"  {new.path}", markup=False)
    steps = [] if where == "." else [f"cd {shlex.quote(where)}"]
    steps += [
        "wsctl up --local            # run it here; handlers reload as you save them",
        "python -m pytest tests      # the example test, through the local emulator",
        "wsctl up                    # deploy it to AWS",
    ]
    out.print("Next steps:")
    for step in steps:
        out.print(f"  {step}", markup=False)


def _summary(spec: ServiceSpec) -> dict:
    return {
        "config": str(spec.source) if spec.source else None,
        "stack": spec.stack,
        "name": spec.name,
        "stage": spec.stage,
        "region": spec.region,
        "runtime": spec.runtime,
        "architecture": spec.architecture,
        "auth": spec.auth,
        "functions": {
            f.name: {
                "handler": f.handler,
                "memory": f.memory,
                "timeout": f.timeout,
                "permissions": list(f.permissions),
                # Names only: values may be secrets and are never printed.
                "environment": sorted(f.environment),
            }
            for f in spec.functions.values()
        },
        "routes": dict(spec.routes),
        "respondRoutes": sorted(spec.respond_routes),
        "authorizer": (
            {
                "function": spec.authorizer.function,
                "identitySources": list(spec.authorizer.identity_sources),
            }
            if spec.authorizer
            else None
        ),
        "requirements": spec.requirements_file.is_file(),
    }


def validate(
    config: ConfigOpt = None,
    name: NameOpt = None,
    stage: StageOpt = None,
    region: RegionOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check wsctl.toml (handlers, routes, names) and show the service it describes."""
    spec = resolve_spec(config, name=name, stage=stage, region=region)
    if as_json:
        typer.echo(json.dumps(_summary(spec), indent=2))
        return
    source = _shown(spec.source) if spec.source else "the bundled service"
    out.print(
        f"{escape(source)}: stack [bold]{spec.stack}[/] ({spec.runtime}, {spec.architecture})"
    )
    for key, fname in spec.routes.items():
        function = spec.functions[fname]
        two_way = ", two-way" if key in spec.respond_routes else ""
        out.print(f"  {key:<14} -> {fname} ({function.handler}{two_way})", markup=False)
    if spec.authorizer is not None:
        sources = ", ".join(spec.authorizer.identity_sources) or "no identity sources"
        out.print(f"  authorizer     -> {spec.authorizer.function} ({sources})", markup=False)
    for function in spec.functions.values():
        if function.environment:
            names = ", ".join(sorted(function.environment))
            out.print(f"  environment of {function.name}: {names}", markup=False)
    called = set(spec.routes.values()) | ({spec.authorizer.function} if spec.authorizer else set())
    unrouted = sorted(set(spec.functions) - called)
    if unrouted:
        out.print(f"  not called by any route: {', '.join(unrouted)}", markup=False)

"""Options shared by several commands, declared once (``Annotated`` typer options)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wsctl.config import ServiceSpec, load_spec

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="WSCTL_CONFIG",
        help="The service's wsctl.toml (default: ./wsctl.toml, else the bundled service).",
        show_default=False,
    ),
]
StageOpt = Annotated[
    str | None, typer.Option("--stage", help="Stage name (default: from wsctl.toml, or dev).")
]
NameOpt = Annotated[
    str | None, typer.Option("--name", help="Stack name prefix (default: from wsctl.toml).")
]
RegionOpt = Annotated[
    str | None,
    typer.Option("--region", help="AWS region (default: wsctl.toml, then AWS_REGION/profile)."),
]
ProfileOpt = Annotated[
    str | None, typer.Option("--profile", envvar="AWS_PROFILE", help="AWS credentials profile.")
]
EndpointUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        help="Send AWS calls here (a moto server or LocalStack).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Machine-readable output on stdout, nothing else.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
LocalOpt = Annotated[
    bool, typer.Option("--local", help="The service running on this machine (up --local).")
]


def resolve_spec(
    config: Path | None,
    *,
    name: str | None = None,
    stage: str | None = None,
    region: str | None = None,
    auth: str | None = None,
) -> ServiceSpec:
    """The service from wsctl.toml (or the bundled one), with flags overriding the file."""
    return load_spec(config).with_overrides(name=name, stage=stage, region=region, auth=auth)

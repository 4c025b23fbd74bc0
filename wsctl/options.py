"""Options shared by several commands, declared once (``Annotated`` typer options)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from wsctl.config import ServiceSpec, load_spec
from wsctl.errors import ConfigError

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        envvar="WSCTL_CONFIG",
        metavar="FILE",
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


def _endpoint_url(value: str | None) -> str | None:
    """``--endpoint-url`` / ``AWS_ENDPOINT_URL``: an http(s) URL with a host, or a usage error
    (botocore would fail later with a ValueError deep in a client)."""
    if value is None or value == "":
        return value or None
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        parts = urlsplit("")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"--endpoint-url (or AWS_ENDPOINT_URL) {value!r} is not a URL: use "
            "http://HOST:PORT or https://HOST, or unset AWS_ENDPOINT_URL"
        )
    return value


EndpointUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint-url",
        envvar="AWS_ENDPOINT_URL",
        metavar="URL",
        callback=_endpoint_url,
        help="Send AWS calls here (a moto server or LocalStack).",
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Machine-readable output on stdout, nothing else.")
]
YesOpt = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
# Every client command (connect, send, broadcast, connections, bench) takes the URL as its
# optional last positional argument, with --url as an alias (DESIGN.md section 2).
URL_HELP = (
    "ws:// or wss:// URL; without a scheme ws:// is assumed, as wscat does (default: the "
    "stack's running local service, else the deployed one)."
)
UrlArg = Annotated[str | None, typer.Argument(metavar="[URL]", help=URL_HELP, show_default=False)]
UrlAliasOpt = Annotated[
    str | None,
    typer.Option("--url", metavar="URL", help="The URL, as an option.", show_default=False),
]
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


def pick_url(positional: str | None, option: str | None) -> str | None:
    """The one URL a client command was given (positional or ``--url``), with ``ws://`` added
    when it has no scheme (wscat's habit: ``127.0.0.1:8765/dev``); None when neither is given."""
    if positional is not None and option is not None and positional != option:
        raise ConfigError(
            f"two URLs given ({positional!r} and --url {option!r}): give the URL once"
        )
    url = positional if positional is not None else option
    if url is None:
        return None
    url = url.strip()
    if not url:
        raise ConfigError("the URL is empty: give ws://HOST[:PORT]/PATH or wss://…")
    if "://" not in url:
        url = f"ws://{url}"
    try:
        urlsplit(url).port  # noqa: B018  (raises on a malformed host or port)
    except ValueError as exc:
        raise ConfigError(f"{url!r} is not a URL ({exc}): use ws://HOST[:PORT]/PATH") from None
    return url

"""The ``wsctl`` command: the typer app, and the one boundary that turns errors into exit codes.

Each area registers its commands from its own module in ``wsctl.commands``. Those modules
import heavy libraries (boto3, moto) inside the commands that need them, so that client
commands start fast.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated

import typer
from rich.markup import escape

from wsctl import __version__
from wsctl.console import err
from wsctl.errors import ExitCode, WsctlError

COMMAND_MODULES: tuple[str, ...] = ("auth", "project", "local", "stack", "client", "bench")

app = typer.Typer(
    name="wsctl",
    help="A serverless WebSocket service on AWS, or on this machine, in one command.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wsctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", envvar="WSCTL_DEBUG", help="Show tracebacks on errors.")
    ] = False,
) -> None:
    """A serverless WebSocket service on AWS, or on this machine, in one command."""


for _module in COMMAND_MODULES:
    importlib.import_module(f"wsctl.commands.{_module}").register(app)


def _debugging(argv: Sequence[str]) -> bool:
    return "--debug" in argv or os.environ.get("WSCTL_DEBUG", "") not in ("", "0")


def run(argv: Sequence[str] | None = None) -> int:
    """Run wsctl with ``argv`` and return its exit code; errors become one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        result = command.main(args=args, prog_name="wsctl", standalone_mode=False)
    except WsctlError as exc:
        if _debugging(args):
            err.print_exception()
        err.print(f"[bold red]Error:[/] {escape(str(exc))}", markup=True, highlight=False)
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        err.print("Interrupted.")
        return int(ExitCode.INTERRUPTED)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # click's usage errors: they print themselves
        exc.show()
        return exc.exit_code
    except Exception as exc:
        if _debugging(args):
            err.print_exception()
        err.print(
            f"[bold red]Error:[/] internal error: {type(exc).__name__}: {escape(str(exc))} "
            "(re-run with --debug for the traceback, and please report it)",
            markup=True,
            highlight=False,
        )
        return int(ExitCode.FAILED)
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())

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
from wsctl.console import OutputClosed, err, silence_closed_output
from wsctl.errors import ConfigError, ExitCode, WsctlError

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


def _check_arguments(args: Sequence[str]) -> None:
    """Refuse arguments that are not text: the shell passes undecodable bytes as surrogate
    escapes (``$(printf 'caf\\xe9')``), which nothing could send or print."""
    for position, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = "".join(_undecoded(char) for char in arg)
            raise ConfigError(
                f"argument {position} ({shown}) is not valid UTF-8: "
                "check the terminal's or the script's encoding"
            ) from None


def _undecoded(char: str) -> str:
    """A character as typed: an undecodable byte (a surrogate escape) as ``\\xNN``."""
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    return char.encode("utf-8", "backslashreplace").decode("utf-8")


def run(argv: Sequence[str] | None = None) -> int:
    """Run wsctl with ``argv`` and return its exit code; errors become one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = typer.main.get_command(app)
    try:
        _check_arguments(args)
        result = command.main(args=args, prog_name="wsctl", standalone_mode=False)
    except (OutputClosed, BrokenPipeError):
        silence_closed_output()
        return int(ExitCode.OK)
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
    except typer.TyperException as exc:  # usage errors: one line, with where to look
        if getattr(exc, "exit_code", None) != ExitCode.USAGE:
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", ExitCode.FAILED))
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "wsctl"
        err.print(
            f"[bold red]Error:[/] {escape(exc.format_message())} (see '{where} --help')",
            markup=True,
            highlight=False,
        )
        return int(ExitCode.USAGE)
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

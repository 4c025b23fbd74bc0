"""The ``wsctl`` command: the typer app, and the one boundary that turns errors into exit codes.

Each area registers its commands from its own module in ``wsctl.commands``. Those modules
import heavy libraries (boto3, moto) inside the commands that need them, and the client
commands are built alone when one of them runs (``FAST_COMMANDS``), so that `wsctl send`
starts nearly as fast as a plain websockets script (benchmarks/startup.py). rich loads only
when something is printed through it.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from typer.core import TyperArgument, TyperGroup, TyperOption

from wsctl import __version__, console
from wsctl.console import OutputClosed, silence_closed_output
from wsctl.errors import ConfigError, ExitCode, WsctlError

COMMAND_MODULES: tuple[str, ...] = (
    "auth",
    "project",
    "local",
    "stack",
    "policy",
    "client",
    "bench",
)
# The commands scripts run in loops: only their module is loaded and built when they run.
FAST_COMMANDS: dict[str, str] = {
    "connect": "client",
    "send": "client",
    "broadcast": "client",
    "connections": "client",
    "bench": "bench",
}

# Commands grouped by job in `wsctl --help`, as gh and git do; a command not listed here is
# shown under "Other commands".
COMMAND_GROUPS: dict[str, tuple[str, ...]] = {
    "Start here": ("demo", "init", "validate", "help"),
    "Run a stack": ("up", "down", "status", "logs", "token", "policy"),
    "Talk to a stack": ("connect", "send", "broadcast", "connections", "bench"),
}
EXAMPLES = """\
  wsctl demo                               # the service on this machine, in a few seconds
  wsctl up --local                         # keep it running here (Ctrl-C stops)
  wsctl connect                            # talk to it from another terminal
  wsctl send '{"action":"whoami"}'         # one request, its reply
  wsctl up --stage prod --region eu-west-1 # deploy it to AWS"""


class WsctlGroup(TyperGroup):
    """The root command: help that lists commands by job, with examples (git, gh, httpie)."""

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        commands = {
            name: command
            for name in self.list_commands(ctx)
            if (command := self.get_command(ctx, name)) is not None and not command.hidden
        }
        grouped = {name for names in COMMAND_GROUPS.values() for name in names}
        groups = {
            title: [n for n in names if n in commands] for title, names in COMMAND_GROUPS.items()
        }
        groups["Other commands"] = sorted(set(commands) - grouped)
        for title, names in groups.items():
            if names:
                with formatter.section(title):
                    formatter.write_dl(
                        [(name, commands[name].get_short_help_str(200)) for name in names]
                    )

    def format_epilog(self, ctx: Any, formatter: Any) -> None:
        formatter.write_paragraph()
        formatter.write_text("Examples:")
        formatter.write(EXAMPLES + "\n")
        formatter.write_paragraph()
        formatter.write_text(
            "Run 'wsctl help COMMAND' (or 'wsctl COMMAND --help') for a command's options. "
            "Docs: docs/ in the project, starting at README.md."
        )


def _new_app() -> typer.Typer:
    return typer.Typer(
        name="wsctl",
        cls=WsctlGroup,
        help="A serverless WebSocket service on AWS, or on this machine, in one command.",
        no_args_is_help=False,  # run() shows the help itself, on stdout with exit 0, as gh does
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode=None,
        context_settings={"help_option_names": ["-h", "--help"]},
    )


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wsctl {__version__}")
        raise typer.Exit()


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


def help_command(
    command: Annotated[
        list[str] | None, typer.Argument(help="The command to explain (none: all of them).")
    ] = None,
) -> None:
    """Show the help of wsctl, or of one command: `wsctl help send`."""
    raise typer.Exit(run([*(command or []), "--help"]))


def build_app(modules: Sequence[str] = COMMAND_MODULES) -> typer.Typer:
    """The typer app with the commands of ``modules`` (all of them by default)."""
    built = _new_app()
    built.callback()(_root)
    for module in modules:
        importlib.import_module(f"wsctl.commands.{module}").register(built)
    if tuple(modules) == COMMAND_MODULES:
        built.command("help")(help_command)
    return built


def __getattr__(name: str) -> Any:
    if name == "app":  # the whole app, for whoever wants it (built on first use)
        return build_app()
    raise AttributeError(name)


def _modules_for(args: Sequence[str]) -> Sequence[str]:
    """Only the client module when a client command runs; everything otherwise."""
    first = next((arg for arg in args if not arg.startswith("-")), None)
    module = FAST_COMMANDS.get(first or "")
    return (module,) if module is not None else COMMAND_MODULES


def tidy_help(command: Any) -> None:
    """Help without type placeholders (``<bool>``, ``<str>``): a flag shows nothing, an
    option its METAVAR, an argument its name; the usage line writes arguments as git does
    (``MESSAGE [URL]``)."""
    for param in command.params:
        if isinstance(param, TyperOption):
            if param.is_flag:
                param.display_type_rich = _nothing  # type: ignore[method-assign]
            elif param.metavar is None:
                param.metavar = (param.name or "value").upper()
        elif isinstance(param, TyperArgument):
            param.display_type_rich = _nothing  # type: ignore[method-assign]
            name = param.metavar or (param.name or "arg").upper()
            shown = name if param.required else f"[{name.strip('[]')}]"
            param.get_usage_pieces = lambda ctx, shown=shown: [shown]  # type: ignore[method-assign]
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)


def _nothing(ctx: Any = None) -> None:
    return None


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


def _error(message: str, args: Sequence[str]) -> None:
    """The one line on stderr (and the traceback first, with --debug)."""
    from rich.markup import escape

    if _debugging(args):
        console.err.print_exception()
    console.err.print(f"[bold red]Error:[/] {escape(message)}", markup=True, highlight=False)


def run(argv: Sequence[str] | None = None) -> int:
    """Run wsctl with ``argv`` and return its exit code; errors become one line on stderr."""
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    command = typer.main.get_command(build_app(_modules_for(args)))
    tidy_help(command)
    try:
        _check_arguments(args)
        result = command.main(args=args, prog_name="wsctl", standalone_mode=False)
    except (OutputClosed, BrokenPipeError):
        silence_closed_output()
        return int(ExitCode.OK)
    except WsctlError as exc:
        _error(str(exc), args)
        return int(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        console.err.print("Interrupted.")
        return int(ExitCode.INTERRUPTED)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.TyperException as exc:  # usage errors: one line, with where to look
        if getattr(exc, "exit_code", None) != ExitCode.USAGE:
            exc.show()  # type: ignore[attr-defined]
            return int(getattr(exc, "exit_code", ExitCode.FAILED))
        context = getattr(exc, "ctx", None)
        where = context.command_path if context is not None else "wsctl"
        _error(f"{exc.format_message()} (see '{where} --help')", args)
        return int(ExitCode.USAGE)
    except Exception as exc:
        _error(
            f"internal error: {type(exc).__name__}: {exc} "
            "(re-run with --debug for the traceback, and please report it)",
            args,
        )
        return int(ExitCode.FAILED)
    return result if isinstance(result, int) else 0


def main() -> None:
    sys.exit(run())

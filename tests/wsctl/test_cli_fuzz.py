"""Every command's options, fuzzed (issue 13): whatever the values, wsctl answers with exit 0,
1 or 2, never a traceback and never an "internal error".

Values come from pools that cannot leave this machine: URLs, proxies and endpoints point at
127.0.0.1 (a closed port) or are malformed, so nothing resolves a name or reaches AWS; AWS
calls go to moto in-process. Success paths that would run until stopped are kept out: `up
--local` and `demo` only get ports that are taken or invalid, and `logs --follow` is not
drawn.
"""

from __future__ import annotations

import io
import socket
import sys
from collections.abc import Iterator

import pytest
import typer.main
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from wsctl.cli import build_app

COMMANDS = typer.main.get_command(build_app()).commands
NEVER_DRAWN = {"--follow"}  # runs until Ctrl-C
AWS_COMMANDS = {"down", "status", "logs"}
TAKEN = "TAKEN-PORT"  # replaced by the taken port when run (examples are replayed across runs)

# Text as a shell passes it: no NUL (execve cannot carry one), no lone surrogates except the
# ones Python makes of undecodable bytes.
TEXT = st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=24)
UNDECODABLE = st.sampled_from([b"caf\xe9".decode("utf-8", "surrogateescape"), "\udcff"])
NUMBERS = st.sampled_from(["-1", "0", "1", "0.05", "1e309", "nan", "inf", "-inf", "99999",
                           "99999999999999999999", "1_000", "0x10", "", "-"])  # fmt: skip
CLOSED_URLS = st.sampled_from(["ws://127.0.0.1:1/dev", "127.0.0.1:1/dev", "wss://127.0.0.1:1/",
                               "http://127.0.0.1:1/", "ws://[", "ws://127.0.0.1:99999/",
                               "ws://u:p@127.0.0.1:1/?token=x", "", "ws://", "wss://[::1]:1/",
                               "ftp://127.0.0.1:1/"])  # fmt: skip
ENDPOINTS = st.sampled_from(["not-a-url", "http://", "http://127.0.0.1:notaport", "ftp://x",
                             "", "https://[", "http://127.0.0.1:1"])  # fmt: skip
PATHS = st.sampled_from(["/nonexistent/file.pem", "", "-", "/dev/null", ".", "/"])


def values_for(option: str) -> st.SearchStrategy[str]:
    """The pool for one option, by what it means."""
    if option in ("--url", "url", "--proxy"):
        return CLOSED_URLS
    if option == "--endpoint-url":
        return ENDPOINTS
    if option in ("--ca", "--cert", "--key", "--config"):
        return st.one_of(PATHS, TEXT.map(lambda t: f"/nonexistent/{t}"))
    if option == "--port":
        return st.sampled_from([TAKEN, "-1", "65536", "99999", "x", "", "8.5"])
    if option in ("--wait", "--timeout", "--expires"):
        return st.one_of(NUMBERS, TEXT)
    return st.one_of(TEXT, NUMBERS, UNDECODABLE, st.sampled_from(["dev\n", "a" * 200, "-x"]))


@st.composite
def invocations(draw, command: str) -> list[str]:
    """``command`` with a random selection of its options and arguments, in random order."""
    args: list[str] = [command]
    params = [p for p in COMMANDS[command].params if not set(p.opts) & NEVER_DRAWN]
    chosen = draw(st.lists(st.sampled_from(params), max_size=5, unique_by=lambda p: p.name))
    for param in chosen:
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            args.append(flag)
        elif flag.startswith("-"):
            args += [flag, draw(values_for(flag))]
        else:  # an argument
            args.append(draw(values_for(param.name)))
    return args


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    """A port something already listens on: `up --local` and `demo` fail fast on it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture(autouse=True)
def no_input(monkeypatch, tmp_path) -> None:
    """Empty stdin (not a terminal) and a scratch directory."""
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b""), encoding="utf-8"))
    monkeypatch.chdir(tmp_path)


def check(cli, args: list[str]) -> None:
    result = cli(*args)
    shown = result.stdout + result.stderr
    assert result.exit_code in (0, 1, 2), (args, result.exit_code, shown)
    assert "Traceback" not in shown, (args, shown)
    assert "internal error" not in shown, (args, shown)


FUZZ = settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.timeout(600)
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_option_of_every_command_fails_cleanly(cli, taken_port, command):
    """Random options and values for each command: exit 0/1/2, no traceback, no internal
    error (each failing example is printed with the arguments that caused it)."""

    @FUZZ
    @given(args=invocations(command))
    def run(args: list[str]) -> None:
        args = [str(taken_port) if arg == TAKEN else arg for arg in args]
        if command == "up":  # only the local target, on a taken port: deploys are test_deploy's
            args += [] if "--local" in args else ["--local"]
            args += [] if "--port" in args else ["--port", str(taken_port)]
        check(cli, args)

    if command in AWS_COMMANDS:  # moto answers every AWS call; the emulator starts its own
        with mock_aws():
            run()
    else:
        run()

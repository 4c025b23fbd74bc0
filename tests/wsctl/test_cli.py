"""The CLI boundary: version, help, and errors as one line with the documented exit codes."""

import re

import pytest

from wsctl import __version__


def test_version_prints_the_package_version(cli):
    """`wsctl --version` prints the version and exits 0."""
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"wsctl {__version__}"


def test_unknown_command_is_a_usage_error(cli):
    """An unknown command exits 2 with click's usage message, no traceback."""
    result = cli("no-such-command")
    assert result.exit_code == 2
    assert "No such command" in result.stderr
    assert "Traceback" not in result.stderr


OWN_COMMANDS = ("demo", "up", "down", "status", "logs", "token", "connect", "send", "broadcast",
                "connections")  # fmt: skip
PLACEHOLDER = re.compile(r"<(bool|str|int|float|path|list|float range|int range)[^>]*>")


def test_root_help_groups_commands_by_job_with_examples(cli):
    """`wsctl --help` and `wsctl help`: commands under Start here / Run a stack / Talk to a
    stack, examples, no leading blank line, no type placeholders."""
    for args in (["--help"], ["help"], []):
        result = cli(*args)
        assert result.exit_code == 0, (args, result.stderr)
        text = result.stdout
        assert text.startswith("Usage: wsctl"), args
        positions = [text.index(f"\n{title}:\n") for title in
                     ("Start here", "Run a stack", "Talk to a stack", "Examples")]  # fmt: skip
        assert positions == sorted(positions)
        assert "wsctl up --local" in text and not PLACEHOLDER.search(text)


@pytest.mark.parametrize("command", OWN_COMMANDS)
def test_each_command_help_has_examples_and_no_placeholders(cli, command):
    """`wsctl help CMD` is `wsctl CMD --help`: usage, examples, options with METAVARs, no
    `<bool>`-style placeholders."""
    result = cli("help", command)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == cli(command, "--help").stdout
    assert result.stdout.startswith(f"Usage: wsctl {command} ")
    assert "Examples:\n" in result.stdout
    assert not PLACEHOLDER.search(result.stdout), PLACEHOLDER.search(result.stdout)


def test_help_for_an_unknown_command_is_a_usage_error(cli):
    """`wsctl help nope`: one line, exit 2."""
    result = cli("help", "nope")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1


def test_help_shows_no_markup_escapes(cli):
    """Help is plain text: no rich markup escapes (a literal \\[ would show)."""
    for command in (*OWN_COMMANDS, "init", "validate", "bench"):
        assert "\\[" not in cli(command, "--help").stdout, command

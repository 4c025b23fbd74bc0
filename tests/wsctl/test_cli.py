"""The CLI boundary: version, help, and errors as one line with the documented exit codes."""

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

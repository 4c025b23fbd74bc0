"""The stack commands' module stays light: client commands must not pay for boto3."""

from __future__ import annotations

import subprocess
import sys


def test_stack_commands_do_not_import_boto3_at_startup():
    """Importing the CLI (with the stack commands registered) loads neither boto3 nor the
    deployer; they are imported inside the commands."""
    code = (
        "import sys, wsctl.cli, wsctl.commands.stack; "
        "print(sorted(m for m in ('boto3', 'botocore', 'wsctl.aws.deploy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_up_down_status_logs_are_registered(cli):
    """`wsctl --help` lists the four stack commands."""
    result = cli("--help")
    assert result.exit_code == 0
    for command in ("up", "down", "status", "logs"):
        assert f" {command} " in result.stdout

"""Errors a user can act on, and the exit codes they map to (DESIGN.md section 2).

Commands raise these; the CLI boundary in ``wsctl.cli`` prints them as one line on stderr and
exits with ``exit_code``. Nothing else in wsctl prints errors or calls ``sys.exit``.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INTERRUPTED = 130


class WsctlError(Exception):
    """The operation failed; the message says where, what, and what to do."""

    exit_code: ExitCode = ExitCode.FAILED


class ConfigError(WsctlError):
    """Bad usage or configuration: a flag, wsctl.toml, missing region or credentials."""

    exit_code = ExitCode.USAGE

"""Shared fixtures: an isolated wsctl home, fake AWS credentials, and the CLI as a function."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import botocore.handlers
import pytest

from tests import moto_listings
from wsctl.cli import run


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory, monkeypatch):
    """No test reads the user's ~/.wsctl or ~/.aws, or reaches a real AWS account."""
    home = tmp_path_factory.mktemp("wsctl-home")
    monkeypatch.setenv("WSCTL_HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(home / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "aws-credentials"))
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "WSCTL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("NO_COLOR", "1")
    return home


@pytest.fixture(autouse=True)
def moto_serves_its_missing_listings(monkeypatch):
    """GetAuthorizers and GetRouteResponses answered from moto's backend (see moto_listings)."""
    monkeypatch.setattr(
        botocore.handlers,
        "BUILTIN_HANDLERS",
        [*botocore.handlers.BUILTIN_HANDLERS, *moto_listings.HANDLERS],
    )


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def invoke(args: Sequence[str]) -> CliResult:
    """Run ``wsctl ARGS`` in this process, as a user would, and capture what it printed."""
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = run(list(args))
    return CliResult(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def cli():
    """``cli("up", "--local")`` runs wsctl and returns its exit code, stdout and stderr."""
    return lambda *args: invoke(args)

"""Fixtures for the AWS deployer: moto in-process, a small service of our own, and botocore
event hooks that count or break AWS calls the way a real account would see them."""

from __future__ import annotations

from collections.abc import Callable

import botocore.handlers
import botocore.loaders
import botocore.session
import moto  # noqa: F401  (moto registers its botocore stubber on import)
import pytest
import strict_aws
from aws_testing import Breaker, CallLog, Service, write_service
from moto import mock_aws
from strict_aws import StrictAws, install

from wsctl.aws import clock


@pytest.fixture(autouse=True, scope="module")
def shared_botocore_loader():
    """One botocore data loader for every session the tests create: each wsctl command makes
    its own boto3 session, and re-reading the service models costs ~0.3 s each time."""
    loader = botocore.loaders.create_loader()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(botocore.session, "create_loader", lambda *args, **kwargs: loader)
        yield


@pytest.fixture
def service(tmp_path) -> Service:
    return write_service(tmp_path / "svc")


@pytest.fixture
def aws():
    """An empty in-process AWS account (moto) for the test."""
    with mock_aws():
        yield


@pytest.fixture(autouse=True)
def virtual_clock():
    """The deployer's waits and back-offs run in virtual time: retries AWS would take
    minutes over (IAM propagation) cost nothing, and no test depends on wall time."""
    with clock.use(clock.VirtualClock()) as virtual:
        yield virtual


@pytest.fixture(autouse=True)
def strict(monkeypatch) -> StrictAws:
    """The strict AWS layer (tests/aws/strict_aws.py), on for every deploy test."""
    return install(monkeypatch, StrictAws())


def _install(monkeypatch, event: str, handler: Callable, first: bool = False) -> None:
    strict_aws.install_hook(monkeypatch, event, handler, first)


@pytest.fixture
def call_log(monkeypatch) -> CallLog:
    log = CallLog()

    def record(model, **kwargs):
        log.calls.append((model.service_model.service_name, model.name))

    _install(monkeypatch, "before-call", record)
    return log


@pytest.fixture
def breaker(monkeypatch) -> Breaker:
    breaker = Breaker()
    _install(monkeypatch, "before-call", breaker)
    return breaker


@pytest.fixture
def install_hook(monkeypatch):
    """``install_hook(event, handler, first=False)`` for one test."""
    return lambda event, handler, first=False: _install(monkeypatch, event, handler, first)


@pytest.fixture
def up(cli, service, aws):
    """``up(*flags)`` deploys the test service and returns the CLI result."""
    return lambda *flags: cli("up", "--config", str(service.config), *flags)


@pytest.fixture
def down(cli, service):
    """``down(*flags)`` deletes the test service's stack (--yes) and returns the result."""
    return lambda *flags: cli("down", "--config", str(service.config), "--yes", *flags)

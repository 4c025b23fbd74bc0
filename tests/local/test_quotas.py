"""Quotas: AWS's defaults, and what websockets and the sweeper get from them."""

import pytest

from wsctl.config import LocalSettings
from wsctl.errors import ConfigError
from wsctl.local import Quotas
from wsctl.local.quotas import quotas_for


def test_defaults_are_api_gateways():
    """32 KB frames, 128 KB messages, 10 min idle, 2 h lifetime."""
    quotas = Quotas()
    assert quotas.websocket_max_size == (128 * 1024, 32 * 1024)
    assert (quotas.idle_timeout, quotas.max_lifetime) == (600.0, 7200.0)


def test_sweep_interval_follows_the_shorter_timer():
    """Short test timers are checked often enough; long ones at most every second."""
    assert Quotas(idle_timeout=0.5, max_lifetime=10).sweep_interval == 0.05
    assert Quotas().sweep_interval == 1.0


def test_quotas_for_takes_flags_over_the_file_over_aws():
    """--flags win over [local], which wins over API Gateway's values."""
    settings = LocalSettings(idle_timeout=5.0, integration_timeout=3)
    quotas = quotas_for(settings, idle_timeout=None, max_lifetime=60.0, integration_timeout=None)
    assert (quotas.idle_timeout, quotas.max_lifetime) == (5.0, 60.0)
    assert quotas.integration_timeout == 3
    assert quotas.message_bytes == 128 * 1024  # unset: AWS's
    assert quotas_for(LocalSettings(), idle_timeout=1.5).idle_timeout == 1.5


def test_a_flag_above_aws_is_one_line():
    """A timer longer than API Gateway's is refused, naming the flag and the limit."""
    with pytest.raises(ConfigError) as caught:
        quotas_for(LocalSettings(), integration_timeout=30.0)
    assert str(caught.value).startswith("--integration-timeout 30: must be above 0")
    assert "at most 29" in str(caught.value)


def test_up_local_with_a_bad_timer_exits_2(cli, tmp_path, monkeypatch):
    """wsctl up --local --idle-timeout 0: exit 2 and one line, nothing started."""
    monkeypatch.chdir(tmp_path)
    result = cli("up", "--local", "--idle-timeout", "0")
    assert result.exit_code == 2
    assert "--idle-timeout 0: must be above 0" in result.stderr
    assert "Traceback" not in result.stderr

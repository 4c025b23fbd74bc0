"""Quotas: AWS's defaults, and what websockets and the sweeper get from them."""

from wsctl.local import Quotas


def test_defaults_are_api_gateways():
    """32 KB frames, 128 KB messages, 10 min idle, 2 h lifetime."""
    quotas = Quotas()
    assert quotas.websocket_max_size == (128 * 1024, 32 * 1024)
    assert (quotas.idle_timeout, quotas.max_lifetime) == (600.0, 7200.0)


def test_sweep_interval_follows_the_shorter_timer():
    """Short test timers are checked often enough; long ones at most every second."""
    assert Quotas(idle_timeout=0.5, max_lifetime=10).sweep_interval == 0.05
    assert Quotas().sweep_interval == 1.0

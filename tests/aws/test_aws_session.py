"""Where AWS calls go: region and credentials resolved the boto3 way, or one clear line."""

from __future__ import annotations

import pytest

from wsctl.aws.session import botocore_config, open_target
from wsctl.errors import ConfigError


def test_no_region_anywhere_is_a_config_error(cli, service, monkeypatch):
    """No --region, none in wsctl.toml, none in the environment: exit 2, one line."""
    service.rewrite('region = "us-east-1"\n', "")
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: No AWS region")
    assert "Traceback" not in result.stderr


def test_no_credentials_is_a_config_error(cli, service, monkeypatch):
    """No credentials from any source: exit 2 with what to set."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    result = cli("status", "--config", str(service.config))
    assert result.exit_code == 2
    assert "No AWS credentials found" in result.stderr


def test_unknown_profile_is_a_config_error(cli, service):
    """--profile naming a profile that does not exist: exit 2."""
    result = cli("status", "--config", str(service.config), "--profile", "nobody")
    assert result.exit_code == 2
    assert "'nobody'" in result.stderr


def test_region_flag_beats_wsctl_toml_which_beats_environment(monkeypatch):
    """open_target uses the region given (flag or wsctl.toml), else the environment's."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert open_target(profile=None, region="ap-south-1", endpoint_url=None).region == "ap-south-1"
    assert open_target(profile=None, region=None, endpoint_url=None).region == "eu-west-1"


def test_region_from_wsctl_toml_is_used(cli, service, aws, monkeypatch):
    """`[stack] region` in wsctl.toml wins over AWS_DEFAULT_REGION."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    result = cli("up", "--config", str(service.config))
    assert result.exit_code == 0
    assert "us-east-1" in result.stdout


def test_botocore_uses_standard_retries_and_a_sized_pool():
    """Standard retry mode, and a connection pool larger than botocore's default of 10."""
    config = botocore_config()
    assert config.retries == {"mode": "standard"}
    assert config.max_pool_connections > 10


def test_endpoint_url_is_kept(monkeypatch):
    """--endpoint-url is passed on to every client."""
    target = open_target(profile=None, region="us-east-1", endpoint_url="http://127.0.0.1:1")
    assert target.endpoint_url == "http://127.0.0.1:1"
    with pytest.raises(ConfigError):
        open_target(profile="missing-profile", region="us-east-1", endpoint_url=None)

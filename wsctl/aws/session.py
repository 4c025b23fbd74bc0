"""Where AWS calls go: a boto3 session from --profile/--region/--endpoint-url, checked up front.

Region: the flag, then wsctl.toml's ``[stack] region``, then boto3's own chain (AWS_REGION,
AWS_DEFAULT_REGION, the profile). No region or no credentials is one ConfigError line.
"""

from __future__ import annotations

from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ProfileNotFound

from wsctl.errors import ConfigError

# The fan-out posts from a bounded thread pool; the client pool matches it (DESIGN.md 3).
MAX_POOL_CONNECTIONS = 32


@dataclass(frozen=True)
class Target:
    """A ready boto3 session and the endpoint override its clients use."""

    session: boto3.Session
    region: str
    endpoint_url: str | None = None


def botocore_config(total_max_attempts: int | None = None) -> Config:
    """Standard retries (they cover TooManyRequests and LimitExceeded) and a sized pool."""
    retries: dict = {"mode": "standard"}
    if total_max_attempts is not None:
        retries["total_max_attempts"] = total_max_attempts
    return Config(retries=retries, max_pool_connections=MAX_POOL_CONNECTIONS)


def open_target(*, profile: str | None, region: str | None, endpoint_url: str | None) -> Target:
    """A session with a region and credentials, or one ConfigError saying what is missing."""
    try:
        session = boto3.Session(profile_name=profile or None, region_name=region or None)
    except ProfileNotFound:
        raise ConfigError(
            f"AWS profile {profile!r} is not in your AWS config; check --profile or AWS_PROFILE"
        ) from None
    if not session.region_name:
        raise ConfigError(
            "No AWS region: pass --region, set [stack] region in wsctl.toml, "
            "or set AWS_REGION (or a region in your AWS profile)"
        )
    try:
        credentials = session.get_credentials()
    except BotoCoreError as exc:
        raise ConfigError(f"AWS credentials could not be loaded: {exc}") from None
    if credentials is None:
        raise ConfigError(
            "No AWS credentials found: set AWS_PROFILE (or --profile), or "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run 'aws configure'"
        )
    return Target(session=session, region=session.region_name, endpoint_url=endpoint_url or None)

"""boto3 clients, created on first use and kept for the warm invocations that follow.

Creating a client costs tens of milliseconds and opens fresh TLS connections; a container
that stays warm reuses both. Clients are thread-safe once created, but creating them is not,
so creation happens under a lock (the local emulator runs invocations in threads).
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config
from fanout import FAN_OUT_WORKERS

_lock = threading.Lock()
_clients: dict[tuple[str, str | None], Any] = {}
_session: boto3.session.Session | None = None

# Fan-out workers share one client each: its pool must hold a connection per worker
# (botocore's default of 10 would make the other threads wait for a connection).
DYNAMODB_CONFIG = Config(
    retries={"mode": "standard"},
    max_pool_connections=FAN_OUT_WORKERS,
)
# fanout.post retries 429 itself; botocore retrying too would multiply the attempts made
# against an API that is already throttling, and could post a frame twice after a timeout.
MANAGEMENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 1},
    max_pool_connections=FAN_OUT_WORKERS,
)


# A segmented broadcast dispatches its segments from this many threads (segments.py).
LAMBDA_CONFIG = Config(retries={"mode": "standard"}, max_pool_connections=16)


def _region() -> str | None:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def _client(service: str, endpoint: str | None, config: Config) -> Any:
    global _session
    region = _region()
    key = (f"{service} {endpoint or ''}", region)
    client = _clients.get(key)
    if client is None:
        with _lock:
            client = _clients.get(key)
            if client is None:
                # One session for all clients: it loads each service's model only once.
                if _session is None:
                    _session = boto3.session.Session()
                client = _clients[key] = _session.client(
                    service, region_name=region, endpoint_url=endpoint, config=config
                )
    return client


def dynamodb() -> Any:
    return _client("dynamodb", None, DYNAMODB_CONFIG)


def management(endpoint: str) -> Any:
    """The management API client for ``https://{domainName}/{stage}``."""
    return _client("apigatewaymanagementapi", endpoint, MANAGEMENT_CONFIG)


def lambda_client() -> Any:
    """For invoking the stack's own functions (a broadcast's segments)."""
    return _client("lambda", None, LAMBDA_CONFIG)


def forget() -> None:
    """Drop every cached client, as a cold start would (the session and its models stay)."""
    with _lock:
        _clients.clear()

"""The embedded DynamoDB: moto in this process, with the table the deployer would create."""

from __future__ import annotations

import importlib
from typing import Any

import boto3

from wsctl import naming
from wsctl.aws import resources
from wsctl.config import CONNECTIONS_TABLE, ServiceSpec


def start_embedded_aws() -> Any:
    """Start moto's in-process mock (no HTTP hop) and return it, for ``.stop()``."""
    from moto import mock_aws

    mock = mock_aws()
    mock.start()
    _stop_tracking_instances("dynamodb")
    return mock


class _Untracked(list):
    """An ``instances_tracked`` list that keeps nothing."""

    def append(self, instance: Any) -> None:
        pass


def _stop_tracking_instances(service: str) -> None:
    """Stop moto keeping every model instance it ever created (for its server's dashboard).

    Otherwise each record ever written stays in memory after it is deleted, and a long-running
    emulator grows by ~2.5 KB per connection (found by benchmarks/soak.py).
    """
    from moto.core.model_instances import model_data

    importlib.import_module(f"moto.{service}.models")  # its classes register on import
    for model in model_data[service].values():
        model.instances_tracked = _Untracked()


def create_tables(spec: ServiceSpec, region: str) -> list[str]:
    """Every table of the stack exactly as ``wsctl up`` defines it (same names, keys,
    indexes, TTL); the names created."""
    client = boto3.client("dynamodb", region_name=region)
    tags = [{"Key": key, "Value": value} for key, value in naming.stack_tags(spec).items()]
    names = []
    for table in spec.tables.values():
        definition = resources.table_definition(spec, table)
        client.create_table(**definition, Tags=tags)
        if table.ttl is not None:
            client.update_time_to_live(
                TableName=definition["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl},
            )
        names.append(definition["TableName"])
    return names


def count_items(spec: ServiceSpec, region: str) -> int:
    """How many connection records the connections table holds (a full scan: for tests and
    the demo); 0 for a stack without one."""
    if CONNECTIONS_TABLE not in spec.tables:
        return 0
    client = boto3.client("dynamodb", region_name=region)
    paginator = client.get_paginator("scan")
    pages = paginator.paginate(
        TableName=naming.table_name(spec),
        Select="COUNT",
        FilterExpression=naming.CONNECTIONS_ONLY_FILTER,
        ExpressionAttributeValues=naming.connection_scan_values(),
    )
    return sum(page["Count"] for page in pages)

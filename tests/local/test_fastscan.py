"""The Scan fast lane answers exactly what moto answers, and steps aside when it cannot."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

ITEMS = [
    {
        "connectionId": {"S": f"id{index:03d}="},
        "ttl": {"N": str(1_800_000_000 + index)},
        "blob": {"B": bytes([index, 0, 255])},
        "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"list": {"L": [{"N": "1"}, {"BOOL": True}, {"NULL": True}]}}},
    }
    for index in range(40)
]


@pytest.fixture
def table(recorder):
    client = boto3.client("dynamodb", region_name="us-east-1")
    for item in ITEMS:
        client.put_item(TableName=recorder.table_name, Item=item)
    return client, recorder.table_name


def moto_scan(client, **request):
    # A Limit is outside the fast lane: moto itself answers.
    return client.scan(Limit=1000, **request)


def test_whole_table_matches_moto(table):
    """Every attribute type comes back as moto (through botocore's parser) returns it."""
    client, name = table
    fast, slow = client.scan(TableName=name), moto_scan(client, TableName=name)
    assert fast["Items"] == slow["Items"] and len(fast["Items"]) == len(ITEMS)
    assert (fast["Count"], fast["ScannedCount"]) == (slow["Count"], slow["ScannedCount"])


def test_projection_through_placeholders_matches_moto(table):
    """ProjectionExpression with #names keeps only those attributes."""
    client, name = table
    request = {
        "TableName": name,
        "ProjectionExpression": "#a0, #a1",
        "ExpressionAttributeNames": {"#a0": "connectionId", "#a1": "ttl"},
    }
    fast, slow = client.scan(**request), moto_scan(client, **request)
    assert fast["Items"] == slow["Items"]
    assert set(fast["Items"][0]) == {"connectionId", "ttl"}


def test_errors_still_come_from_moto(table):
    """Unused placeholders and unknown tables are moto's errors, unchanged."""
    client, name = table
    with pytest.raises(ClientError) as unused:
        client.scan(
            TableName=name,
            ProjectionExpression="#a0",
            ExpressionAttributeNames={"#a0": "connectionId", "#x": "ttl"},
        )
    assert unused.value.response["Error"]["Code"] == "ValidationException"
    with pytest.raises(ClientError) as missing:
        client.scan(TableName="no-such-table")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_plain_scans_skip_moto_and_others_do_not(table):
    """The fast lane answers a plain scan in-process (nothing is sent); a Limit goes to moto."""
    client, name = table
    sent = []
    client.meta.events.register("before-send.dynamodb.Scan", lambda **kw: sent.append(1))
    client.scan(TableName=name)
    assert sent == []
    moto_scan(client, TableName=name)
    assert sent == [1]


def test_more_than_a_page_goes_to_moto(recorder):
    """Over 1 MB of items: moto answers, with its pagination."""
    client = boto3.client("dynamodb", region_name="us-east-1")
    for index in range(12):
        item = {"connectionId": {"S": f"big{index}"}, "pad": {"S": "x" * 100_000}}
        client.put_item(TableName=recorder.table_name, Item=item)
    sent = []
    client.meta.events.register("before-send.dynamodb.Scan", lambda **kw: sent.append(1))
    page = client.scan(TableName=recorder.table_name)
    assert sent == [1] and "LastEvaluatedKey" in page

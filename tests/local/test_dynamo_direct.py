"""The direct DynamoDB lane answers exactly what moto's full path answers, or steps aside.

Each case runs twice on identical fresh moto state: once through moto's own
``botocore_stubber`` (the full HTTP emulation), once through ``dynamo_direct.respond``, with a
real boto3 client parsing either answer. Both runs must give the same HTTP status, the same
JSON body, the same headers (request ids and dates aside), the same client result or
ClientError, and leave the tables holding the same items.
"""

from __future__ import annotations

import binascii
import copy
import json
from dataclasses import dataclass
from enum import Enum
from typing import Any

import boto3
import pytest
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.botocore_stubber import MockRawResponse
from moto.core.models import botocore_stubber
from moto.core.responses import ActionContext, ActionResult
from moto.core.serialize import JSONSerializer
from moto.core.utils import get_service_model
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.utilities import dynamo_json_dump
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api import recorder

from wsctl.local import dynamo_direct

REGION = "us-east-1"
# Headers that differ between any two calls, whoever answers.
PER_CALL_HEADERS = {"date", "x-amzn-requestid", "x-amz-crc32"}

NESTED = {
    "M": {
        "list": {"L": [{"N": "1"}, {"S": "two"}, {"BOOL": True}, {"NULL": True}]},
        "map": {"M": {"deep": {"M": {"blob": {"B": b"\x00\x01"}, "n": {"N": "-0.5"}}}}},
        "set": {"SS": ["x", "y"]},
    }
}
ITEM_A = {
    "pk": {"S": "a"},
    "text": {"S": "héllo"},
    "int": {"N": "42"},
    "decimal": {"N": "1.50"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "flag": {"BOOL": False},
    "nothing": {"NULL": True},
    "blob": {"B": b"\x00\xff\x10"},
    "blobs": {"BS": [b"\x01", b"\x02\x03"]},
    "numbers": {"NS": ["1", "2.5", "-3"]},
    "strings": {"SS": ["b", "a"]},
    "nested": NESTED,
}


def _hash_table(client: Any, name: str, key_type: str = "S") -> None:
    """An on-demand table keyed by ``pk`` alone."""
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": key_type}],
        BillingMode="PAY_PER_REQUEST",
    )


def _seed(client: Any) -> None:
    """Four tables (plain, ranged with an LSI and two GSIs, binary-keyed, with TTL), seeded."""
    _hash_table(client, "plain")
    client.create_table(
        TableName="ranged",
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
            {"AttributeName": "score", "AttributeType": "N"},
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "kind", "AttributeType": "S"},
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_score",
                "KeySchema": [
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "score", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_owner",
                "KeySchema": [
                    {"AttributeName": "owner", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            },
            {
                "IndexName": "by_kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            },
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    _hash_table(client, "binary", "B")
    _hash_table(client, "ttl")
    client.update_time_to_live(
        TableName="ttl",
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"},
    )
    client.put_item(TableName="plain", Item=ITEM_A)
    client.put_item(TableName="plain", Item={"pk": {"S": "b"}, "count": {"N": "5"}})
    client.put_item(TableName="plain", Item={"pk": {"S": "c"}, "nested": NESTED})
    for pk, sks in (("u1", range(1, 6)), ("u2", range(1, 3))):
        for sk in sks:
            item = {
                "pk": {"S": pk},
                "sk": {"N": str(sk)},
                "score": {"N": str(100 - sk * 7)},
                "owner": {"S": f"owner{sk % 2}"},
                "kind": {"S": "odd" if sk % 2 else "even"},
                "note": {"S": f"{pk}-{sk}"},
            }
            client.put_item(TableName="ranged", Item=item)
    for key in (b"\x00\x01", b"\xff", b"k"):
        client.put_item(TableName="binary", Item={"pk": {"B": key}, "data": {"BS": [key, b"\x7f"]}})
    for index in range(3):
        client.put_item(
            TableName="ttl",
            Item={"pk": {"S": f"t{index}"}, "expires": {"N": str(1_800_000_000 + index)}},
        )


@dataclass
class Outcome:
    """What one call gave: moto's raw answer (None when moto raised), what the boto3 client
    made of it, and whether ``respond`` declined the call (the caller's fallback answered)."""

    raw: tuple[int, dict[str, str], bytes] | None
    client: dict[str, Any]
    declined: bool = False


# One session for the module: a client from a fresh session costs ~50 ms of model loading.
_SESSION = boto3.session.Session(region_name=REGION)


def _client() -> Any:
    # One attempt: a retried call would be answered twice and change what is compared.
    return _SESSION.client("dynamodb", config=Config(retries={"total_max_attempts": 1}))


def _without_metadata(response: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in response.items() if key != "ResponseMetadata"}


def _table_state() -> dict[str, list[str]]:
    tables = dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables
    return {
        name: sorted(dynamo_json_dump(item.to_json()) for item in table.all_items())
        for name, table in tables.items()
    }


def _run(calls: list[tuple[str, dict[str, Any]]], direct: bool) -> tuple[list[Outcome], Any]:
    """Seed fresh moto state, make ``calls`` answered by moto's full path or by ``respond``
    (falling back to the full path when it declines, as its caller does)."""
    raw: list[tuple[int, dict[str, str], bytes] | None] = []
    declined: list[bool] = []

    def full_path(request: Any, event_name: str, **_: Any) -> AWSResponse:
        raw.append(None)
        response = botocore_stubber(event_name, request)
        raw[-1] = (response.status_code, dict(response.headers), response.content)
        return response

    def direct_lane(request: Any, event_name: str, **_: Any) -> AWSResponse:
        operation = event_name.rsplit(".", 1)[1]
        answer = dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, operation, request.body)
        declined.append(answer is None)
        if answer is None:
            return full_path(request, event_name)
        assert all(name == name.lower() for name in answer[1])
        raw.append(answer)
        status, headers, body = answer
        return AWSResponse(request.url, status, headers, MockRawResponse(body))

    outcomes = []
    with mock_aws():
        client = _client()
        _seed(client)
        client.meta.events.register_first(
            "before-send.dynamodb", direct_lane if direct else full_path
        )
        for operation, params in calls:
            try:
                result = _without_metadata(getattr(client, xform_name(operation))(**params))
            except ClientError as error:
                result = {"error": _without_metadata(error.response)}
            except Exception as error:  # moto itself raising, not an AWS error
                result = {"raised": (type(error).__name__, str(error))}
            outcomes.append(Outcome(raw[-1], result, bool(declined and declined[-1])))
        state = _table_state()
    return outcomes, state


def _assert_same(calls: list[tuple[str, dict[str, Any]]]) -> list[Outcome]:
    full, full_state = _run(calls, direct=False)
    direct, direct_state = _run(calls, direct=True)
    for (operation, _), moto_answer, answer in zip(calls, full, direct, strict=True):
        assert answer.client == moto_answer.client, operation
        if moto_answer.raw is None:  # moto raised: respond must have stepped aside
            assert answer.declined, operation
            continue
        assert not answer.declined, operation
        assert answer.raw is not None
        (status, headers, body), (moto_status, moto_headers, moto_body) = (
            answer.raw,
            moto_answer.raw,
        )
        assert status == moto_status, operation
        assert json.loads(body) == json.loads(moto_body), operation
        moto_headers = {name.lower(): value for name, value in moto_headers.items()}
        assert set(headers) == set(moto_headers), operation
        for name, value in moto_headers.items():
            if name not in PER_CALL_HEADERS:
                assert headers[name] == value, (operation, name)
        assert int(headers["x-amz-crc32"]) == binascii.crc32(body)
    assert direct_state == full_state
    return direct


def _call(operation: str, **params: Any) -> tuple[str, dict[str, Any]]:
    return operation, params


BIG = "x" * (400 * 1024)
# A connection record as the bundled service writes it, and its removal.
CONNECT = _call(
    "PutItem",
    TableName="ttl",
    Item={"pk": {"S": "conn="}, "expires": {"N": "1800000000"}, "ip": {"S": "127.0.0.1"}},
)
DISCONNECT = _call("DeleteItem", TableName="ttl", Key={"pk": {"S": "conn="}})

CASES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    # Plain puts and deletes (strings and numbers only): answered by dynamo_direct's plain lane.
    "plain put of strings and numbers": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "p"}, "n": {"N": "-12.50"}, "z": {"N": "0"}, "s": {"S": "é"}},
        )
    ],
    "plain put replacing an item": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
    ],
    "plain put with index keys": [
        _call(
            "PutItem",
            TableName="ranged",
            Item={"pk": {"S": "p"}, "sk": {"N": "7"}, "score": {"N": "3"}, "owner": {"S": "o"}},
        )
    ],
    "plain put of an index key of the wrong type": [
        _call(
            "PutItem",
            TableName="ranged",
            Item={"pk": {"S": "p"}, "sk": {"N": "7"}, "owner": {"N": "3"}},
        )
    ],
    "plain put without the range key": [
        _call("PutItem", TableName="ranged", Item={"pk": {"S": "p"}})
    ],
    "plain put of numbers the lane leaves to moto": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "q"}, "n": {"N": "1e5"}}),
        _call("PutItem", TableName="plain", Item={"pk": {"S": "r"}, "n": {"N": "007"}}),
        _call("PutItem", TableName="plain", Item={"pk": {"S": "s"}, "n": {"N": "x"}}),
    ],
    "plain delete of a ranged item": [
        _call("DeleteItem", TableName="ranged", Key={"pk": {"S": "p"}, "sk": {"N": "7"}})
    ],
    "plain delete without the range key": [
        _call("DeleteItem", TableName="ranged", Key={"pk": {"S": "p"}})
    ],
    "plain delete by a key of the wrong type": [
        _call("DeleteItem", TableName="plain", Key={"pk": {"N": "1"}})
    ],
    # PutItem
    "put every type": [_call("PutItem", TableName="plain", Item={**ITEM_A, "pk": {"S": "new"}})],
    "put overwrite ALL_OLD": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "a"}}, ReturnValues="ALL_OLD")
    ],
    "put new ALL_OLD": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "z"}}, ReturnValues="ALL_OLD")
    ],
    "put invalid ReturnValues": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "z"}}, ReturnValues="ALL_NEW")
    ],
    "put condition fails": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
        )
    ],
    "put condition fails ALL_OLD": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "pk"},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    ],
    "put condition holds": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "b"}, "count": {"N": "6"}},
            ConditionExpression="#c = :five",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":five": {"N": "5"}},
        )
    ],
    "put legacy Expected fails": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "b"}},
            Expected={"count": {"Value": {"N": "4"}}},
        )
    ],
    "put unused attribute name": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "z"}},
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={"#unused": "x"},
        )
    ],
    "put bad condition syntax": [
        _call(
            "PutItem",
            TableName="plain",
            Item={"pk": {"S": "z"}},
            ConditionExpression="pk = = :v",
            ExpressionAttributeValues={":v": {"S": "z"}},
        )
    ],
    "put missing table": [_call("PutItem", TableName="nope", Item={"pk": {"S": "a"}})],
    "put missing key": [_call("PutItem", TableName="plain", Item={"other": {"S": "a"}})],
    "put wrong key type": [_call("PutItem", TableName="plain", Item={"pk": {"N": "1"}})],
    "put empty string key": [_call("PutItem", TableName="plain", Item={"pk": {"S": ""}})],
    "put empty GSI key": [
        _call(
            "PutItem",
            TableName="ranged",
            Item={"pk": {"S": "u3"}, "sk": {"N": "1"}, "owner": {"S": ""}},
        )
    ],
    "put NULL GSI key": [
        _call(
            "PutItem",
            TableName="ranged",
            Item={"pk": {"S": "u3"}, "sk": {"N": "1"}, "owner": {"NULL": True}},
        )
    ],
    "put over 400 KB": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "big"}, "blob": {"S": BIG}})
    ],
    "put empty number set": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "z"}, "ns": {"NS": []}})
    ],
    "put consumed capacity TOTAL": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "z"}}, ReturnConsumedCapacity="TOTAL")
    ],
    "put consumed capacity INDEXES": [
        _call(
            "PutItem",
            TableName="ranged",
            Item={"pk": {"S": "u9"}, "sk": {"N": "9"}},
            ReturnConsumedCapacity="INDEXES",
        )
    ],
    "put binary key and sets": [
        _call(
            "PutItem",
            TableName="binary",
            Item={"pk": {"B": b"\x80new"}, "data": {"BS": [b"\x00"]}, "m": NESTED},
            ReturnValues="ALL_OLD",
        )
    ],
    "put binary overwrite ALL_OLD": [
        _call("PutItem", TableName="binary", Item={"pk": {"B": b"\xff"}}, ReturnValues="ALL_OLD")
    ],
    "put then delete a connection": [CONNECT, DISCONNECT],
    "put and get an empty attribute name": [
        _call("PutItem", TableName="plain", Item={"pk": {"S": "e"}, "": {"S": "x"}}),
        _call("GetItem", TableName="plain", Key={"pk": {"S": "e"}}),
    ],
    # GetItem
    "get every type": [_call("GetItem", TableName="plain", Key={"pk": {"S": "a"}})],
    "get missing item": [_call("GetItem", TableName="plain", Key={"pk": {"S": "zz"}})],
    "get projection": [
        _call(
            "GetItem",
            TableName="plain",
            Key={"pk": {"S": "a"}},
            ProjectionExpression="#n.#m.deep, #n.#l[1], blob, nope",
            ExpressionAttributeNames={"#n": "nested", "#m": "map", "#l": "list"},
        )
    ],
    "get reserved word projection": [
        _call("GetItem", TableName="plain", Key={"pk": {"S": "b"}}, ProjectionExpression="count")
    ],
    "get AttributesToGet": [
        _call(
            "GetItem",
            TableName="plain",
            Key={"pk": {"S": "a"}},
            AttributesToGet=["int", "blobs"],
            ConsistentRead=True,
            ReturnConsumedCapacity="TOTAL",
        )
    ],
    "get missing table": [_call("GetItem", TableName="nope", Key={"pk": {"S": "a"}})],
    "get bad key name": [_call("GetItem", TableName="plain", Key={"other": {"S": "a"}})],
    "get extra key attribute": [
        _call("GetItem", TableName="plain", Key={"pk": {"S": "a"}, "x": {"S": "b"}})
    ],
    "get empty string key": [_call("GetItem", TableName="plain", Key={"pk": {"S": ""}})],
    "get binary key": [_call("GetItem", TableName="binary", Key={"pk": {"B": b"\x00\x01"}})],
    "get ranged": [_call("GetItem", TableName="ranged", Key={"pk": {"S": "u1"}, "sk": {"N": "3"}})],
    "get ranged missing range key": [_call("GetItem", TableName="ranged", Key={"pk": {"S": "u1"}})],
    # DeleteItem
    "delete ALL_OLD": [
        _call("DeleteItem", TableName="plain", Key={"pk": {"S": "a"}}, ReturnValues="ALL_OLD")
    ],
    "delete missing item": [_call("DeleteItem", TableName="plain", Key={"pk": {"S": "zz"}})],
    "delete condition fails": [
        _call(
            "DeleteItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            ConditionExpression="#c > :n",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":n": {"N": "10"}},
        )
    ],
    "delete condition fails ALL_OLD": [
        _call(
            "DeleteItem",
            TableName="plain",
            Key={"pk": {"S": "a"}},
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    ],
    "delete missing table": [_call("DeleteItem", TableName="nope", Key={"pk": {"S": "a"}})],
    "delete bad key": [_call("DeleteItem", TableName="plain", Key={"other": {"S": "a"}})],
    "delete binary key": [
        _call("DeleteItem", TableName="binary", Key={"pk": {"B": b"k"}}, ReturnValues="ALL_OLD")
    ],
    "delete invalid ReturnValues": [
        _call("DeleteItem", TableName="plain", Key={"pk": {"S": "a"}}, ReturnValues="ALL_NEW")
    ],
    # UpdateItem
    "update ADD new counter": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "new"}},
            UpdateExpression="ADD #c :one",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
    ],
    "update ADD counter twice": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="ADD #c :one",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="ADD #c :step",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":step": {"N": "-2.5"}},
            ReturnValues="UPDATED_OLD",
        ),
    ],
    "update ADD and DELETE sets": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "a"}},
            UpdateExpression="ADD strings :s, numbers :n DELETE blobs :b",
            ExpressionAttributeValues={
                ":s": {"SS": ["c"]},
                ":n": {"NS": ["7"]},
                ":b": {"BS": [b"\x01"]},
            },
            ReturnValues="UPDATED_NEW",
        )
    ],
    "update SET nested REMOVE": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "c"}},
            UpdateExpression=(
                "SET nested.#m.deep.n = :n, nested.#l = list_append(nested.#l, :more), "
                "fresh = if_not_exists(fresh, :b) REMOVE nested.#s"
            ),
            ExpressionAttributeNames={"#m": "map", "#l": "list", "#s": "set"},
            ExpressionAttributeValues={
                ":n": {"N": "3"},
                ":more": {"L": [{"B": b"\x09"}]},
                ":b": {"B": b"\x01"},
            },
            ReturnValues="ALL_OLD",
        )
    ],
    "update condition fails": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET #c = :v",
            ConditionExpression="#c = :other",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":v": {"N": "1"}, ":other": {"N": "99"}},
        )
    ],
    "update condition fails ALL_OLD": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET #c = :v",
            ConditionExpression="attribute_not_exists(pk)",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":v": {"N": "1"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    ],
    "update key attribute": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET pk = :v",
            ExpressionAttributeValues={":v": {"S": "q"}},
        )
    ],
    "update bad syntax": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET = :v",
            ExpressionAttributeValues={":v": {"S": "q"}},
        )
    ],
    "update ADD string to number": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="ADD #c :v",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":v": {"S": "one"}},
        )
    ],
    "update unused value": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET x = :v",
            ExpressionAttributeValues={":v": {"S": "q"}, ":w": {"S": "r"}},
        )
    ],
    "update missing table": [
        _call(
            "UpdateItem",
            TableName="nope",
            Key={"pk": {"S": "b"}},
            UpdateExpression="SET x = :v",
            ExpressionAttributeValues={":v": {"S": "q"}},
        )
    ],
    "update bad key": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"other": {"S": "b"}},
            UpdateExpression="SET x = :v",
            ExpressionAttributeValues={":v": {"S": "q"}},
        )
    ],
    "update empty string key": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": ""}},
            UpdateExpression="SET x = :v",
            ExpressionAttributeValues={":v": {"S": "q"}},
        )
    ],
    "update grows past 400 KB": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "a"}},
            UpdateExpression="SET big = :v",
            ExpressionAttributeValues={":v": {"S": BIG}},
        )
    ],
    "update TTL attribute": [
        _call(
            "UpdateItem",
            TableName="ttl",
            Key={"pk": {"S": "t1"}},
            UpdateExpression="SET expires = :e",
            ExpressionAttributeValues={":e": {"N": "1900000000"}},
            ReturnValues="ALL_NEW",
        )
    ],
    "update legacy AttributeUpdates": [
        _call(
            "UpdateItem",
            TableName="plain",
            Key={"pk": {"S": "b"}},
            AttributeUpdates={"count": {"Action": "ADD", "Value": {"N": "3"}}},
            ReturnValues="UPDATED_NEW",
        )
    ],
    "update GSI key": [
        _call(
            "UpdateItem",
            TableName="ranged",
            Key={"pk": {"S": "u1"}, "sk": {"N": "2"}},
            UpdateExpression="SET #o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "owner7"}},
            ReturnValues="UPDATED_OLD",
        ),
        _call(
            "Query",
            TableName="ranged",
            IndexName="by_owner",
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": "owner7"}},
        ),
    ],
    # Query
    "query hash": [
        _call(
            "Query",
            TableName="ranged",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "u1"}},
        )
    ],
    "query range backwards with filter and projection": [
        _call(
            "Query",
            TableName="ranged",
            KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
            FilterExpression="kind = :k",
            ProjectionExpression="sk, note",
            ExpressionAttributeValues={
                ":p": {"S": "u1"},
                ":lo": {"N": "2"},
                ":hi": {"N": "5"},
                ":k": {"S": "odd"},
            },
            ScanIndexForward=False,
        )
    ],
    "query pages": [
        _call(
            "Query",
            TableName="ranged",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "u1"}},
            Limit=2,
        ),
        _call(
            "Query",
            TableName="ranged",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "u1"}},
            Limit=2,
            ExclusiveStartKey={"pk": {"S": "u1"}, "sk": {"N": "2"}},
        ),
    ],
    "query count": [
        _call(
            "Query",
            TableName="ranged",
            KeyConditionExpression="pk = :p AND sk > :s",
            ExpressionAttributeValues={":p": {"S": "u1"}, ":s": {"N": "2"}},
            Select="COUNT",
            ReturnConsumedCapacity="INDEXES",
        )
    ],
    "query LSI": [
        _call(
            "Query",
            TableName="ranged",
            IndexName="by_score",
            KeyConditionExpression="pk = :p AND score < :s",
            ExpressionAttributeValues={":p": {"S": "u1"}, ":s": {"N": "90"}},
            Limit=2,
        )
    ],
    "query GSI keys only": [
        _call(
            "Query",
            TableName="ranged",
            IndexName="by_kind",
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "even"}},
        )
    ],
    "query GSI ALL_ATTRIBUTES on keys-only index": [
        _call(
            "Query",
            TableName="ranged",
            IndexName="by_kind",
            KeyConditionExpression="kind = :k",
            ExpressionAttributeValues={":k": {"S": "even"}},
            Select="ALL_ATTRIBUTES",
        )
    ],
    "query legacy KeyConditions": [
        _call(
            "Query",
            TableName="ranged",
            KeyConditions={
                "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "u2"}]},
                "sk": {"ComparisonOperator": "GE", "AttributeValueList": [{"N": "2"}]},
            },
        )
    ],
    "query missing table": [
        _call(
            "Query",
            TableName="nope",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "u1"}},
        )
    ],
    "query missing index": [
        _call(
            "Query",
            TableName="ranged",
            IndexName="nope",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"S": "u1"}},
        )
    ],
    "query non-key condition": [
        _call(
            "Query",
            TableName="ranged",
            KeyConditionExpression="note = :p",
            ExpressionAttributeValues={":p": {"S": "u1-1"}},
        )
    ],
    "query binary table": [
        _call(
            "Query",
            TableName="binary",
            KeyConditionExpression="pk = :p",
            ExpressionAttributeValues={":p": {"B": b"\xff"}},
        )
    ],
    # Scan
    "scan whole tables": [
        _call("Scan", TableName="plain"),
        _call("Scan", TableName="ranged"),
        _call("Scan", TableName="binary"),
        _call("Scan", TableName="ttl"),
    ],
    "scan filter and projection": [
        _call(
            "Scan",
            TableName="ranged",
            FilterExpression="begins_with(#n, :u) AND score >= :s",
            ProjectionExpression="#n, score",
            ExpressionAttributeNames={"#n": "note"},
            ExpressionAttributeValues={":u": {"S": "u1"}, ":s": {"N": "70"}},
        )
    ],
    "scan pages": [
        _call("Scan", TableName="ranged", Limit=3),
        _call(
            "Scan",
            TableName="ranged",
            Limit=3,
            ExclusiveStartKey={"pk": {"S": "u1"}, "sk": {"N": "3"}},
        ),
        _call(
            "Scan",
            TableName="plain",
            Limit=1,
            ExclusiveStartKey={"pk": {"S": "a"}},
            ReturnConsumedCapacity="TOTAL",
        ),
    ],
    "scan count and segments": [
        _call("Scan", TableName="ranged", Select="COUNT"),
        _call("Scan", TableName="ranged", Segment=1, TotalSegments=2),
        _call("Scan", TableName="ranged", Segment=2, TotalSegments=2),
    ],
    "scan index": [_call("Scan", TableName="ranged", IndexName="by_owner", Limit=2)],
    "scan legacy ScanFilter": [
        _call(
            "Scan",
            TableName="plain",
            ScanFilter={"count": {"ComparisonOperator": "GT", "AttributeValueList": [{"N": "1"}]}},
        )
    ],
    "scan bad filter": [_call("Scan", TableName="plain", FilterExpression="pk = = 1")],
    "scan missing table": [_call("Scan", TableName="nope")],
    # The bundled service's own calls (lambda_code/connection_store.py, segments.py).
    "fan-out scan of a segment": [
        _call(
            "Scan",
            TableName="ttl",
            ProjectionExpression="#a0, #a1",
            ExpressionAttributeNames={"#a0": "pk", "#a1": "expires"},
            Segment=0,
            TotalSegments=2,
        )
    ],
    "count live connections": [
        _call(
            "Scan",
            TableName="ttl",
            Select="COUNT",
            FilterExpression="NOT begins_with(#id, :reserved) "
            "AND (attribute_not_exists(#ttl) OR #ttl > :now)",
            ExpressionAttributeNames={"#id": "pk", "#ttl": "expires"},
            ExpressionAttributeValues={":reserved": {"S": "t0"}, ":now": {"N": "1800000000"}},
        )
    ],
    "segmented broadcast counter": [
        _call(
            "PutItem",
            TableName="ttl",
            Item={"pk": {"S": "counter"}, "segments": {"N": "2"}, "done": {"N": "0"}},
            ConditionExpression="attribute_not_exists(pk)",
        ),
        *[
            _call(
                "UpdateItem",
                TableName="ttl",
                Key={"pk": {"S": "counter"}},
                UpdateExpression="ADD jobs :job",
                ConditionExpression="attribute_exists(pk) AND NOT contains(jobs, :name)",
                ExpressionAttributeValues={":job": {"SS": ["j1"]}, ":name": {"S": "j1"}},
            )
        ]
        * 2,
        _call(
            "UpdateItem",
            TableName="ttl",
            Key={"pk": {"S": "counter"}},
            UpdateExpression="ADD delivered :d, done :n",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":d": {"N": "3"}, ":n": {"N": "1"}},
            ReturnValues="ALL_NEW",
        ),
        _call("DeleteItem", TableName="ttl", Key={"pk": {"S": "counter"}}),
        _call(
            "UpdateItem",
            TableName="ttl",
            Key={"pk": {"S": "counter"}},
            UpdateExpression="ADD done :n",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues={":n": {"N": "1"}},
        ),
    ],
    # BatchGetItem
    "batch get": [
        _call(
            "BatchGetItem",
            RequestItems={
                "plain": {
                    "Keys": [{"pk": {"S": "a"}}, {"pk": {"S": "zz"}}],
                    "ProjectionExpression": "pk, blob, #n",
                    "ExpressionAttributeNames": {"#n": "nested"},
                },
                "binary": {"Keys": [{"pk": {"B": b"k"}}]},
            },
        )
    ],
    "batch get duplicate keys": [
        _call("BatchGetItem", RequestItems={"plain": {"Keys": [{"pk": {"S": "a"}}] * 2}})
    ],
    "batch get missing table": [
        _call("BatchGetItem", RequestItems={"nope": {"Keys": [{"pk": {"S": "a"}}]}})
    ],
    # BatchWriteItem
    "batch write": [
        _call(
            "BatchWriteItem",
            RequestItems={
                "plain": [
                    {"PutRequest": {"Item": {"pk": {"S": "p1"}, "blob": {"B": b"\x01"}}}},
                    {"DeleteRequest": {"Key": {"pk": {"S": "a"}}}},
                ],
                "ttl": [{"PutRequest": {"Item": {"pk": {"S": "t9"}, "expires": {"N": "1"}}}}],
            },
            ReturnConsumedCapacity="TOTAL",
        )
    ],
    "batch write duplicates": [
        _call(
            "BatchWriteItem",
            RequestItems={"plain": [{"PutRequest": {"Item": {"pk": {"S": "p1"}}}}] * 2},
        )
    ],
    "batch write empty key": [
        _call(
            "BatchWriteItem",
            RequestItems={"plain": [{"PutRequest": {"Item": {"pk": {"S": ""}}}}]},
        )
    ],
    "batch write missing table": [
        _call(
            "BatchWriteItem",
            RequestItems={"nope": [{"PutRequest": {"Item": {"pk": {"S": "x"}}}}]},
        )
    ],
    # TransactWriteItems / TransactGetItems
    "transact write": [
        _call(
            "TransactWriteItems",
            TransactItems=[
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "tx"}, "b": {"B": b"\x02"}}}},
                {
                    "Update": {
                        "TableName": "plain",
                        "Key": {"pk": {"S": "b"}},
                        "UpdateExpression": "ADD #c :one",
                        "ExpressionAttributeNames": {"#c": "count"},
                        "ExpressionAttributeValues": {":one": {"N": "1"}},
                    }
                },
                {"Delete": {"TableName": "ttl", "Key": {"pk": {"S": "t0"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "ranged",
                        "Key": {"pk": {"S": "u1"}, "sk": {"N": "1"}},
                        "ConditionExpression": "attribute_exists(note)",
                    }
                },
            ],
        )
    ],
    "transact write cancelled": [
        _call(
            "TransactWriteItems",
            TransactItems=[
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "tx"}}}},
                {
                    "ConditionCheck": {
                        "TableName": "plain",
                        "Key": {"pk": {"S": "a"}},
                        "ConditionExpression": "attribute_not_exists(pk)",
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                },
            ],
        )
    ],
    "transact write same item twice": [
        _call(
            "TransactWriteItems",
            TransactItems=[
                {"Put": {"TableName": "plain", "Item": {"pk": {"S": "tx"}}}},
                {"Delete": {"TableName": "plain", "Key": {"pk": {"S": "tx"}}}},
            ],
        )
    ],
    "transact write missing table": [
        _call(
            "TransactWriteItems",
            TransactItems=[{"Put": {"TableName": "nope", "Item": {"pk": {"S": "tx"}}}}],
        )
    ],
    "transact get": [
        _call(
            "TransactGetItems",
            TransactItems=[
                {"Get": {"TableName": "plain", "Key": {"pk": {"S": "a"}}}},
                {"Get": {"TableName": "plain", "Key": {"pk": {"S": "zz"}}}},
                {"Get": {"TableName": "binary", "Key": {"pk": {"B": b"\xff"}}}},
            ],
            ReturnConsumedCapacity="TOTAL",
        )
    ],
    "transact get missing table": [
        _call(
            "TransactGetItems",
            TransactItems=[{"Get": {"TableName": "nope", "Key": {"pk": {"S": "a"}}}}],
        )
    ],
    # PartiQL
    "statement select": [
        _call("ExecuteStatement", Statement="SELECT * FROM plain WHERE pk = 'a'"),
        _call(
            "ExecuteStatement",
            Statement='SELECT pk, "count" FROM plain WHERE pk = ?',
            Parameters=[{"S": "b"}],
        ),
        _call("ExecuteStatement", Statement="SELECT * FROM binary"),
    ],
    "statement insert update delete": [
        _call("ExecuteStatement", Statement="INSERT INTO plain VALUE {'pk': 'p', 'n': 1}"),
        _call("ExecuteStatement", Statement="INSERT INTO plain VALUE {'pk': 'p', 'n': 2}"),
        _call("ExecuteStatement", Statement="UPDATE plain SET n = 5 WHERE pk = 'p'"),
        _call("ExecuteStatement", Statement="UPDATE plain SET text = 'x' WHERE pk = 'a'"),
        _call("ExecuteStatement", Statement="DELETE FROM plain WHERE pk = 'b'"),
    ],
    "statement errors": [
        _call("ExecuteStatement", Statement="SELECT * FROM nope"),
        _call("ExecuteStatement", Statement="SELEKT nothing"),
    ],
    "batch statements": [
        _call(
            "BatchExecuteStatement",
            Statements=[
                {"Statement": "SELECT * FROM plain WHERE pk = ?", "Parameters": [{"S": "a"}]},
                {"Statement": "INSERT INTO ttl VALUE {'pk': 'x'}"},
                {"Statement": "SELECT * FROM nope WHERE pk = 'a'"},
            ],
        )
    ],
    "statement transaction": [
        _call(
            "ExecuteTransaction",
            TransactStatements=[
                {"Statement": "SELECT * FROM plain WHERE pk = 'a'"},
                {"Statement": "SELECT * FROM ranged WHERE pk = 'u1' AND sk = 2"},
            ],
        ),
        _call(
            "ExecuteTransaction",
            TransactStatements=[{"Statement": "INSERT INTO plain VALUE {'pk': 'q'}"}],
        ),
    ],
}


@pytest.mark.parametrize("calls", CASES.values(), ids=CASES.keys())
def test_same_answer_as_moto(calls):
    """Status, body, headers, client result and table state equal moto's full path's."""
    _assert_same(calls)


def test_cases_cover_every_operation_answered():
    """Every operation respond() answers is in the equivalence matrix."""
    covered = {operation for calls in CASES.values() for operation, _ in calls}
    assert covered == dynamo_direct.OPERATIONS


def test_errors_are_compared():
    """The matrix sees moto's errors: a missing table is a 400 ResourceNotFoundException."""
    (outcome,) = _assert_same(CASES["put missing table"])
    assert outcome.raw is not None and outcome.raw[0] == 400
    assert outcome.client["error"]["Error"]["Code"] == "ResourceNotFoundException"


def test_client_reads_cancellation_reasons_alike():
    """botocore parses the lane's TransactionCanceledException into moto's reasons and Item."""
    (outcome,) = _assert_same(CASES["transact write cancelled"])
    error = outcome.client["error"]
    assert error["Error"]["Code"] == "TransactionCanceledException"
    assert [reason["Code"] for reason in error["CancellationReasons"]] == [
        "None",
        "ConditionalCheckFailed",
    ]
    assert error["CancellationReasons"][1]["Item"]["pk"] == {"S": "a"}


def _all_pages(before: list[tuple[str, dict[str, Any]]], **scan: Any) -> list[Outcome]:
    """Scan pages, following LastEvaluatedKey to the end, after ``before``, compared."""
    calls = [*before, _call("Scan", **scan)]
    outcomes = _assert_same(calls)
    while "LastEvaluatedKey" in outcomes[-1].client:
        start = outcomes[-1].client["LastEvaluatedKey"]
        calls.append(_call("Scan", **scan, ExclusiveStartKey=start))
        outcomes = _assert_same(calls)
    return outcomes[len(before) :]


def test_scan_paginates_to_the_end_alike():
    """Following LastEvaluatedKey page by page (Limit=2) gives the same pages both ways."""
    pages = _all_pages([], TableName="ranged", Limit=2)
    assert len(pages) == 4 and sum(page.client["Count"] for page in pages) == 7


def test_scan_stops_pages_at_1_mb_alike():
    """Pages cut at DynamoDB's 1 MB are the same both ways (moto models that limit)."""
    big = "y" * (350 * 1024)
    puts = [
        _call("PutItem", TableName="plain", Item={"pk": {"S": f"big{index}"}, "v": {"S": big}})
        for index in range(5)
    ]
    pages = _all_pages(puts, TableName="plain", ProjectionExpression="pk")
    assert len(pages) > 1 and sum(page.client["Count"] for page in pages) == 8


def _body(operation: str, **params: Any) -> bytes:
    """The request body botocore serializes for ``operation``."""
    bodies = []

    def capture(request: Any, **_: Any) -> AWSResponse:
        bodies.append(request.body)
        return AWSResponse(request.url, 200, {}, MockRawResponse(b"{}"))

    client = _client()
    client.meta.events.register_first("before-send.dynamodb", capture)
    getattr(client, xform_name(operation))(**params)
    return bodies[0]


def test_declines_other_operations():
    """An operation not verified equal (DescribeTable) is left to moto's full path."""
    with mock_aws():
        body = _body("DescribeTable", TableName="plain")
        assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "DescribeTable", body) is None


def test_declines_when_moto_is_not_mocking():
    """Without an active mock_aws, moto would not answer: neither does respond."""
    body = _body("GetItem", TableName="plain", Key={"pk": {"S": "a"}})
    assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "GetItem", body) is None


def test_declines_a_body_moto_reads_as_another_action():
    """A value like 'a&Action=Scan' makes moto pick another operation: left to moto."""
    with mock_aws():
        _seed(_client())
        item = {"pk": {"S": "x"}, "v": {"S": "a&Action=DeleteTable&b"}}
        body = _body("PutItem", TableName="plain", Item=item)
        assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "PutItem", body) is None


def test_declines_what_moto_raises_on():
    """A body moto's handler raises on (not an AWS error) is left to the full path."""
    with mock_aws():
        _seed(_client())
        assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "PutItem", b"{}") is None
        assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "PutItem", b"\xff") is None
        assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "PutItem", None) is None


def test_declines_while_moto_records_requests(monkeypatch, tmp_path):
    """With moto's request recorder on, the full path records the call: left to it."""
    monkeypatch.setattr(recorder, "_location", str(tmp_path / "moto_recording"))
    with mock_aws():
        _seed(_client())
        body = _body("GetItem", TableName="plain", Key={"pk": {"S": "a"}})
        recorder.start_recording()
        try:
            assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "GetItem", body) is None
        finally:
            recorder.stop_recording()
        assert dynamo_direct.respond(DEFAULT_ACCOUNT_ID, REGION, "GetItem", body) is not None


class Colour(Enum):
    RED = "red"


# Results moto's handlers could hand the serializer, odd ones included: the lane's serializer
# must write what moto's writes, byte for byte (aliases such as snake_case keys, None in
# lists and structures, strings given as {} or None, blobs given as str, numbers as strings).
ODD_RESULTS = {
    "count as string": ("Scan", {"Items": [{"a": {"S": "x"}}], "Count": "2"}),
    "snake_case keys": ("Scan", {"items": [{"a": {"s": "lower"}}], "scanned_count": True}),
    "shape name wins": ("Scan", {"ItemList": [{"a": {"N": 5}}], "Items": [{"b": {"S": "no"}}]}),
    "unknown keys": ("Query", {"Items": [], "Count": 0, "Other": 1, "ConsumedCapacityUnits": 1}),
    "odd attribute values": (
        "GetItem",
        {
            "Item": {
                "str blob": {"B": "c3Ry"},
                "bytes blob": {"B": b"\x00"},
                "empty": {"S": ""},
                "dict string": {"S": {}},
                "none string": {"S": None},
                "none value": None,
                "list": {"L": [None, {"NULL": True}, {"BOOL": 0}]},
                "blobs": {"BS": [b"1", "2"]},
                "enum": {"S": Colour.RED},
                "number": {"N": 1.5},
            }
        },
    ),
    "capacity": (
        "PutItem",
        {
            "ConsumedCapacity": {
                "TableName": "t",
                "CapacityUnits": 1,
                "Table": {"CapacityUnits": "0.5"},
                "GlobalSecondaryIndexes": {"g": {"CapacityUnits": 2}, "h": None},
            }
        },
    ),
    "batch write": (
        "BatchWriteItem",
        {"ConsumedCapacity": [{"TableName": "t"}, None], "ItemCollectionMetrics": {}},
    ),
    "batch get": (
        "BatchGetItem",
        {
            "Responses": {"t": [{"k": {"S": "v"}}]},
            "UnprocessedKeys": {"t": {"Keys": [{"k": {"S": "v"}}], "ProjectionExpression": "k"}},
        },
    ),
    "transact get": ("TransactGetItems", {"Responses": [{}, {"Item": {"k": {"M": {}}}}]}),
    "no result": ("DeleteItem", None),
    "None member": ("UpdateItem", {"Attributes": {"k": {"BOOL": False}}, "ConsumedCapacity": None}),
}


@pytest.mark.parametrize("operation, result", ODD_RESULTS.values(), ids=ODD_RESULTS.keys())
def test_serializer_writes_what_moto_writes(operation, result):
    """The lane's result serializer gives moto's JSONSerializer's body, byte for byte."""
    operation_model = get_service_model("dynamodb").operation_model(operation)
    context = ActionContext(
        operation_model.service_model, operation_model, JSONSerializer, DynamoHandler()
    )
    _, _, moto_body = ActionResult(copy.deepcopy(result)).execute_result(context)
    assert dynamo_direct._result_body(operation_model, result) == moto_body


@pytest.mark.parametrize(
    "result",
    [
        {"Item": {"k": object()}},
        {"Item": {"k": {"S": "x"}}, "ConsumedCapacity": object()},
        {"Item": {"": {"S": "x"}}},
    ],
    ids=["object attribute value", "object structure", "empty attribute name"],
)
def test_serializer_leaves_odd_values_to_moto(result):
    """Objects (picked by attribute) and structures under an empty key (written into their
    parent) are left to moto's serializer."""
    operation_model = get_service_model("dynamodb").operation_model("GetItem")
    with pytest.raises(dynamo_direct._Unsupported):
        dynamo_direct._result_body(operation_model, result)


def test_answers_from_the_given_account_and_region(monkeypatch):
    """respond() reads and writes the tables of the account and region it is given, those
    moto's full path picks (MOTO_ACCOUNT_ID, the endpoint's region)."""
    monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
    with mock_aws():
        client = _SESSION.client("dynamodb", region_name="eu-west-1")
        _hash_table(client, "elsewhere")
        body = _body("PutItem", TableName="elsewhere", Item={"pk": {"S": "k"}})
        status, _, _ = dynamo_direct.respond("111122223333", "eu-west-1", "PutItem", body)
        assert status == 200
        assert client.get_item(TableName="elsewhere", Key={"pk": {"S": "k"}})["Item"]
        for account, region in ((DEFAULT_ACCOUNT_ID, "eu-west-1"), ("111122223333", REGION)):
            status, _, answer = dynamo_direct.respond(account, region, "PutItem", body)
            assert status == 400 and b"ResourceNotFoundException" in answer


def test_connection_records_take_the_plain_lane_and_others_do_not():
    """The bundled service's put and delete of a connection record are answered by the plain
    lane (what its matrix cases then compare); a put with a condition, a set or an exponent
    number is not."""
    with mock_aws():
        _seed(_client())
        for operation, params in (CONNECT, DISCONNECT):
            text = _body(operation, **params).decode()
            assert dynamo_direct._plain_item_call(DEFAULT_ACCOUNT_ID, REGION, operation, text)
        for params in (
            {"Item": {"pk": {"S": "a"}}, "ConditionExpression": "attribute_not_exists(pk)"},
            {"Item": {"pk": {"S": "a"}, "tags": {"SS": ["x"]}}},
            {"Item": {"pk": {"S": "a"}, "n": {"N": "1e5"}}},
        ):
            text = _body("PutItem", TableName="plain", **params).decode()
            assert (
                dynamo_direct._plain_item_call(DEFAULT_ACCOUNT_ID, REGION, "PutItem", text) is None
            )

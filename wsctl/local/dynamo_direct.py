"""DynamoDB calls answered by the embedded moto without moto's HTTP emulation.

moto answers a botocore request (``moto.core.models.botocore_stubber``) by building a werkzeug
request, matching the URL against every service's patterns, listing the handler's methods with
``inspect.getmembers``, parsing query strings out of the JSON body, and only then calling
``DynamoHandler.put_item``: about 430 µs per call here, where the table work is ~20 µs. The
emulator's connection rate (a PutItem per ``$connect``, a DeleteItem per ``$disconnect``) is
bounded by it.

``respond`` takes the body botocore serialized and does what that path does, minus the HTTP
emulation: moto's own request parser, moto's own ``DynamoHandler`` method (so every validation
and semantic of moto is kept), and moto's own result serializer and error bodies, following
``BaseResponse.setup_class``, ``call_action``, ``DynamoHandler.call_action`` (its ``amz_crc32``
header) and ``BaseResponse._enrich_response`` of moto 5.2. It answers only the operations in
``OPERATIONS``, each checked equal to the full path by tests/local/test_dynamo_direct.py, and
gives None (the caller then takes moto's full path) for anything else or anything unexpected,
never a different answer. Left out on purpose: moto's request recorder and IAM's "access key
last used" bookkeeping (``mark_account_as_visited``), which never change a DynamoDB answer;
when the recorder or IAM authentication is on, ``respond`` declines.
"""

from __future__ import annotations

import base64
import json
import math
import os
import re
from enum import Enum
from typing import Any
from urllib.parse import parse_qsl

from botocore import xform_name
from moto import settings
from moto.core.config import default_user_config
from moto.core.exceptions import ServiceException
from moto.core.models import botocore_stubber
from moto.core.parse import JSONParser
from moto.core.responses import ActionResult
from moto.core.serialize import JSONSerializer, get_serializer_class
from moto.core.utils import get_service_model, utcnow
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api import recorder
from moto.utilities.aws_headers import gen_amz_crc32
from moto.utilities.utils import get_partition
from werkzeug.exceptions import HTTPException
from werkzeug.http import http_date

# The operations whose answers tests/local/test_dynamo_direct.py checks equal to moto's full
# path (status, body, resulting table state, and botocore's parsed result or error).
OPERATIONS = frozenset(
    {
        "PutItem",
        "GetItem",
        "DeleteItem",
        "UpdateItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "TransactWriteItems",
        "TransactGetItems",
        "ExecuteStatement",
        "BatchExecuteStatement",
        "ExecuteTransaction",
    }
)

_SERVICE_MODEL = get_service_model("dynamodb")
_SERIALIZER_IS_PLAIN = get_serializer_class("dynamodb", "json") is JSONSerializer
# What botocore sends as X-Amz-Target and Content-Type, and what moto answers with.
_TARGET_PREFIX = _SERVICE_MODEL.metadata["targetPrefix"] + "."
_JSON_CONTENT_TYPE = "application/x-amz-json-" + _SERVICE_MODEL.metadata["jsonVersion"]
_METHODS = {
    "PutItem": "put_item",
    "GetItem": "get_item",
    "DeleteItem": "delete_item",
    "UpdateItem": "update_item",
    "Query": "query",
    "Scan": "scan",
    "BatchGetItem": "batch_get_item",
    "BatchWriteItem": "batch_write_item",
    "TransactWriteItems": "transact_write_items",
    "TransactGetItems": "transact_get_items",
    "ExecuteStatement": "execute_statement",
    "BatchExecuteStatement": "batch_execute_statement",
    "ExecuteTransaction": "execute_transaction",
}


def respond(
    account_id: str, region: str, operation: str, body: bytes | str
) -> tuple[int, dict[str, str], bytes] | None:
    """moto's answer to the DynamoDB ``operation`` request ``body`` (JSON protocol, as
    botocore serialized it): (HTTP status, response headers with lower-case names, response
    body), or None when this lane does not answer it and the caller must take moto's full path.

    ``account_id`` and ``region`` are those moto's full path would use: the region of the
    endpoint URL; the account of ``MOTO_ACCOUNT_ID``, else of the request's access key (for a
    request without credentials, ``os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)``
    with ``moto.core.DEFAULT_ACCOUNT_ID``).

    moto's DynamoDB backend is not thread-safe: the caller holds the lock that serializes every
    call moto answers (``hooks._moto_lock``) around this one; ``respond`` takes no lock.
    """
    method_name = _METHODS.get(operation)
    if method_name is None or not _moto_answers_plainly():
        return None
    if isinstance(body, str):
        raw = body.encode("utf-8")
    elif isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
    else:
        return None  # a stream or None: what moto would read from it is its own business
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # moto's full path raises on it; let it
    if _names_an_action(text):
        return None
    if operation in _PLAIN_ITEM_OPERATIONS:
        plain = _plain_item_call(account_id, region, operation, text)
        if plain is not None:
            return plain
    try:
        handler = _handler(account_id, region, operation, raw)
        status, headers, answer = _call(handler, method_name)
    except Exception:  # moto raising is "unexpected": its full path decides
        return None
    if not isinstance(answer, str | bytes):
        return None
    payload = answer.encode("utf-8") if isinstance(answer, str) else answer
    # Names in lower case, as botocore reports the headers of an HTTP answer (HeadersDict).
    lowered = {key.lower(): str(value) for key, value in headers.items()}
    if len(lowered) != len(headers):
        return None
    return int(status), lowered, payload


def _moto_answers_plainly() -> bool:
    """moto is mocking in this process (its server and proxy modes leave the stubber off),
    with no setting that would change how it answers a DynamoDB call."""
    core = default_user_config.get("core", {})
    passthrough = core.get("passthrough", {})
    whitelist = core.get("service_whitelist")
    unauthenticated_calls = settings.INITIAL_NO_AUTH_ACTION_COUNT
    return (
        botocore_stubber.enabled
        and not passthrough.get("services")
        and not passthrough.get("urls")
        and (whitelist is None or "dynamodb" in whitelist)
        and getattr(recorder, "_user_enabled", True) is False
        and unauthenticated_calls == math.inf  # moto's default: no IAM checks
    )


def _names_an_action(text: str) -> bool:
    """Whether moto would read an ``Action`` out of the body taken as a query string.

    ``BaseResponse.setup_class`` parses a body as a query string when the URL has none, and an
    ``Action`` found there overrides ``X-Amz-Target``: a string value such as ``a&Action=Scan``
    makes moto run another operation. Rare, and left to the full path.
    """
    if "Action" not in text and "%" not in text:
        return False
    try:
        pairs = parse_qsl(text, keep_blank_values=True)
    except ValueError:
        return True
    return any(key == "Action" for key, _ in pairs)


# A put of string and number attributes, a delete by key: every $connect and $disconnect.
_PLAIN_ITEM_OPERATIONS = {"PutItem": "Item", "DeleteItem": "Key"}
_PLAIN_NUMBER = re.compile(r"-?(0|[1-9][0-9]{0,37})(\.[0-9]{1,38})?")


def _plain_item_call(
    account_id: str, region: str, operation: str, text: str
) -> tuple[int, dict[str, str], bytes] | None:
    """PutItem or DeleteItem with nothing but the table and the item (or key), every value a
    non-empty string or a plain number, answered by the backend call moto's handler makes with
    them, skipping its request parser and checks, which such a request passes by construction
    (no empty keys or sets, no NULL index keys, no conditions). Anything else, or anything the
    backend refuses (no such table, a key of the wrong type or missing, an item too large;
    refused before it stores or deletes), is None: the general path answers it, the same way.
    """
    try:
        request = json.loads(text)
    except ValueError:
        return None
    member = _PLAIN_ITEM_OPERATIONS[operation]
    values = request.get(member) if isinstance(request, dict) else None
    if set(request) != {"TableName", member} or not isinstance(values, dict) or not values:
        return None
    for value in values.values():
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((kind, raw),) = value.items()
        if not isinstance(raw, str) or not raw:
            return None
        if kind not in ("S", "N") or (kind == "N" and not _PLAIN_NUMBER.fullmatch(raw)):
            return None
    name = request["TableName"]
    try:
        backend = dynamodb_backends[account_id][region]
        table = backend.tables.get(name)
        if table is None:
            return None
        if operation == "PutItem":
            backend.put_item(name, values, None, None, {}, {}, True, None)
        elif all(key in table.attribute_keys for key in values):
            backend.delete_item(name, values, {}, {}, None, None)
        else:
            return None
    except Exception:
        return None
    headers = {
        "content-type": _JSON_CONTENT_TYPE,
        "server": "amazon.com",
        "date": http_date(utcnow()),
    }
    headers, body = _enrich_response(headers, "{}")
    gen_amz_crc32(body, headers)
    return 200, headers, body.encode("utf-8")


def _handler(account_id: str, region: str, operation: str, raw: bytes) -> Any:
    """A DynamoHandler set up as ``setup_class`` would for this request, without werkzeug."""
    handler = DynamoHandler()
    # What serialized() reads to pick the operation model and the protocol.
    handler.headers = {
        "X-Amz-Target": _TARGET_PREFIX + operation,
        "Content-Type": _JSON_CONTENT_TYPE,
    }
    handler.querystring = {}
    handler.uri_match = {}
    handler.region = region
    handler.partition = get_partition(region)
    handler.current_account = account_id
    handler.response_headers = {"server": "amazon.com", "date": http_date(utcnow())}
    operation_model = _SERVICE_MODEL.operation_model(operation)
    parser = JSONParser(operation_model, map_type=handler.PROTOCOL_PARSER_MAP_TYPE)
    handler.params = parser.parse({"body": raw})  # type: ignore[typeddict-item]
    # DynamoHandler.call_action: the handler methods read the parsed parameters as self.body.
    handler.body = handler.params
    return handler


def _call(handler: Any, method_name: str) -> tuple[Any, dict[str, Any], Any]:
    """``BaseResponse.call_action`` once the method is known, then ``amz_crc32``."""
    headers = handler.response_headers
    try:
        response = getattr(handler, method_name)()
    except ServiceException as error:
        status, error_headers, error_body = handler.serialized(ActionResult(error))
        error_headers["status"] = status
        response = error_body, error_headers
    except HTTPException as http_error:
        response_headers: dict[str, Any] = dict(http_error.get_headers() or [])
        response_headers["status"] = http_error.code
        response = http_error.description, response_headers
    if isinstance(response, ActionResult):
        status, headers, body = _serialized(handler, response)
    elif isinstance(response, str):
        status, body = 200, response
    else:
        status, headers, body = handler._transform_response(headers, response)
    headers, body = _enrich_response(headers, body)
    # amz_crc32 (moto.utilities.aws_headers) around DynamoHandler.call_action: botocore's
    # retry handler for DynamoDB checks this checksum against the body.
    crc_headers = dict(headers)
    if "status" in crc_headers:
        crc_headers["status"] = str(crc_headers["status"])
    gen_amz_crc32(body, crc_headers)
    return status, crc_headers, body


def _enrich_response(headers: dict[str, Any], body: Any) -> tuple[dict[str, Any], Any]:
    """``BaseResponse._enrich_response`` with the request id drawn from ``os.urandom``:
    moto's makes 52 ``random.choice`` calls, a fifth of what an item call costs here. The id
    looks the same (52 upper-case letters and digits); only a seeded moto would tell."""
    if "status" in headers:
        headers["status"] = str(headers["status"])
    request_id = base64.b32encode(os.urandom(35)).decode("ascii")[:52]
    headers["x-amzn-requestid"] = request_id
    if isinstance(body, str) and "<RequestId>" in body:
        body = re.sub(r"(?<=<RequestId>).*(?=<\/RequestId>)", request_id, body)
    return headers, body


def _serialized(handler: Any, result: ActionResult) -> tuple[int, dict[str, Any], str]:
    """``handler.serialized(result)``, with the body from ``_result_body`` when it can."""
    plain = type(result).execute_result is ActionResult.execute_result
    if not plain or handler.RESPONSE_KEY_PATH_TO_TRANSFORMER or not _SERIALIZER_IS_PLAIN:
        return handler.serialized(result)
    operation_model = _SERVICE_MODEL.operation_model(handler._get_action())
    try:
        body = _result_body(operation_model, result.result)
    except _Unsupported:
        return handler.serialized(result)
    headers = {"Content-Type": _JSON_CONTENT_TYPE}
    headers.update(handler.response_headers)
    return operation_model.http.get("responseCode", 200), headers, body


def _result_body(operation_model: Any, result: Any) -> str:
    """The body moto's JSON serializer writes for an operation's ``result``."""
    output_shape = operation_model.output_shape
    output = _to_json(result, output_shape, "", top=True) if output_shape else {}
    pretty = settings.PRETTIFY_RESPONSES
    return json.dumps({} if output is _ABSENT else output, indent=4 if pretty else None)


# moto's JSON serializer (moto.core.serialize.JSONSerializer with XFormedAttributePicker)
# walks the output shape, and for every structure member asks its attribute picker, which
# builds a context object and tries up to a dozen aliases: 80% of a Scan's time. What follows
# computes the same JSON for results made of plain dicts, lists, strings, numbers and bytes,
# with each structure member's aliases worked out once; anything else is _Unsupported and
# goes to moto's serializer. tests/local/test_dynamo_direct.py compares both on odd values.

_EMPTY = [None, {}, []]


class _Unsupported(Exception):
    """A value or shape the serializer below does not reproduce: moto's must answer."""


class _Absent:
    """What moto's serializer writes for a structure whose value is None: nothing."""


_ABSENT = _Absent()


def _to_json(value: Any, shape: Any, key: str, top: bool = False) -> Any:
    """What moto's serializer writes for ``value`` of ``shape`` under ``key`` (the output
    shape is written under the empty key, ``top``)."""
    kind = shape.type_name
    if kind == "structure":
        if value is None:
            return _ABSENT
        if not key and not top:
            raise _Unsupported("moto writes a structure under an empty key into its parent")
        if type(value) is not dict or shape.is_document_type:
            raise _Unsupported("only plain dicts are picked from like moto")
        wrapper = {}
        for member_key, member_shape, aliases in _members(shape):
            for alias in aliases:
                if alias in value:
                    picked = value[alias]
                    break
            else:
                continue
            if picked is not None:
                written = _to_json(picked, member_shape, member_key)
                if written is not _ABSENT:
                    wrapper[member_key] = written
        return wrapper
    if kind == "map":
        value_shape = shape.value
        mapped = {}
        for sub_key, sub_value in value.items():
            written = _to_json(sub_value, value_shape, sub_key)
            if written is not _ABSENT:
                mapped[sub_key] = written
        return mapped
    if kind == "list":
        member = shape.member
        listed = []
        for item in value:
            written = _to_json(item, member, member.name)
            listed.append(item if written is _ABSENT else written)
        return listed
    if kind == "string":
        if isinstance(value, Enum):
            value = value.value
        return str(value) if value not in _EMPTY else value
    if kind == "blob":
        data = value.encode("utf-8") if isinstance(value, str) else value
        return base64.b64encode(data).strip().decode("utf-8")
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value
    raise _Unsupported(kind)


# Keyed by the shape itself (botocore shapes hash by identity; the service model keeps them).
_member_cache: dict[Any, list[tuple[str, Any, tuple[str, ...]]]] = {}


def _members(shape: Any) -> list[tuple[str, Any, tuple[str, ...]]]:
    """Each member of structure ``shape``: its key, its shape, and the keys moto's picker
    tries on a dict, in order (moto.core.serialize.DEFAULT_ALIAS_PROVIDERS, each alias
    followed by its ``xform_name``, as XFormedAttributePicker does)."""
    cached = _member_cache.get(shape)
    if cached is not None:
        return cached
    members = []
    for key, member in shape.members.items():
        if member.serialization.get("name", key) != key:
            raise _Unsupported("serialized names")  # ModelAlias, and renamed JSON keys
        aliases = []
        # ExplicitAlias needs a Meta attribute, which a dict has not.
        if (
            member.type_name in ("list", "structure")
            and member.name not in shape.members
            and key != member.name
        ):
            aliases.append(member.name)  # ShapeNameAlias
        aliases.append(key)  # NoAlias
        short = key[len(shape.name) :]
        if key.lower().startswith(shape.name.lower()) and short not in shape.members:
            aliases.append(short)  # ShapePrefixAlias
        if key.lower().startswith("dict"):
            aliases.append(key[len("dict") :])  # ClassPrefixAlias, for a dict
        tried = tuple(name for alias in aliases for name in (alias, xform_name(alias)))
        if any("." in name for name in tried):
            raise _Unsupported("dotted keys are paths to moto's get_value")
        members.append((key, member, tried))
    _member_cache[shape] = members
    return members

"""botocore event hooks: the emulator answers management-API calls made by handlers in-process.

Handlers build ``boto3.client("apigatewaymanagementapi", endpoint_url="https://{domainName}/
{stage}")`` exactly as on AWS. A ``before-call`` hook (the way moto intercepts calls) sees the
request botocore serialized, and when its host and stage belong to a running emulator it
answers from that emulator's backend, skipping HTTP and signing. Anything else falls through
to botocore (and moto, when mocking).

moto's DynamoDB backend is not thread-safe (a scan iterates a dict that a concurrent put
resizes), and handlers run in threads: a ``before-send`` hook placed ahead of moto's own
serializes the calls moto answers while an emulator runs.

Both hooks join ``botocore.handlers.BUILTIN_HANDLERS`` at import, so every session created
afterwards has them; they do nothing while no emulator is registered.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.handlers import BUILTIN_HANDLERS

from wsctl.local import fastscan
from wsctl.local.answers import answer
from wsctl.local.connections import ConnectionsBackend, ManagementError

_backends: dict[tuple[str, str], ConnectionsBackend] = {}
_moto_lock = threading.Lock()
_moto_users = 0
_registry_lock = threading.Lock()


def register(domain_name: str, stage: str, backend: ConnectionsBackend) -> None:
    """Answer management calls to ``https://{domain_name}/{stage}`` from ``backend``."""
    global _moto_users
    with _registry_lock:
        _backends[(domain_name, stage)] = backend
        _moto_users += 1


def is_registered(domain_name: str, stage: str) -> bool:
    return (domain_name, stage) in _backends


def unregister(domain_name: str, stage: str) -> None:
    global _moto_users
    with _registry_lock:
        if _backends.pop((domain_name, stage), None) is not None:
            _moto_users -= 1


def _answer(backend: ConnectionsBackend, operation: str, connection_id: str, body: Any) -> dict:
    if operation == "PostToConnection":
        data = body if isinstance(body, bytes) else (body or b"")
        if isinstance(data, str):
            data = data.encode("utf-8")
        backend.post(connection_id, data)
        return {}
    if operation == "GetConnection":
        facts = backend.get(connection_id)
        identity = {"SourceIp": facts["identity"]["sourceIp"]}
        if "userAgent" in facts["identity"]:
            identity["UserAgent"] = facts["identity"]["userAgent"]
        return {
            "ConnectedAt": datetime.fromisoformat(facts["connectedAt"]),
            "Identity": identity,
            "LastActiveAt": datetime.fromisoformat(facts["lastActiveAt"]),
        }
    backend.delete(connection_id)
    return {}


def _management_call(model: Any, params: dict[str, Any], **_: Any) -> tuple | None:
    """before-call.apigatewaymanagementapi: answer in-process when the endpoint is ours."""
    if not _backends:
        return None
    url = params.get("url", "")
    parts = urlsplit(url)
    if parts.scheme != "https":  # callers of the http:// endpoint get the real HTTP exchange
        return None
    segments = parts.path.split("/")
    # /{stage}/@connections/{id}: botocore percent-encodes '@' and the id.
    if len(segments) != 4 or unquote(segments[2]) != "@connections":
        return None
    backend = _backends.get((parts.netloc, unquote(segments[1])))
    if backend is None:
        return None
    status = 204 if model.name == "DeleteConnection" else 200
    try:
        parsed = _answer(backend, model.name, unquote(segments[3]), params.get("body"))
    except ManagementError as exc:
        error = {"Error": {"Code": exc.code, "Message": exc.message}}
        return answer(url, exc.status, error)
    return answer(url, status, parsed)


def _serialized(stubber: Callable[..., Any]) -> Callable[..., Any]:
    def moto_one_at_a_time(**kwargs: Any) -> Any:
        if not _moto_users:
            return None
        with _moto_lock:
            return stubber(**kwargs)

    return moto_one_at_a_time


def _install() -> None:
    BUILTIN_HANDLERS.append(("before-call.apigatewaymanagementapi", _management_call))
    scan = fastscan.make_scan_hook(_moto_lock, lambda: _moto_users > 0)
    BUILTIN_HANDLERS.append(("before-call.dynamodb.Scan", scan))
    try:
        from moto.core.models import botocore_stubber
    except ImportError:  # pragma: no cover - moto is a dependency
        return
    for index, entry in enumerate(BUILTIN_HANDLERS):
        if entry[1] is botocore_stubber:
            BUILTIN_HANDLERS.insert(index, (entry[0], _serialized(botocore_stubber)))
            break


def error_body(error: ManagementError) -> bytes:
    """The JSON body AWS sends with an @connections error."""
    return json.dumps({"message": error.message}).encode("utf-8")


_install()

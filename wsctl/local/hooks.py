"""botocore event hooks: the emulator answers management-API calls made by handlers in-process.

Handlers build ``boto3.client("apigatewaymanagementapi", endpoint_url="https://{domainName}/
{stage}")`` exactly as on AWS. A ``before-call`` hook (the way moto intercepts calls) sees the
request botocore serialized, and when its host and stage belong to a running emulator it
answers from that emulator's backend, skipping HTTP and signing. Anything else falls through
to botocore (and moto, when mocking).

moto's DynamoDB backend is not thread-safe (a scan iterates a dict that a concurrent put
resizes), and handlers run in threads: a ``before-send`` hook placed ahead of moto's own
serializes the calls moto answers while an emulator runs.

PostToConnection is a broadcast's hot path (one call per connection), and botocore's own work
per call (validation, serialization, endpoint rules, events: ~80 µs) cost more than the
delivery. A ``creating-client-class`` hook (the extension point boto3 uses to add client
methods) wraps ``post_to_connection`` of management clients: when the client's endpoint is a
running emulator and the call is plain (ConnectionId and bytes/str Data), it goes straight to
the backend and raises the client's own modeled exceptions; any other call takes botocore's
full path. Handlers cannot tell the difference, except that botocore events of that call are
not emitted.

Lambda's Invoke of a function of a running emulator's stack (by name or ARN) is answered the
same way, by a ``before-call.lambda.Invoke`` hook handing it to that emulator (``invoke``).

These hooks join ``botocore.handlers.BUILTIN_HANDLERS`` at import, so every session created
afterwards has them; they do nothing while no emulator is registered.
"""

from __future__ import annotations

import functools
import io
import json
import os
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from botocore.awsrequest import AWSPreparedRequest
from botocore.handlers import BUILTIN_HANDLERS
from botocore.response import StreamingBody

from wsctl.local import fastscan
from wsctl.local.answers import answer
from wsctl.local.connections import ConnectionsBackend, ManagementError
from wsctl.local.invoke import LambdaError, LocalLambda, parse_ref
from wsctl.local.sandbox_worker import plain_post, posted

_backends: dict[tuple[str, str], ConnectionsBackend] = {}
moto_lock = threading.Lock()
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


# Stack name -> the running emulator of that stack: Invoke calls naming its functions go there.
_lambdas: dict[str, LocalLambda] = {}


def register_lambda(local: LocalLambda) -> None:
    """Answer Invoke calls naming ``local``'s functions (``{stack}-{function}``) from it."""
    with _registry_lock:
        _lambdas[local.stack] = local


def unregister_lambda(local: LocalLambda) -> None:
    with _registry_lock:
        if _lambdas.get(local.stack) is local:
            del _lambdas[local.stack]


def _lambda_for(function_name: str) -> LocalLambda | None:
    for stack, local in list(_lambdas.items()):
        if function_name.startswith(stack + "-"):
            return local
    return None


def _lambda_invoke(model: Any, params: dict[str, Any], **_: Any) -> tuple | None:
    """before-call.lambda.Invoke: run the function here when it is one of a running stack's."""
    if not _lambdas:
        return None
    # /2015-03-31/functions/{FunctionName}/invocations, FunctionName percent-encoded.
    segments = params.get("url_path", "").split("/")
    if len(segments) != 5 or segments[2] != "functions":
        return None
    qualifier = (params.get("query_string") or {}).get("Qualifier")
    ref = parse_ref(unquote(segments[3]), qualifier)
    local = _lambda_for(ref.name) if ref else None
    if local is None or ref is None:
        return None
    headers = params.get("headers", {})
    body = params.get("body") or b""
    payload = body.read() if hasattr(body, "read") else body
    try:
        result = local.invoke(
            ref,
            payload.encode("utf-8") if isinstance(payload, str) else bytes(payload),
            headers.get("X-Amz-Invocation-Type", "RequestResponse"),
            headers.get("X-Amz-Client-Context"),
        )
    except LambdaError as exc:
        error = {"Error": {"Code": exc.code, "Message": exc.message}, "Message": exc.message}
        return answer(params.get("url", ""), exc.status, error)
    parsed: dict[str, Any] = {
        "StatusCode": result.status,
        "Payload": StreamingBody(io.BytesIO(result.payload), len(result.payload)),
    }
    if result.status == 200:
        parsed["ExecutedVersion"] = "$LATEST"
    if result.function_error:
        parsed["FunctionError"] = result.function_error
    return answer(params.get("url", ""), result.status, parsed)


def _answer(backend: ConnectionsBackend, operation: str, connection_id: str, body: Any) -> dict:
    if operation == "PostToConnection":
        data = body.read() if hasattr(body, "read") else body or b""
        backend.post(connection_id, data.encode("utf-8") if isinstance(data, str) else data)
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


_endpoint_keys: dict[str, tuple[str, str] | None] = {}


def backend_for(endpoint_url: str) -> ConnectionsBackend | None:
    """The backend behind a client's ``https://{domainName}/{stage}`` endpoint, if ours."""
    key = _endpoint_keys.get(endpoint_url, ())
    if key == ():
        parts = urlsplit(endpoint_url)
        segments = parts.path.strip("/").split("/")
        key = (parts.netloc, unquote(segments[0])) if parts.scheme == "https" else None
        if len(segments) != 1:
            key = None
        _endpoint_keys[endpoint_url] = key
    return _backends.get(key) if key else None


def _direct_post(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def post_to_connection(self: Any, *args: Any, **kwargs: Any) -> Any:
        backend = backend_for(self.meta.endpoint_url) if _backends else None
        post = plain_post(args, kwargs)
        if backend is None or post is None:
            return original(self, *args, **kwargs)
        try:
            backend.post(*post)
        except ManagementError as exc:
            error = {
                "Error": {"Code": exc.code, "Message": exc.message},
                "ResponseMetadata": {"HTTPStatusCode": exc.status, "HTTPHeaders": {}},
            }
            raise self.exceptions.from_code(exc.code)(error, "PostToConnection") from None
        return posted(200)

    return post_to_connection


def _wrap_post(class_attributes: dict[str, Any], **_: Any) -> None:
    if "post_to_connection" in class_attributes:
        class_attributes["post_to_connection"] = _direct_post(
            class_attributes["post_to_connection"]
        )


def moto_dynamodb(region: str, operation: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """A DynamoDB request body as botocore serialized it, answered by the embedded moto as it
    answers over HTTP: status, headers, body; by ``dynamo_direct`` when it can (the same
    answer without moto's HTTP emulation, ~20x faster for an item)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.models import botocore_stubber

    from wsctl.local import dynamo_direct

    account = os.environ.get("MOTO_ACCOUNT_ID", DEFAULT_ACCOUNT_ID)
    with moto_lock:
        direct = dynamo_direct.respond(account, region, operation, body)
        if direct is not None:
            return direct
        request = AWSPreparedRequest(
            "POST",
            f"https://dynamodb.{region}.amazonaws.com/",
            {
                "X-Amz-Target": f"DynamoDB_20120810.{operation}",
                "Content-Type": "application/x-amz-json-1.0",
            },
            body,
            False,
        )
        response = botocore_stubber(event_name=f"before-send.dynamodb.{operation}", request=request)
    return (
        response.status_code,
        {k.lower(): v for k, v in response.headers.items()},
        response.content,
    )


def _serialized(stubber: Callable[..., Any]) -> Callable[..., Any]:
    def moto_one_at_a_time(**kwargs: Any) -> Any:
        if not _moto_users:
            return stubber(**kwargs)
        with moto_lock:
            return stubber(**kwargs)

    return moto_one_at_a_time


def _install() -> None:
    BUILTIN_HANDLERS.append(("before-call.apigatewaymanagementapi", _management_call))
    BUILTIN_HANDLERS.append(("creating-client-class.apigatewaymanagementapi", _wrap_post))
    BUILTIN_HANDLERS.append(("before-call.lambda.Invoke", _lambda_invoke))
    scan = fastscan.make_scan_hook(moto_lock, lambda: _moto_users > 0)
    BUILTIN_HANDLERS.append(("before-call.dynamodb.Scan", scan))
    try:
        from moto.core.models import botocore_stubber
    except ImportError:  # pragma: no cover - moto is a dependency
        return
    # In place of moto's own handler, not beside it: botocore emits before-send to every
    # handler and keeps the first answer, so moto beside the wrapper would answer each call a
    # second time, unlocked (every UpdateItem ADD counted twice, or lost in a race).
    for index, entry in enumerate(BUILTIN_HANDLERS):
        if entry[1] is botocore_stubber:
            BUILTIN_HANDLERS[index] = (entry[0], _serialized(botocore_stubber))
            break


def error_body(error: ManagementError) -> bytes:
    """The JSON body AWS sends with an @connections error."""
    return json.dumps({"message": error.message}).encode("utf-8")


_install()

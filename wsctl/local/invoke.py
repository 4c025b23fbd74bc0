"""Lambda's Invoke API for the stack's own functions, answered by the emulator.

Handlers call ``boto3.client("lambda").invoke(FunctionName=..., InvocationType=...)`` exactly
as on AWS; the botocore hook (``hooks``) hands the call to ``LocalLambda``, which runs the
function in the emulator and answers as Lambda does (Lambda API reference, Invoke):

- ``FunctionName``: a name, a full ARN or a partial ARN (``123456789012:function:name``),
  optionally qualified with ``:$LATEST`` (or ``Qualifier``); the emulator has no other versions.
- ``RequestResponse``: 200, the function's JSON result as ``Payload``; a function that raised
  or timed out gives ``FunctionError: Unhandled`` with ``errorMessage``/``errorType`` in it.
- ``Event``: 202 at once, the function runs on its own; ``DryRun``: 204, nothing runs.
- Unknown functions: 404 ``ResourceNotFoundException``; a payload that is not JSON: 400
  ``InvalidRequestContentException``; one over the quota: 413 ``RequestTooLargeException``.

Parsing a function reference is pure (``resolve``); ``LocalLambda`` is the thin shell that
runs functions on the emulator's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rich.markup import escape

from wsctl import naming
from wsctl.config import FunctionSpec, ServiceSpec
from wsctl.local.runtime import ACCOUNT_ID, FunctionFailed

if TYPE_CHECKING:
    from wsctl.local.gateway import Gateway

# Lambda quotas: invocation payload 6 MB synchronous, 256 KB asynchronous (the lower of the
# documented values over time, so what works here works on AWS).
SYNC_PAYLOAD_BYTES = 6 * 1024 * 1024
ASYNC_PAYLOAD_BYTES = 256 * 1024
INVOCATION_TYPES = ("RequestResponse", "Event", "DryRun")

_ARN = re.compile(
    r"^(?:arn:aws[a-zA-Z-]*:lambda:(?P<region>[a-z0-9-]+):)?"
    r"(?P<account>\d{12}):function:(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$"
)
_NAME = re.compile(r"^(?P<name>[A-Za-z0-9_-]+)(?::(?P<qualifier>[A-Za-z0-9$_-]+))?$")


class LambdaError(Exception):
    """A Lambda API error as AWS reports it: HTTP status, error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class FunctionRef:
    """What a ``FunctionName`` names: a Lambda function name, with region/account if an ARN."""

    name: str
    qualifier: str | None = None
    region: str | None = None
    account: str | None = None


@dataclass(frozen=True)
class InvokeResult:
    """Invoke's answer: StatusCode, Payload and FunctionError."""

    status: int
    payload: bytes = b""
    function_error: str | None = None


def parse_ref(function_name: str, qualifier: str | None = None) -> FunctionRef | None:
    """A ``FunctionName`` (name, ARN or partial ARN) parsed; None if it is none of these."""
    match = _ARN.match(function_name) or _NAME.match(function_name)
    if match is None:
        return None
    parts = match.groupdict()
    return FunctionRef(
        name=parts["name"],
        qualifier=parts.get("qualifier") or qualifier,
        region=parts.get("region"),
        account=parts.get("account"),
    )


def not_found(spec_region: str, name: str) -> LambdaError:
    arn = f"arn:aws:lambda:{spec_region}:{ACCOUNT_ID}:function:{name}"
    return LambdaError(404, "ResourceNotFoundException", f"Function not found: {arn}")


def resolve(spec: ServiceSpec, region: str, ref: FunctionRef) -> FunctionSpec:
    """The stack's function ``ref`` names, or Lambda's ResourceNotFoundException."""
    by_name = {naming.function_name(spec, name): f for name, f in spec.functions.items()}
    function = by_name.get(ref.name)
    if (
        function is None
        or (ref.region is not None and ref.region != region)
        or (ref.account is not None and ref.account != ACCOUNT_ID)
        or ref.qualifier not in (None, "$LATEST")
    ):
        suffix = f":{ref.qualifier}" if ref.qualifier else ""
        raise not_found(ref.region or region, ref.name + suffix)
    return function


def decode_payload(payload: bytes, invocation_type: str) -> Any:
    """The event a payload stands for; Lambda's errors for a bad type, size or JSON."""
    if invocation_type not in INVOCATION_TYPES:
        raise LambdaError(
            400,
            "InvalidParameterValueException",
            f"InvocationType must be one of {', '.join(INVOCATION_TYPES)}",
        )
    limit = ASYNC_PAYLOAD_BYTES if invocation_type == "Event" else SYNC_PAYLOAD_BYTES
    if len(payload) > limit:
        raise LambdaError(
            413,
            "RequestTooLargeException",
            f"Request must be smaller than {limit} bytes for the Invoke operation",
        )
    if not payload:
        return {}
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):
        raise LambdaError(
            400, "InvalidRequestContentException", "Could not parse request body into json"
        ) from None


def decode_client_context(header: str | None) -> dict[str, Any] | None:
    """``X-Amz-Client-Context``: base64 of a JSON object, as the Invoke API takes it."""
    if not header:
        return None
    try:
        value = json.loads(base64.b64decode(header, validate=True))
    except (binascii.Error, ValueError):
        raise LambdaError(
            400, "InvalidRequestContentException", "Client context must be base64-encoded JSON"
        ) from None
    return value if isinstance(value, dict) else None


def encode_result(result: Any) -> InvokeResult:
    """A handler's return value as RequestResponse's payload (Lambda serializes it as JSON)."""
    try:
        return InvokeResult(200, json.dumps(result).encode("utf-8"))
    except (TypeError, ValueError) as exc:
        error = {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
        }
        return InvokeResult(200, json.dumps(error).encode("utf-8"), "Unhandled")


class LocalLambda:
    """The Invoke API of one running gateway's functions; called from handler threads.

    It reads the gateway's spec and functions at each call, so a reloaded configuration
    applies at once.
    """

    def __init__(self, gateway: Gateway, loop: asyncio.AbstractEventLoop) -> None:
        self.gateway = gateway
        self._loop = loop
        self._background: set[Any] = set()

    @property
    def stack(self) -> str:
        return self.gateway.spec.stack

    def invoke(
        self,
        ref: FunctionRef,
        payload: bytes,
        invocation_type: str = "RequestResponse",
        client_context: str | None = None,
    ) -> InvokeResult:
        """Invoke the function ``ref`` names; blocks for RequestResponse. Never on the loop."""
        gateway = self.gateway
        function = resolve(gateway.spec, gateway.region, ref)
        event = decode_payload(payload, invocation_type)
        context_extra = {"client_context": decode_client_context(client_context)}
        if invocation_type == "DryRun":
            return InvokeResult(204)
        run = gateway.functions.invoke(function, event, "", **context_extra)
        future = asyncio.run_coroutine_threadsafe(run, self._loop)
        if invocation_type == "Event":
            self._background.add(future)
            future.add_done_callback(self._event_done)
            return InvokeResult(202)
        try:
            return encode_result(future.result())
        except FunctionFailed as failed:
            return InvokeResult(200, json.dumps(failed.error).encode("utf-8"), "Unhandled")

    def _event_done(self, future: Any) -> None:
        self._background.discard(future)
        if future.cancelled() or not isinstance(future.exception(), FunctionFailed):
            return
        # The failure itself is already on the console; say what AWS would do next.
        self.gateway.functions.console.print(
            f"[yellow]An asynchronous invocation of {escape(future.exception().function)} "
            "failed.[/] On AWS, Lambda retries it twice (MaximumRetryAttempts) before "
            "discarding the event; the emulator does not retry.",
            highlight=False,
        )

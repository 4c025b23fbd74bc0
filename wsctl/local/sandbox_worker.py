"""Inside a sandbox: one function's handler in a process of its own, as a Lambda execution
environment runs it (its own environment, module globals and ``sys.modules``).

It imports only the standard library and botocore/boto3 (never moto or the emulator), so what
the handler can reach is what Lambda gives it. Its AWS calls to DynamoDB, the management API and
Lambda are answered by the emulator process: a ``before-call`` hook sends the operation and its
parameters over the pipe and hands botocore the emulator's answer (or error) as if it had come
over HTTP. Any number of handler threads may call at once; one reader thread routes replies.

Messages (pickled by ``multiprocessing.connection``):
  parent -> sandbox: ("invoke", event, context fields) | ("reply", call id, ok, value)
  sandbox -> parent: ("ready", import error or None) | ("call", id, service, operation,
                     params, endpoint) | ("done", ok, result or error payload, log lines)
"""

from __future__ import annotations

import io
import logging
import os
import queue
import sys
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

FORWARDED = ("dynamodb", "apigatewaymanagementapi", "lambda")


@dataclass
class CognitoIdentity:
    """``context.identity`` as Lambda's Python runtime builds it."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


@dataclass
class ClientContext:
    """``context.client_context``: the ClientContext an Invoke call carried."""

    client: Any = None
    custom: Any = None
    env: Any = None

    @classmethod
    def from_json(cls, value: Mapping[str, Any] | None) -> ClientContext | None:
        if value is None:
            return None
        return cls(value.get("client"), value.get("custom"), value.get("env"))


@dataclass
class LambdaContext:
    """The context object Lambda passes to Python handlers."""

    function_name: str
    memory_limit_in_mb: str  # a string in Lambda's Python runtime
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    deadline: float = field(repr=False)
    function_version: str = "$LATEST"
    # Lambda's Python runtime always sets identity (Cognito fields, None unless a mobile SDK
    # sent them); client_context is what an Invoke call passed as ClientContext, else None.
    identity: CognitoIdentity = field(default_factory=CognitoIdentity)
    client_context: ClientContext | None = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class _Channel:
    """The pipe to the emulator: sends under a lock, replies routed to their waiting caller."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection
        self.invocations: queue.Queue[tuple | None] = queue.Queue()
        self._send_lock = threading.Lock()
        self._calls: dict[int, tuple[threading.Event, list]] = {}
        self._next = 0
        self._ids = threading.Lock()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self.connection.send(message)

    def call(self, service: str, operation: str, params: dict, endpoint: str) -> tuple[bool, Any]:
        with self._ids:
            self._next += 1
            call_id = self._next
        done, box = threading.Event(), []
        self._calls[call_id] = (done, box)
        self.send(("call", call_id, service, operation, params, endpoint))
        done.wait()
        return box[0]

    def read_forever(self) -> None:
        try:
            while True:
                message = self.connection.recv()
                if message[0] == "reply":
                    done, box = self._calls.pop(message[1])
                    box.append((message[2], message[3]))
                    done.set()
                else:
                    self.invocations.put(message)
        except (EOFError, OSError):
            self.invocations.put(None)


class _Lines(io.TextIOBase):
    """stdout/stderr of the sandbox: whole lines, kept for the invocation's log."""

    def __init__(self, sink: Callable[[str], None]) -> None:
        self._sink = sink
        self._partial = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._partial += text
        *lines, self._partial = self._partial.split("\n")
        for line in lines:
            self._sink(line)
        return len(text)

    def flush(self) -> None:
        if self._partial:
            self._sink(self._partial)
            self._partial = ""


class _LogLines(logging.Handler):
    def __init__(self, sink: Callable[[str], None]) -> None:
        super().__init__(logging.INFO)
        self._sink = sink
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self._sink(self.format(record))


def _install_forwarding(channel: _Channel) -> None:
    """botocore hooks: every call to a forwarded service is answered by the emulator."""
    from botocore.awsrequest import AWSResponse
    from botocore.handlers import BUILTIN_HANDLERS
    from botocore.response import StreamingBody

    def keep_params(params: dict, context: dict, **_: Any) -> None:
        # The dict itself, not a copy: boto3's resources (Table.query(KeyConditionExpression=
        # Key(...)), put_item of Python values) transform the same dict in place, in their
        # before-parameter-build handlers, which run after this one.
        context["wsctl_params"] = params

    def forward(model: Any, params: dict, context: dict, **_: Any) -> tuple:
        service = model.service_model.service_name
        api_params = dict(context.get("wsctl_params", {}))
        for key, value in list(api_params.items()):
            if hasattr(value, "read"):  # a file-like Payload or Data: its bytes travel
                api_params[key] = value.read()
        url = params.get("url", "")
        ok, value = channel.call(service, model.name, api_params, url)
        if ok:
            status, parsed = value
            if "Payload" in parsed and isinstance(parsed["Payload"], bytes):
                body = parsed["Payload"]
                parsed["Payload"] = StreamingBody(io.BytesIO(body), len(body))
        else:
            status, parsed = value
        parsed.setdefault("ResponseMetadata", {})
        parsed["ResponseMetadata"].update(
            {"HTTPStatusCode": status, "HTTPHeaders": {}, "RetryAttempts": 0}
        )
        return AWSResponse(url, status, {}, io.BytesIO(b"")), parsed

    for service in FORWARDED:
        BUILTIN_HANDLERS.append((f"before-parameter-build.{service}", keep_params))
        BUILTIN_HANDLERS.append((f"before-call.{service}", forward))


def error_payload(exc: BaseException) -> dict[str, Any]:
    """A raised exception as the Python runtime reports it to Invoke's caller."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": [line.rstrip("\n") for line in traceback.format_tb(exc.__traceback__)],
    }


def main(connection: Any, code_dir: str, handler_name: str, env: dict[str, str]) -> None:
    """The sandbox's life: set up, import the handler, then run invocations one at a time."""
    os.environ.clear()
    os.environ.update(env)
    os.chdir(code_dir)
    sys.path.insert(0, code_dir)
    channel = _Channel(connection)
    _install_forwarding(channel)
    lines: list[str] = []
    sys.stdout = _Lines(lines.append)  # type: ignore[assignment]
    sys.stderr = _Lines(lines.append)  # type: ignore[assignment]
    root = logging.getLogger()
    root.addHandler(_LogLines(lines.append))
    root.setLevel(logging.INFO)
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    module_name, attribute = handler_name.rsplit(".", 1)
    handler = None
    try:
        import importlib

        handler = getattr(importlib.import_module(module_name), attribute)
        if not callable(handler):
            raise TypeError(f"{handler_name} is not a function")
        error = None
    except Exception as exc:
        error = "".join(traceback.format_exception_only(exc)).strip()
    channel.send(("ready", error))
    reader = threading.Thread(target=channel.read_forever, name="wsctl-sandbox", daemon=True)
    reader.start()
    while True:
        message = channel.invocations.get()
        if message is None:
            return
        _, event, fields = message
        context = LambdaContext(**fields)
        context.client_context = ClientContext.from_json(fields.get("client_context"))
        lines.clear()
        try:
            if handler is None:
                raise ImportError(
                    f"Runtime.ImportModuleError: Unable to import {handler_name}: {error}"
                )
            result = handler(event, context)
            outcome: tuple = (True, result)
        except Exception as exc:
            traceback.print_exception(exc)
            outcome = (False, error_payload(exc))
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            channel.send(("done", *outcome, list(lines)))
        except Exception as exc:  # a result pickle cannot carry
            marshal_error = {
                "errorMessage": f"Unable to marshal response: {exc}",
                "errorType": "Runtime.MarshalError",
            }
            channel.send(("done", False, marshal_error, list(lines)))


def run_from_argv(argv: list[str]) -> None:
    """Entry point of the sandbox process: ``FD CODE_DIR HANDLER`` (environment inherited)."""
    from multiprocessing.connection import Connection

    fd, code_dir, handler_name = argv
    main(Connection(int(fd)), code_dir, handler_name, dict(os.environ))

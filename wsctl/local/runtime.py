"""The functions of a service, run as Lambda runs them: loaded by module name from the code
directory, invoked with an event and a context object, and reloaded when their files change.

Handlers are synchronous and make blocking boto3 calls, so they run in a thread pool; the
event loop awaits them. A handler's traceback is printed on the emulator's console, never
sent to the client.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from wsctl import naming
from wsctl.config import FunctionSpec, ServiceSpec
from wsctl.local import observe
from wsctl.local.connections import now_ms
from wsctl.local.sandbox_worker import (
    ClientContext,
    LambdaContext,
    error_payload,
)

ACCOUNT_ID = "123456789012"
Handler = Callable[[dict, Any], Any]


class FunctionFailed(Exception):
    """The function raised, timed out, or could not be imported (already reported).

    ``error`` is what Lambda's Invoke API returns as the payload of a failed invocation
    (``errorMessage``, ``errorType``, ``stackTrace``).
    """

    def __init__(self, function: str, error: dict[str, Any] | None = None) -> None:
        super().__init__(function)
        self.function = function
        self.error = error or {"errorMessage": "Unknown error", "errorType": "Runtime.Unknown"}

    @property
    def error_message(self) -> str | None:
        """Lambda's ``errorMessage`` (``str`` of a raised exception): API Gateway reads an
        authorizer's ``Unauthorized`` from it."""
        return self.error.get("errorMessage")


class FunctionHost:
    """Imports a service's handlers and invokes them in a thread pool."""

    def __init__(
        self,
        spec: ServiceSpec,
        *,
        region: str,
        console: Console,
        max_workers: int = 64,
        observers: observe.Observers | None = None,
    ) -> None:
        self.spec = spec
        self.observers = observers if observers is not None else observe.Observers()
        # What handlers log goes to their invocation's record too, for the console.
        self._logs = observe.LogCapture()
        logging.getLogger().addHandler(self._logs)
        self.region = region
        self.console = console
        self.code_dir = spec.code_dir.resolve()
        self.executor = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lambda")
        self._handlers: dict[str, Handler] = {}
        self._running = 0
        self._idle = threading.Condition()
        # Lambda's form: date, version, and the execution environment's 32 hex digits.
        self._log_stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex

    # Loading -------------------------------------------------------------------------------
    def load(self, changed: Iterable[Path] = ()) -> dict[str, str]:
        """Import every function's module afresh; returns {function: error} for failures.

        ``changed`` files lose their bytecode cache: it is keyed by whole-second mtime and
        size, so an edit within the same second could otherwise run the old code.
        """
        for path in changed:
            with contextlib.suppress(OSError, ValueError):
                Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
        self._forget_modules()
        if str(self.code_dir) not in sys.path:
            sys.path.insert(0, str(self.code_dir))
        importlib.invalidate_caches()
        handlers: dict[str, Handler] = {}
        errors: dict[str, str] = {}
        modules: dict[str, Any] = {}
        for name, function in self.spec.functions.items():
            try:
                if function.module not in modules:
                    modules[function.module] = importlib.import_module(function.module)
                handler = getattr(modules[function.module], function.attribute)
                if not callable(handler):
                    raise TypeError(f"{function.handler} is not a function")
            except Exception as exc:
                message = "".join(traceback.format_exception_only(exc)).strip()
                errors[name] = message
                handler = _import_failure(function, message)
            handlers[name] = handler
        self._handlers = handlers
        return errors

    def unload(self) -> None:
        self._forget_modules()
        if str(self.code_dir) in sys.path:
            sys.path.remove(str(self.code_dir))

    def _forget_modules(self) -> None:
        """Drop modules from this code directory, and any module our handlers are named as."""
        names = {function.module.split(".")[0] for function in self.spec.functions.values()}
        prefix = str(self.code_dir) + os.sep
        for name, module in list(sys.modules.items()):
            # Modules imported through our sys.path entry have __file__ under it, as given.
            filename = getattr(module, "__file__", None) or ""
            if filename.startswith(prefix) or name.split(".")[0] in names:
                del sys.modules[name]

    def shutdown(self, grace: float = 5.0) -> None:
        """Refuse new invocations; wait up to ``grace`` seconds for running ones.

        Python cannot stop a thread: an invocation still running after that (one that timed
        out, say) finishes on its own, and its AWS calls then fail, as no mock answers them.
        """
        self.executor.shutdown(wait=False, cancel_futures=True)
        with self._idle:
            self._idle.wait_for(lambda: self._running == 0, timeout=grace)
        logging.getLogger().removeHandler(self._logs)

    # Invoking ------------------------------------------------------------------------------
    def context(
        self, function: FunctionSpec, client_context: Mapping[str, Any] | None = None
    ) -> LambdaContext:
        """A fresh context: Lambda's request id is a UUID of its own, not API Gateway's."""
        fields = self.context_fields(function, str(uuid.uuid4()), self._log_stream)
        return LambdaContext(**fields, client_context=ClientContext.from_json(client_context))

    def context_fields(
        self, function: FunctionSpec, aws_request_id: str, log_stream: str
    ) -> dict[str, Any]:
        """What Lambda's context holds for one invocation of ``function``, but its
        ClientContext."""
        name = naming.function_name(self.spec, function.name)
        return {
            "function_name": name,
            "memory_limit_in_mb": str(function.memory),
            "invoked_function_arn": f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{name}",
            "aws_request_id": aws_request_id,
            "log_group_name": naming.log_group_name(self.spec, function.name),
            "log_stream_name": log_stream,
            "deadline": time.monotonic() + function.timeout,
        }

    async def invoke(
        self,
        function: FunctionSpec,
        event: Any,
        request_id: str = "",
        client_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run ``function`` on ``event``; FunctionFailed if it raised or ran out of time.

        ``request_id`` is API Gateway's, when it invoked the function (Lambda's own id is in
        the context).
        """
        handler = self._handlers[function.name]
        context = self.context(function, client_context)
        loop = asyncio.get_running_loop()
        logs: list[str] = []
        started, started_at = time.monotonic(), now_ms()
        outcome = observe.ERROR
        try:
            try:
                future = loop.run_in_executor(
                    self.executor, self._call, function, handler, event, context, logs
                )
            except RuntimeError:  # shutting down: no new invocations
                raise FunctionFailed(
                    function.name,
                    {"errorMessage": "The emulator is stopping", "errorType": "Stopped"},
                ) from None
            try:
                result = await asyncio.wait_for(future, timeout=function.timeout)
            except TimeoutError:
                outcome = observe.TIMEOUT
                # Lambda's words, in the log and in what Invoke's caller gets.
                raise self.timed_out(function, context.aws_request_id, logs) from None
            outcome = observe.OK
            return result
        finally:
            if self.observers:
                self.observers.emit(
                    _invocation(function, event, request_id, started, started_at, outcome, logs)
                )

    def _call(
        self,
        function: FunctionSpec,
        handler: Handler,
        event: dict,
        context: LambdaContext,
        logs: list[str],
    ) -> Any:
        with self._idle:
            self._running += 1
        try:
            with self._logs.capturing(logs):
                return handler(event, context)
        except Exception as exc:
            logs.append(self.report_failure(context, exc))
            raise FunctionFailed(function.name, error_payload(exc)) from None
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def timed_out(self, function: FunctionSpec, request_id: str, logs: list[str]) -> FunctionFailed:
        """Lambda's words for a timeout."""
        message = f"{request_id} Task timed out after {function.timeout:.2f} seconds"
        return self.did_not_finish(function, message, "Sandbox.Timedout", logs)

    def did_not_finish(
        self, function: FunctionSpec, message: str, error_type: str, logs: list[str]
    ) -> FunctionFailed:
        """Lambda's words for an invocation that did not finish, in its log, on the console
        and for Invoke's caller."""
        logs.append(message)
        name = naming.function_name(self.spec, function.name)
        self.console.print(f"[red]{escape(name)}[/] {message}", highlight=False)
        return FunctionFailed(function.name, {"errorMessage": message, "errorType": error_type})

    def report_failure(self, context: LambdaContext, exc: BaseException) -> str:
        """Print a handler's traceback on the emulator's console; returns it."""
        text = "".join(traceback.format_exception(exc)).rstrip()
        self.console.print(
            f"[red]{escape(context.function_name)}[/] request {context.aws_request_id} "
            f"raised:\n{escape(text)}",
            highlight=False,
        )
        return text


def _invocation(
    function: FunctionSpec,
    event: Any,
    request_id: str,
    started: float,
    started_at: int,
    outcome: str,
    logs: list[str],
) -> observe.Invocation:
    # Invoke's events are any JSON the caller sent; API Gateway's carry a requestContext.
    context = (event.get("requestContext") if isinstance(event, dict) else None) or {}
    return observe.Invocation(
        function=function.name,
        route=context.get("routeKey", ""),
        request_id=request_id,
        connection_id=context.get("connectionId"),
        started_at=started_at,
        duration_ms=round((time.monotonic() - started) * 1000, 3),
        outcome=outcome,
        logs=tuple(logs),
    )


def _import_failure(function: FunctionSpec, message: str) -> Handler:
    """What Lambda does with a handler it cannot import: every invocation fails."""

    def failed_import(event: dict, context: Any) -> Any:
        raise ImportError(
            f"Runtime.ImportModuleError: Unable to import {function.handler}: {message}"
        )

    return failed_import


def environment(spec: ServiceSpec, region: str, token_digest: str | None) -> dict[str, str]:
    """Process environment for all functions: each function's Lambda variables, plus a region.

    The emulator runs every function in one process, so their variables are merged (they agree
    on everything except the token digest, which only the $connect function reads).
    """
    merged: dict[str, str] = {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    for function in spec.functions.values():
        merged.update(naming.function_environment(spec, function, token_digest))
    return merged


def code_snapshot(code_dir: Path) -> Mapping[Path, int]:
    """Modification times of the code's Python files: what hot reload compares."""
    snapshot: dict[Path, int] = {}
    for path in code_dir.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        try:
            snapshot[path] = path.stat().st_mtime_ns
        except OSError:
            continue
    return snapshot

"""Functions in sandboxes: each function runs in warm worker processes of its own, as Lambda
runs it in execution environments (DESIGN.md section 7).

- A sandbox is a Python process forked from the zygote (``forkserver``), running
  ``sandbox_worker``: its own environment with Lambda's variables, its own module globals.
  It runs one invocation at a time and stays warm for the next.
- Concurrent invocations of a function get more sandboxes, up to ``max_sandboxes`` each; more
  wait for one to be free. After a burst, only ``KEEP_IDLE`` stay warm.
- A timeout kills the sandbox ("Task timed out after N seconds"); a crash (exit, segfault)
  ends only that sandbox. Either way the next invocation gets a fresh one.
- Hot reload retires every sandbox: new ones import the new code.
- The handler's calls to DynamoDB, the management API and Lambda come over the sandbox's pipe
  in batches and are answered here, after checking the function's declared permissions
  (``permissions``): DynamoDB by the embedded moto, posts by the gateway's connections, the
  rest by this process's own boto3 clients (answered by the emulator's hooks).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import os
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from rich.console import Console
from rich.markup import escape

from wsctl import naming
from wsctl.config import FunctionSpec, ServiceSpec
from wsctl.local import fastscan, hooks, observe, permissions
from wsctl.local.connections import ManagementError, now_ms
from wsctl.local.forkserver import ForkServer
from wsctl.local.invoke import parse_ref
from wsctl.local.runtime import ACCOUNT_ID, FunctionFailed, FunctionHost, _invocation

MAX_SANDBOXES = 8  # per function
# Idle sandboxes a function keeps warm; more (after a burst) end when they finish: each holds
# ~30 MB of its own (an interpreter with botocore).
KEEP_IDLE = 4
START_TIMEOUT = 30.0
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}
_JSON_HEADERS = {"content-type": "application/x-amz-json-1.0"}
_CLIENT_CONFIG = Config(retries={"mode": "standard", "total_max_attempts": 1})


class SandboxDied(Exception):
    def __init__(self, exitcode: int | None) -> None:
        super().__init__(exitcode)
        self.exitcode = exitcode


class Sandbox:
    """One worker process of one function, and the thread that reads its pipe."""

    def __init__(self, host: SandboxHost, function: FunctionSpec, generation: int) -> None:
        self.host = host
        self.function = function
        self.generation = generation
        self.log_stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.pid, self._connection = host.zygote.spawn(
            str(host.code_dir), function.handler, host.environment_for(function, self)
        )
        self._send_lock = threading.Lock()
        self._current: concurrent.futures.Future[tuple] | None = None
        self.import_error: str | None = None
        self.alive = True

    def wait_ready(self) -> None:
        if not self._connection.poll(START_TIMEOUT):
            self.kill()
            raise SandboxDied(None)
        try:
            message = self._connection.recv()
        except (EOFError, OSError):
            self.alive = False
            raise SandboxDied(self.host.zygote.exit_code(self.pid, timeout=5)) from None
        self.import_error = message[1]
        threading.Thread(target=self._read, name="wsctl-sandbox-pipe", daemon=True).start()

    def send(self, message: tuple) -> None:
        with self._send_lock:
            self._connection.send(message)

    def run(self, event: Any, fields: dict[str, Any]) -> concurrent.futures.Future[tuple]:
        current: concurrent.futures.Future[tuple] = concurrent.futures.Future()
        self._current = current
        try:
            self.send(("invoke", event, fields))
        except (OSError, ValueError):
            self._died()
        return current

    def _read(self) -> None:
        try:
            while True:
                message = self._connection.recv()
                if message[0] == "calls":
                    self.host.answer(self, message[1])
                elif message[0] == "done" and self._current is not None:
                    current, self._current = self._current, None
                    if not current.done():  # cancelled: the emulator is stopping
                        current.set_result(message[1:])
        except (EOFError, OSError):
            self._died()

    def _died(self) -> None:
        self.alive = False
        exit_code = self.host.zygote.exit_code(self.pid, timeout=5)
        current, self._current = self._current, None
        if current is not None and not current.done():
            current.set_exception(SandboxDied(exit_code))

    def kill(self) -> None:
        self.alive = False
        self.host.zygote.kill(self.pid)
        with contextlib.suppress(Exception):
            self._connection.close()


class _Pool:
    """The sandboxes of one function: idle ones, and a bound on how many exist."""

    def __init__(self, bound: int) -> None:
        self.idle: list[Sandbox] = []
        self.count = 0
        self.bound = bound
        self.lock = threading.Lock()
        self.freed: asyncio.Event | None = None


class SandboxHost(FunctionHost):
    """A FunctionHost whose functions run in sandboxes (see the module docstring)."""

    def __init__(
        self,
        spec: ServiceSpec,
        *,
        region: str,
        console: Console,
        observers: observe.Observers | None = None,
        token_digest: str | None = None,
        max_sandboxes: int = MAX_SANDBOXES,
    ) -> None:
        super().__init__(spec, region=region, console=console, observers=observers)
        self.token_digest = token_digest
        self.max_sandboxes = max_sandboxes
        self._generation = 0
        self._pools: dict[str, _Pool] = {}
        self._clients: dict[tuple[str, str | None], Any] = {}
        self._clients_lock = threading.Lock()
        self._session = boto3.session.Session(region_name=region)
        self._calls = concurrent.futures.ThreadPoolExecutor(
            max_workers=32, thread_name_prefix="sandbox-call"
        )
        self._closed = False
        self._fast_scan = fastscan.make_scan_hook(hooks.moto_lock, lambda: True)
        self._zygote: ForkServer | None = None

    @property
    def zygote(self) -> ForkServer:
        if self._zygote is None:
            self._zygote = ForkServer()
        return self._zygote

    # What a sandbox is given -----------------------------------------------------------------
    def environment_for(self, function: FunctionSpec, sandbox: Sandbox) -> dict[str, str]:
        """Lambda's variables, the function's own, and credentials as Lambda sets them."""
        name = naming.function_name(self.spec, function.name)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": naming.log_group_name(self.spec, function.name),
            "AWS_LAMBDA_LOG_STREAM_NAME": sandbox.log_stream,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{self.spec.runtime}",
            "LAMBDA_TASK_ROOT": str(self.code_dir),
            "_HANDLER": function.handler,
            **_FAKE_CREDENTIALS,
        }
        env.update(naming.function_environment(self.spec, function, self.token_digest))
        return env

    # Loading ---------------------------------------------------------------------------------
    def load(self, changed: Iterable[Path] = ()) -> dict[str, str]:
        """Retire every sandbox and start one warm sandbox per function with the code as it is
        now; returns {function: import error}."""
        for path in changed:
            with contextlib.suppress(OSError, ValueError):
                import importlib.util

                Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)
        self._generation += 1
        self._retire_all()
        errors: dict[str, str] = {}
        starting = [
            Sandbox(self, function, self._generation) for function in self.spec.functions.values()
        ]
        for sandbox in starting:
            pool = self._pool(sandbox.function.name)
            try:
                sandbox.wait_ready()
            except SandboxDied:
                errors[sandbox.function.name] = "the sandbox exited while starting"
                continue
            if sandbox.import_error:
                errors[sandbox.function.name] = sandbox.import_error
            with pool.lock:
                pool.count += 1
                pool.idle.append(sandbox)
        return errors

    def unload(self) -> None:
        self._retire_all()

    def shutdown(self, grace: float = 5.0) -> None:
        self._closed = True
        self._retire_all()
        if self._zygote is not None:
            self._zygote.close()
        self._calls.shutdown(wait=False, cancel_futures=True)
        super().shutdown(grace=0)

    def _pool(self, name: str) -> _Pool:
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = _Pool(self.max_sandboxes)
        return pool

    def _retire_all(self) -> None:
        for pool in self._pools.values():
            with pool.lock:
                idle, pool.idle = pool.idle, []
                pool.count -= len(idle)
            for sandbox in idle:
                sandbox.kill()

    # Invoking --------------------------------------------------------------------------------
    async def _acquire(self, function: FunctionSpec) -> Sandbox:
        pool = self._pool(function.name)
        if pool.freed is None:
            pool.freed = asyncio.Event()
        while True:
            with pool.lock:
                while pool.idle:
                    sandbox = pool.idle.pop()
                    if sandbox.alive and sandbox.generation == self._generation:
                        return sandbox
                    pool.count -= 1
                    sandbox.kill()
                start = pool.count < pool.bound
                if start:
                    pool.count += 1
            if start:
                try:
                    return await asyncio.get_running_loop().run_in_executor(
                        None, self._start, function
                    )
                except BaseException:
                    with pool.lock:
                        pool.count -= 1
                    raise
            pool.freed.clear()
            await pool.freed.wait()

    def _start(self, function: FunctionSpec) -> Sandbox:
        sandbox = Sandbox(self, function, self._generation)
        sandbox.wait_ready()
        return sandbox

    def _release(self, sandbox: Sandbox) -> None:
        pool = self._pool(sandbox.function.name)
        keep = sandbox.alive and sandbox.generation == self._generation and not self._closed
        with pool.lock:
            keep = keep and len(pool.idle) < KEEP_IDLE
            if keep:
                pool.idle.append(sandbox)
            else:
                pool.count -= 1
        if not keep:
            sandbox.kill()
        if pool.freed is not None:
            pool.freed.set()

    async def invoke(
        self,
        function: FunctionSpec,
        event: Any,
        request_id: str = "",
        client_context: Mapping[str, Any] | None = None,
    ) -> Any:
        """Run ``function`` on ``event`` in one of its sandboxes; FunctionFailed if it raised,
        timed out or its sandbox died."""
        if self._closed:
            raise FunctionFailed(
                function.name, {"errorMessage": "The emulator is stopping", "errorType": "Stopped"}
            )
        started, started_at = time.monotonic(), now_ms()
        logs: list[str] = []
        outcome = observe.ERROR
        aws_request_id = str(uuid.uuid4())
        name = naming.function_name(self.spec, function.name)
        try:
            sandbox = await self._acquire(function)
            fields = {
                "function_name": name,
                "memory_limit_in_mb": str(function.memory),
                "invoked_function_arn": _function_arn(self.region, name),
                "aws_request_id": aws_request_id,
                "log_group_name": naming.log_group_name(self.spec, function.name),
                "log_stream_name": sandbox.log_stream,
                "deadline": time.monotonic() + function.timeout,
                "client_context": dict(client_context) if client_context else None,
            }
            try:
                done = asyncio.wrap_future(sandbox.run(event, fields))
                ok, value, lines = await asyncio.wait_for(done, timeout=function.timeout)
            except TimeoutError:
                sandbox.kill()
                outcome = observe.TIMEOUT
                raise self.timed_out(function, aws_request_id, logs) from None
            except asyncio.CancelledError:
                sandbox.kill()  # still running what nobody waits for: never reuse it
                raise
            except SandboxDied as died:
                message = (
                    f"RequestId: {aws_request_id} Error: Runtime exited with error: "
                    f"exit status {died.exitcode}"
                )
                logs.append(message)
                self.console.print(f"[red]{escape(name)}[/] {message}", highlight=False)
                raise FunctionFailed(
                    function.name, {"errorMessage": message, "errorType": "Runtime.ExitError"}
                ) from None
            finally:
                self._release(sandbox)
            logs.extend(lines)
            for line in lines:
                self.console.print(f"[dim]{escape(name)}[/] {escape(line)}", highlight=False)
            if not ok:
                raise FunctionFailed(function.name, value)
            outcome = observe.OK
            return value
        finally:
            if self.observers:
                self.observers.emit(
                    _invocation(function, event, request_id, started, started_at, outcome, logs)
                )

    # The handler's AWS calls -------------------------------------------------------------------
    def answer(self, sandbox: Sandbox, calls: list[tuple]) -> None:
        """A batch of calls from ``sandbox``: each checked against the function's permissions,
        then answered; the answers go back in one message. Lambda's Invoke may wait on another
        function, so it is answered apart; the rest inline."""
        replies = []
        for call_id, kind, *request in calls:
            if kind == "call" and request[0] == "lambda":
                self._calls.submit(self._answer_apart, sandbox, call_id, request)
            else:
                replies.append((call_id, self._reply(sandbox.function, kind, request)))
        if replies:
            with contextlib.suppress(OSError, ValueError):
                sandbox.send(("replies", replies))

    def _answer_apart(self, sandbox: Sandbox, call_id: int, request: list) -> None:
        reply = self._reply(sandbox.function, "call", request)
        with contextlib.suppress(OSError, ValueError):
            sandbox.send(("replies", [(call_id, reply)]))

    def _reply(self, function: FunctionSpec, kind: str, request: list) -> Any:
        """The answer to one call, in the shape its kind's caller expects; never raises, so a
        sandbox is never left waiting."""
        try:
            if kind == "post":
                return self._post(function, *request)
            if kind == "dynamodb":
                return self._dynamodb(function, *request)
            return self._call(function, *request)
        except Exception as exc:
            error = {"Error": {"Code": "InternalFailure", "Message": str(exc)}}
            if kind == "post":
                return 500, error
            if kind == "dynamodb":
                return "parsed", 500, {}, error
            return False, (500, error)

    def _post(
        self, function: FunctionSpec, endpoint: str, connection_id: str, data: bytes
    ) -> tuple[int, dict | None]:
        """PostToConnection: (status, None) when delivered, else (status, AWS's error)."""
        backend = hooks.backend_for(endpoint) if function.manages_connections else None
        if backend is None:  # denied, or an endpoint not ours: the general path says so
            url = f"{endpoint}/%40connections/{quote(connection_id, safe='')}"
            params = {"ConnectionId": connection_id, "Data": data}
            ok, (status, parsed) = self._call(
                function, "apigatewaymanagementapi", "PostToConnection", params, url
            )
            return status, None if ok else parsed
        try:
            backend.post(connection_id, data)
        except ManagementError as exc:
            return exc.status, {"Error": {"Code": exc.code, "Message": exc.message}}
        return 200, None

    def _dynamodb(
        self, function: FunctionSpec, operation: str, body: bytes
    ) -> tuple[str, int, dict[str, str], Any]:
        """A DynamoDB call as botocore serialized it: ("raw", status, headers, body) as
        DynamoDB answers it, or ("parsed", status, {}, result) from the Scan fast lane."""
        try:
            params = json.loads(body)
        except ValueError:
            params = {}
        denied = self._denied(
            function, "dynamodb", operation, params if isinstance(params, dict) else {}
        )
        if denied is not None:
            error = {"__type": f"com.amazon.coral.service#{denied.code}", "message": denied.message}
            return "raw", denied.status, dict(_JSON_HEADERS), json.dumps(error).encode()
        if operation == "Scan":
            fast = self._fast_scan(None, {"body": body, "url": ""}, {"client_region": self.region})
            if fast is not None:
                return "parsed", 200, {}, fast[1]
        return ("raw", *hooks.moto_dynamodb(self.region, operation, body))

    def _denied(
        self,
        function: FunctionSpec,
        service: str,
        operation: str,
        params: dict[str, Any],
        invoked: str | None = None,
    ) -> permissions.Denied | None:
        """AWS's refusal if the function may not make this call, printed with the fix."""
        denied = permissions.check(
            self.spec, function, self.region, service, operation, params, invoked
        )
        if denied is not None:
            self.console.print(
                f"[yellow]Denied:[/] {escape(denied.message)}\n  [bold]{escape(denied.hint)}[/]",
                highlight=False,
            )
        return denied

    def _call(
        self,
        function: FunctionSpec,
        service: str,
        operation: str,
        params: dict[str, Any],
        url: str,
    ) -> tuple[bool, Any]:
        invoked = None
        if service == "lambda":
            ref = parse_ref(str(params.get("FunctionName", "")), params.get("Qualifier"))
            prefix = self.spec.stack + "-"
            if ref is not None and ref.name.startswith(prefix):
                candidate = ref.name[len(prefix) :]
                invoked = candidate if candidate in self.spec.functions else None
        denied = self._denied(function, service, operation, params, invoked)
        if denied is not None:
            error = {"Error": {"Code": denied.code, "Message": denied.message}}
            return False, (denied.status, error)
        client = self._client(service, _endpoint(service, url))
        from botocore import xform_name

        try:
            parsed = getattr(client, xform_name(operation))(**params)
        except ClientError as exc:
            response = dict(exc.response)
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 400)
            response.pop("ResponseMetadata", None)
            return False, (status, response)
        status = parsed.pop("ResponseMetadata", {}).get("HTTPStatusCode", 200)
        payload = parsed.get("Payload")
        if hasattr(payload, "read"):
            parsed["Payload"] = payload.read()
        return True, (status, parsed)

    def _client(self, service: str, endpoint: str | None) -> Any:
        key = (service, endpoint)
        client = self._clients.get(key)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self._session.client(
                        service, endpoint_url=endpoint, config=_CLIENT_CONFIG
                    )
        return client


def _endpoint(service: str, url: str) -> str | None:
    """The endpoint a management client was made with (``https://{domain}/{stage}``)."""
    if service != "apigatewaymanagementapi":
        return None
    for marker in ("/%40connections", "/@connections"):
        if marker in url:
            return url.split(marker, 1)[0]
    return None


def _function_arn(region: str, name: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"

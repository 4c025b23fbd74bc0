"""Functions in sandboxes: each function runs in warm worker processes of its own, as Lambda
runs it in execution environments (DESIGN.md section 7).

- A sandbox is a Python process forked from the zygote (``forkserver``), running
  ``sandbox_worker``: its own environment with Lambda's variables, its own module globals.
  It runs one invocation at a time and stays warm for the next.
- Concurrent invocations of a function get more sandboxes, up to ``max_sandboxes`` each; more
  wait for one to be free. After a burst, only ``KEEP_IDLE`` stay warm (the others end once
  idle for ``RETIRE_AFTER`` seconds).
- A timeout kills the sandbox ("Task timed out after N seconds"); a crash (exit, segfault)
  ends only that sandbox. Either way the next invocation gets a fresh one.
- Hot reload retires every sandbox: new ones import the new code.
- The handler's calls to DynamoDB, the management API and Lambda come over the sandbox's pipe
  in batches and are answered here, after checking the function's declared permissions
  (``permissions``): DynamoDB by the embedded moto, posts by the gateway's connections, the
  rest by this process's own boto3 clients (answered by the emulator's hooks).
- A sandbox that may post is told, with every message it gets after its first post, which
  connections arrived and left (``Sandbox.news``): it answers posts to live ones itself and
  sends them without an id, delivered here unless the connection closed meanwhile.
"""

from __future__ import annotations

import asyncio
import collections
import concurrent.futures
import contextlib
import json
import os
import pickle
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
from wsctl.local.connections import ConnectionsBackend, ManagementError, now_ms
from wsctl.local.forkserver import ForkServer, SharedCounter, ZygoteGone
from wsctl.local.invoke import parse_ref
from wsctl.local.runtime import FunctionFailed, FunctionHost, _invocation

# Per function: concurrent invocations beyond it wait for a sandbox. More sandboxes than cores
# only add contention (measured on 2 cores: 4 and 8 deliver alike, 16 less).
MAX_SANDBOXES = max(4, os.cpu_count() or 1)
# Idle sandboxes a function keeps warm however long they wait; more (after a burst) end once
# idle for RETIRE_AFTER seconds, by when a burst is over. Ending them at once churned: in a
# burst a sandbox often found no invocation waiting just then, ended, and the next invocation
# paid a new one (~20 ms of CPU: its boto3 session and clients, its code's import). Each warm
# one costs ~8-12 MB of its own.
KEEP_IDLE = 2
RETIRE_AFTER = 2.0
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
    """One worker process of one function. Its pipe is read by the event loop, which answers
    the handler's calls there too: a reply never waits for a thread to get the GIL."""

    def __init__(self, host: SandboxHost, function: FunctionSpec, generation: int) -> None:
        self.host = host
        self.function = function
        self.generation = generation
        self.log_stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
        self.pid, self._connection = host.zygote.spawn(
            str(host.code_dir),
            function.handler,
            host.environment_for(function, self),
            host.departures,
        )
        self._send_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._current: asyncio.Future[tuple] | None = None
        self.import_error: str | None = None
        self.alive = True
        self.idle_since = 0.0
        # The connections the sandbox is kept told of, once it posted to them (on the loop):
        # (its endpoint, their backend), and the backend's change number it knows them as of.
        self._watching: tuple[str, ConnectionsBackend] | None = None
        self._seen: int | None = None

    def wait_ready(self) -> None:
        """Block until the handler is imported (any thread)."""
        if not self._connection.poll(START_TIMEOUT):
            self.kill()
            raise SandboxDied(None)
        try:
            message = self._connection.recv()
        except (EOFError, OSError):
            self.alive = False
            raise SandboxDied(self.host.zygote.exit_code(self.pid, timeout=5)) from None
        self.import_error = message[1]

    def send(self, message: tuple) -> None:
        with self._send_lock:
            # pickle's own dumps: Connection.send's ForkingPickler copies its dispatch table
            # for every message (a tenth of what a small message costs).
            self._connection.send_bytes(pickle.dumps(message, pickle.HIGHEST_PROTOCOL))

    def run(self, event: Any, fields: dict[str, Any]) -> asyncio.Future[tuple]:
        """Invoke the handler (on the loop); the future gets ("done", ok, value, log lines)."""
        loop = asyncio.get_running_loop()
        if self._loop is None:  # nothing comes on the pipe before the first invocation
            self._loop = loop
            loop.add_reader(self._connection.fileno(), self._readable)
        current = self._current = loop.create_future()
        try:
            self.send(("invoke", event, fields, self.news()))
        except (OSError, ValueError):
            self._died()
        return current

    def watch(self, endpoint: str, backend: ConnectionsBackend) -> None:
        """From now on, tell the sandbox which connections of ``backend`` are live: it answers
        a post to one of them itself and sends the frame on without waiting (on the loop)."""
        if self._watching is None:
            self._watching = (endpoint, backend)
            backend.count_departures(self.host.departures)

    def news(self) -> tuple | None:
        """What the sandbox lacks of the live connections it watches, sent with every message
        (on the loop), with the count of departures as of now: the sandbox trusts its view
        while that count (in memory it shares) has not moved. Whatever the handler learns
        comes through this pipe after the news before it, so a connection it hears of is
        never newer than its view."""
        if self._watching is None:
            return None
        endpoint, backend = self._watching
        departures = self.host.departures.value
        if hooks.backend_for(endpoint) is not backend:  # that gateway stopped
            self._watching = self._seen = None
            return departures, ("unwatch", endpoint)
        self._seen, change = backend.changes_since(self._seen)
        if change is None:
            return departures, None
        if change[0] == "full":
            return departures, ("full", endpoint, change[1], backend.max_payload)
        return departures, ("delta", endpoint, change[1])

    def _readable(self) -> None:
        try:
            message = self._connection.recv()
        except (EOFError, OSError):
            self._died()
            return
        if message[0] == "calls":
            self.host.answer(self, message[1])
        elif message[0] == "done" and self._current is not None:
            current, self._current = self._current, None
            if not current.done():  # cancelled: timed out, or the emulator is stopping
                current.set_result(message[1:])

    def _died(self) -> None:
        """The process ended (on the loop): the invocation fails with its exit code, once the
        zygote has seen it."""
        self._detach()
        current, self._current = self._current, None
        if current is None or current.done():
            return
        exit_code = asyncio.get_running_loop().run_in_executor(
            None, self.host.zygote.exit_code, self.pid, 5.0
        )

        def fail(code: asyncio.Future[int | None]) -> None:
            if not current.done():
                current.set_exception(SandboxDied(code.result()))

        exit_code.add_done_callback(fail)

    def kill(self) -> None:
        """End the process (any thread)."""
        self.alive = False
        self.host.zygote.kill(self.pid)
        loop = self._loop
        if loop is None or loop.is_closed():
            self._close()
        elif _on_loop(loop):
            self._detach()
        else:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._detach)

    def _detach(self) -> None:
        self.alive = False
        if self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self._connection.fileno())
        self._close()

    def _close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()


def _on_loop(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False


class _Pool:
    """The sandboxes of one function: idle ones, and a bound on how many exist."""

    def __init__(self, bound: int) -> None:
        self.idle: list[Sandbox] = []
        self.count = 0
        self.bound = bound
        self.lock = threading.Lock()
        # Invocations waiting for a sandbox, first come first served: a released sandbox goes
        # straight to the first (None: a slot is free, start one).
        self.waiting: collections.deque[asyncio.Future[Sandbox | None]] = collections.deque()
        self.reaping: asyncio.TimerHandle | None = None


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
        self._zygote_lock = threading.Lock()
        # Connections gone from any gateway a sandbox watches, counted where sandboxes read it.
        self.departures = SharedCounter()

    @property
    def zygote(self) -> ForkServer:
        """The zygote, started on first use, and again if it died (sandboxes it forked before
        keep serving)."""
        with self._zygote_lock:
            if self._zygote is None or not self._zygote.alive:
                if self._zygote is not None:
                    self._zygote.close()
                    self.console.print("[yellow]The sandbox zygote died; starting a new one.[/]")
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
        self.departures.close()
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
        """A warm sandbox of ``function``, a new one while under the bound, else the next one
        released (first come, first served)."""
        pool = self._pool(function.name)
        loop = asyncio.get_running_loop()
        retired, sandbox, waiter = [], None, None
        with pool.lock:
            while pool.idle and sandbox is None:
                candidate = pool.idle.pop()
                if candidate.alive and candidate.generation == self._generation:
                    sandbox = candidate
                else:
                    pool.count -= 1
                    retired.append(candidate)
            if sandbox is None and pool.count < pool.bound:
                pool.count += 1
            elif sandbox is None:
                waiter = loop.create_future()
                pool.waiting.append(waiter)
        for candidate in retired:
            candidate.kill()
        if sandbox is not None:
            return sandbox
        if waiter is not None:
            try:
                handed = await waiter
            except asyncio.CancelledError:
                if waiter.done() and not waiter.cancelled():  # handed over as we were cancelled
                    handed = waiter.result()
                    if handed is None:
                        self._free_slot(pool)
                    else:
                        self._release(handed)
                raise
            if handed is not None:
                return handed  # else a slot was passed to us: start a sandbox in it
        try:
            return await loop.run_in_executor(None, self._start, function)
        except BaseException:
            self._free_slot(pool)
            raise

    def _start(self, function: FunctionSpec) -> Sandbox:
        try:
            sandbox = Sandbox(self, function, self._generation)
        except ZygoteGone:
            raise SandboxDied(None) from None
        sandbox.wait_ready()
        return sandbox

    def _free_slot(self, pool: _Pool) -> None:
        """A sandbox of ``pool`` is gone: its slot passes to the first waiter, which starts
        one in it."""
        with pool.lock:
            waiter = self._next_waiter(pool)
            if waiter is None:
                pool.count -= 1
            else:
                waiter.set_result(None)

    @staticmethod
    def _next_waiter(pool: _Pool) -> asyncio.Future[Sandbox | None] | None:
        while pool.waiting:
            waiter = pool.waiting.popleft()
            if not waiter.done():
                return waiter
        return None

    def _release(self, sandbox: Sandbox) -> None:
        """After an invocation (on the loop): to the next waiting invocation, else kept warm."""
        pool = self._pool(sandbox.function.name)
        usable = sandbox.alive and sandbox.generation == self._generation and not self._closed
        if not usable:
            sandbox.kill()
            self._free_slot(pool)
            return
        with pool.lock:
            waiter = self._next_waiter(pool)
            if waiter is not None:
                waiter.set_result(sandbox)
                return
            sandbox.idle_since = time.monotonic()
            pool.idle.append(sandbox)  # the newest last: taken first, the oldest age out
            if len(pool.idle) > KEEP_IDLE and pool.reaping is None:
                loop = asyncio.get_running_loop()
                pool.reaping = loop.call_later(RETIRE_AFTER, self._retire_idle, pool)

    def _retire_idle(self, pool: _Pool) -> None:
        """End the sandboxes idle for ``RETIRE_AFTER`` seconds beyond the ``KEEP_IDLE``
        newest; look again when the next would be due."""
        now = time.monotonic()
        with pool.lock:
            pool.reaping = None
            spare = pool.idle[: max(0, len(pool.idle) - KEEP_IDLE)]
            retired = [one for one in spare if now - one.idle_since >= RETIRE_AFTER]
            pool.idle = [one for one in pool.idle if one not in retired]
            pool.count -= len(retired)
            if len(pool.idle) > KEEP_IDLE:
                due = pool.idle[0].idle_since + RETIRE_AFTER - now
                pool.reaping = asyncio.get_running_loop().call_later(
                    max(due, 0.1), self._retire_idle, pool
                )
        for sandbox in retired:
            sandbox.kill()

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
            try:
                sandbox = await self._acquire(function)
            except SandboxDied as died:  # it exited while importing the handler's module
                raise self._exited(function, aws_request_id, died.exitcode, logs) from None
            fields = self.context_fields(function, aws_request_id, sandbox.log_stream)
            fields["client_context"] = dict(client_context) if client_context else None
            try:
                ok, value, lines = await asyncio.wait_for(
                    sandbox.run(event, fields), timeout=function.timeout
                )
            except TimeoutError:
                sandbox.kill()
                outcome = observe.TIMEOUT
                raise self.timed_out(function, aws_request_id, logs) from None
            except asyncio.CancelledError:
                sandbox.kill()  # still running what nobody waits for: never reuse it
                raise
            except SandboxDied as died:
                raise self._exited(function, aws_request_id, died.exitcode, logs) from None
            finally:
                self._release(sandbox)
            logs.extend(lines)
            self._print_log(name, lines)
            if not ok:
                raise FunctionFailed(function.name, value)
            outcome = observe.OK
            return value
        finally:
            if self.observers:
                self.observers.emit(
                    _invocation(function, event, request_id, started, started_at, outcome, logs)
                )

    def _exited(
        self, function: FunctionSpec, request_id: str, exitcode: int | None, logs: list[str]
    ) -> FunctionFailed:
        """Lambda's words for a runtime that exited."""
        status = "unknown" if exitcode is None else exitcode
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {status}"
        return self.did_not_finish(function, message, "Runtime.ExitError", logs)

    def _print_log(self, name: str, lines: list[str]) -> None:
        """An invocation's log lines, each after the function's name (dimmed on a terminal).

        Written straight to the console's file, not through rich's print (~80 µs a line): a
        connection logs a line at $connect and another at $disconnect, and printing them was a
        tenth of what a connection costs the emulator. Handlers' text is printed as written.
        """
        if not lines:
            return
        console = self.console
        if console.record:  # a recording console (tests, exports) keeps what rich printed
            for line in lines:
                console.print(f"[dim]{escape(name)}[/] {escape(line)}", highlight=False)
            return
        prefix = (
            f"\x1b[2m{name}\x1b[0m " if console.is_terminal and not console.no_color else name + " "
        )
        text = "".join(prefix + line + "\n" for line in lines)
        console.file.write(text)  # one write: whole lines, as rich's own prints are
        console.file.flush()

    # The handler's AWS calls -------------------------------------------------------------------
    def answer(self, sandbox: Sandbox, calls: list[tuple]) -> None:
        """A batch of calls from ``sandbox``: each checked against the function's permissions,
        then answered; the answers go back in one message, with the news of connections.
        Lambda's Invoke may wait on another function, so it is answered apart; the rest
        inline. A call without an id is a post the sandbox answered itself."""
        replies = []
        function = sandbox.function
        accepting: tuple[str, ConnectionsBackend | None] = ("", None)
        for call_id, kind, *request in calls:
            if call_id is None:
                endpoint, connection_id, data = request
                if accepting[0] != endpoint:
                    accepting = (endpoint, _backend(function, endpoint))
                if accepting[1] is not None:
                    accepting[1].post_accepted(connection_id, data)
            elif kind == "call" and request[0] == "lambda":
                self._calls.submit(self._answer_apart, sandbox, call_id, request)
            else:
                replies.append((call_id, self._reply(function, kind, request)))
                if kind == "post" and (backend := _backend(function, request[0])) is not None:
                    sandbox.watch(request[0], backend)
        with contextlib.suppress(OSError, ValueError):  # also lets the next batch leave
            sandbox.send(("replies", replies, True, sandbox.news()))

    def _answer_apart(self, sandbox: Sandbox, call_id: int, request: list) -> None:
        reply = self._reply(sandbox.function, "call", request)
        with contextlib.suppress(OSError, ValueError):  # off the loop: no news
            sandbox.send(("replies", [(call_id, reply)], False, None))

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
        backend = _backend(function, endpoint)
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


def _backend(function: FunctionSpec, endpoint: str) -> ConnectionsBackend | None:
    """The gateway behind ``endpoint`` if it is ours and ``function`` may post to it."""
    return hooks.backend_for(endpoint) if function.manages_connections else None


def _endpoint(service: str, url: str) -> str | None:
    """The endpoint a management client was made with (``https://{domain}/{stage}``)."""
    if service != "apigatewaymanagementapi":
        return None
    for marker in ("/%40connections", "/@connections"):
        if marker in url:
            return url.split(marker, 1)[0]
    return None

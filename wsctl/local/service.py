"""``LocalService``: the whole emulator (embedded DynamoDB and gateway) in a background thread.

It is what ``wsctl up --local`` runs in the foreground, what ``wsctl demo`` starts, and what
tests use::

    with LocalService(spec, quotas=Quotas(idle_timeout=1)) as service:
        async with connect(service.url) as ws: ...
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
import time
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.markup import escape

from wsctl import console as consoles
from wsctl import naming, sigv4, state
from wsctl.auth import token_digest
from wsctl.config import ServiceSpec, parse_spec_file
from wsctl.errors import WsctlError
from wsctl.local import dynamodb
from wsctl.local.gateway import Gateway
from wsctl.local.observe import Observers
from wsctl.local.quotas import Quotas
from wsctl.local.reconfigure import config_snapshot, conflicting_variables, reread
from wsctl.local.runtime import FunctionHost, code_snapshot, environment

DEFAULT_REGION = "us-east-1"
RELOAD_POLL = 0.5
# Credentials for the embedded AWS only: moto accepts anything, and no call leaves the process.
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


class LocalService:
    """The emulator of one service, started by ``start()`` or ``with``, stopped by ``stop()``."""

    def __init__(
        self,
        spec: ServiceSpec,
        *,
        port: int = 0,
        quotas: Quotas | None = None,
        auth_token: str | None = None,
        reload: bool = False,
        host: str = "127.0.0.1",
        console: Console | None = None,
        allow_origins: tuple[str, ...] = (),
        sandboxes: bool = False,
    ) -> None:
        self.spec = spec
        # Each function in warm worker processes of its own (wsctl.local.sandbox), or all in
        # this process's threads.
        self.sandboxes = sandboxes
        self.quotas = quotas or Quotas()
        self.region = spec.region or DEFAULT_REGION
        self.console = console or consoles.err
        self._requested_port = port
        self._host = host
        self._auth_token = auth_token
        self._reload = reload
        self._allow_origins = allow_origins
        self._saved_env: dict[str, str | None] = {}
        self._mock: Any = None
        self._functions: FunctionHost | None = None
        self._gateway: Gateway | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        self._watcher: asyncio.Task[None] | None = None
        self._iam_credentials: Any = None

    # Where it serves -----------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._gateway.port if self._gateway else 0

    @property
    def url(self) -> str:
        return f"ws://{self._host}:{self.port}/{self.spec.stage}"

    @property
    def console_url(self) -> str:
        return f"http://{self._host}:{self.port}/"

    @property
    def management_url(self) -> str:
        return f"http://{self._host}:{self.port}/{self.spec.stage}/@connections"

    @property
    def table_name(self) -> str:
        return naming.table_name(self.spec)

    def local_record(self) -> state.LocalRecord:
        """This emulator, served by this process, as wsctl commands in other terminals find it."""
        return state.LocalRecord(
            stack=self.spec.stack,
            pid=os.getpid(),
            port=self.port,
            stage=self.spec.stage,
            url=self.url,
            management_url=self.management_url,
            started_at=time.time(),
            auth=self.spec.auth,
            region=self.region,
            process_start=state.process_start(os.getpid()),
        )

    @property
    def observers(self) -> Observers:
        """Where connections and invocations are reported as they happen (the console's feed)."""
        assert self._functions is not None, "start the service first"
        return self._functions.observers

    def connection_count(self) -> int:
        return len(self._gateway.backend) if self._gateway else 0

    def close_connections(self) -> int:
        """Close every connection (1001) and wait for all $disconnect runs; returns how many."""
        if self._loop is None or self._gateway is None or self._stopped.is_set():
            return 0
        future = asyncio.run_coroutine_threadsafe(self._gateway.close_all(), self._loop)
        return future.result(timeout=60)

    def record_count(self) -> int:
        """Records in the embedded table now."""
        return dynamodb.count_items(self.spec, self.region)

    # Lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> LocalService:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> LocalService:
        digest = token_digest(self._auth_token) if self._auth_token else None
        # Captured before the emulator's fake credentials are set: handshakes of an
        # auth = "iam" service are signed with the caller's own (see wsctl.sigv4).
        self._iam_credentials = sigv4.session_credentials() if self.spec.auth == "iam" else None
        self._set_env({**_FAKE_CREDENTIALS, **environment(self.spec, self.region, digest)})
        try:
            self._mock = dynamodb.start_embedded_aws()
            dynamodb.create_tables(self.spec, self.region)
            self._warn_shared_environment(self.spec)
            if self.sandboxes:
                from wsctl.local.sandbox import SandboxHost

                self._functions = SandboxHost(
                    self.spec, region=self.region, console=self.console, token_digest=digest
                )
            else:
                self._functions = FunctionHost(self.spec, region=self.region, console=self.console)
            for function, error in self._functions.load().items():
                self.console.print(
                    f"[yellow]Function {escape(function)} cannot be imported:[/] {escape(error)}"
                )
            self._start_loop()
        except BaseException:
            self._teardown()
            raise
        return self

    def _start_loop(self) -> None:
        ready = threading.Event()
        failure: list[BaseException] = []
        self._loop = asyncio.new_event_loop()

        async def boot() -> None:
            assert self._functions is not None
            self._gateway = Gateway(
                self.spec,
                self._functions,
                host=self._host,
                port=self._requested_port,
                quotas=self.quotas,
                iam_credentials=self._iam_credentials,
                region=self.region,
                allow_origins=self._allow_origins,
                auth_token=self._auth_token,
            )
            await self._gateway.start()
            if self._reload:
                self._watcher = asyncio.create_task(self._watch_code())

        def run() -> None:
            assert self._loop is not None
            asyncio.set_event_loop(self._loop)
            try:
                self._loop.run_until_complete(boot())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                return
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=run, name="wsctl-local", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._gateway = None
            error = failure[0]
            if isinstance(error, OSError):
                raise WsctlError(
                    f"Cannot listen on {self._host}:{self._requested_port}: {error.strerror}. "
                    "Pick another port with --port (0 picks a free one)."
                ) from None
            raise error

    def stop(self) -> int:
        """Close every connection (1001), run their $disconnect, stop; returns how many."""
        if self._stopped.is_set():
            return 0
        self._stopped.set()
        closed = 0
        if self._loop is not None and self._gateway is not None:
            future = asyncio.run_coroutine_threadsafe(self._gateway.stop(), self._loop)
            with contextlib.suppress(Exception):
                closed = future.result(timeout=30)
        self._teardown()
        return closed

    def _teardown(self) -> None:
        loop = self._loop
        if loop is not None:
            if loop.is_running():
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(_cancel_tasks(), loop).result(timeout=5)
                loop.call_soon_threadsafe(loop.stop)
            if self._thread is not None:
                self._thread.join(timeout=10)
            if not loop.is_running():
                loop.close()
        if self._functions is not None:
            self._functions.shutdown()
            self._functions.unload()
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._restore_env()

    def _set_env(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_env(self) -> None:
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()

    # Hot reload ----------------------------------------------------------------------------
    async def _watch_code(self) -> None:
        assert self._functions is not None
        functions = self._functions
        before = code_snapshot(functions.code_dir)
        as_started = self.spec
        config_before = config_snapshot(self.spec)
        if self.spec.source is not None:
            with contextlib.suppress(WsctlError):  # the file as read, before any --flag
                as_started = parse_spec_file(self.spec.source)
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(RELOAD_POLL)
            config_now = await loop.run_in_executor(None, config_snapshot, self.spec)
            if config_now != config_before:
                config_before = config_now
                await self._reconfigure(as_started)
            now = await loop.run_in_executor(None, code_snapshot, functions.code_dir)
            changed = sorted(
                path for path in now.keys() | before.keys() if now.get(path) != before.get(path)
            )
            before = now
            if not changed:
                continue
            errors = await loop.run_in_executor(None, functions.load, changed)
            self._report_reload(changed, errors)

    async def _reconfigure(self, as_started: ServiceSpec) -> None:
        """Apply an edited wsctl.toml without dropping connections; keep the running one if
        the edit is invalid, saying why in one line."""
        assert self._functions is not None and self._gateway is not None
        loop = asyncio.get_running_loop()
        edit = await loop.run_in_executor(None, reread, self.spec, as_started)
        if edit.spec is None:
            self.console.print(
                f"[red]wsctl.toml not applied[/] (still running the previous configuration): "
                f"{escape(edit.error or '')}",
                highlight=False,
            )
            return
        if not edit.changes:
            return
        old, new = self.spec, edit.spec
        digest = token_digest(self._auth_token) if self._auth_token else None
        old_env = environment(old, self.region, digest)
        new_env = environment(new, self.region, digest)
        for key in old_env.keys() - new_env.keys():
            self._saved_env.setdefault(key, os.environ.get(key))
            os.environ.pop(key, None)
        self._set_env(new_env)
        self._functions.spec = new
        errors = await loop.run_in_executor(None, self._functions.load)
        # From here on, new handshakes and messages use the new configuration; invocations
        # already running finish with the one they started with.
        self.spec = new
        self._gateway.spec = new
        self._gateway.authorizer.spec = new
        self.console.print(
            f"[green]Applied wsctl.toml[/]: {escape('; '.join(edit.changes))}", highlight=False
        )
        self._warn_shared_environment(new)
        for function, error in errors.items():
            self.console.print(
                f"[red]Function {escape(function)} cannot be imported[/] (its invocations fail "
                f"until fixed): {escape(error)}",
                highlight=False,
            )

    def _warn_shared_environment(self, spec: ServiceSpec) -> None:
        conflicts = [] if self.sandboxes else conflicting_variables(spec)
        if conflicts:
            self.console.print(
                f"[yellow]Note:[/] functions set {escape(', '.join(conflicts))} to different "
                "values; the emulator runs them in one process, so here they all see one value "
                "(each sees its own when deployed).",
                highlight=False,
            )

    def _report_reload(self, changed: list[Any], errors: dict[str, str]) -> None:
        assert self._functions is not None
        names = ", ".join(str(path.relative_to(self._functions.code_dir)) for path in changed)
        ok = [name for name in self.spec.functions if name not in errors]
        self.console.print(
            f"[green]Reloaded[/] {escape(names)}: "
            f"{escape(', '.join(ok)) if ok else 'no function'} now run the new code",
            highlight=False,
        )
        for function, error in errors.items():
            self.console.print(
                f"[red]Function {escape(function)} cannot be imported[/] (its invocations fail "
                f"until fixed): {escape(error)}",
                highlight=False,
            )


async def _cancel_tasks() -> None:
    """Cancel what still runs on the loop (sweeper, reload watcher) and let it finish."""
    current = asyncio.current_task()
    tasks = [task for task in asyncio.all_tasks() if task is not current]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)

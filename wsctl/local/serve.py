"""``wsctl up --local`` in the foreground, and ``wsctl down --local`` from another terminal."""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import sys
import threading
import time

from rich.markup import escape

from wsctl import console, state
from wsctl.config import ServiceSpec
from wsctl.local.quotas import Quotas
from wsctl.local.service import LocalService

STOP_WAIT = 30.0


def run_foreground(
    spec: ServiceSpec,
    *,
    port: int,
    auth_token: str | None,
    reload: bool = True,
    quotas: Quotas | None = None,
    allow_origins: tuple[str, ...] = (),
    as_json: bool = False,
) -> int:
    """Serve ``spec`` on 127.0.0.1 until Ctrl-C or SIGTERM; then $disconnect everyone, exit 0."""
    _show_function_logs()
    service = LocalService(
        spec,
        port=port,
        auth_token=auth_token,
        reload=reload,
        quotas=quotas,
        allow_origins=allow_origins,
        # Users' functions run as on Lambda: each in sandboxes of its own, permissions enforced.
        sandboxes=True,
    )
    service.start()
    settle_heap()
    record = service.local_record()
    stop_requested = threading.Event()
    previous = _on_sigterm(lambda *_: stop_requested.set())
    try:
        if as_json:  # one object for scripts, once it serves; logs stay on stderr
            console.out.out(json.dumps(record.facts()), highlight=False)
        else:
            _announce(service, spec, auth_token, reload)
        # The record tells other processes the stack is ready: everything it said comes first.
        sys.stdout.flush()
        state.save_local(record)
        while not stop_requested.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        console.err.print(
            f"Stopping: closing {service.connection_count()} connection(s) and running "
            "their $disconnect..."
        )
        service.stop()
        state.clear_local(spec.stack, pid=os.getpid())
        _restore_sigterm(previous)
    console.err.print("[green]Stopped.[/]")
    return 0


def settle_heap() -> None:
    """Keep the garbage collector off what lives as long as this emulator process.

    Once started, the process holds ~130,000 objects for good (moto, botocore's service
    models, the service's modules). Each full collection walked all of them (~40 ms, a pause
    for every connection), and under load collections took a fifth of the CPU. Frozen, they
    are never walked again; a larger young generation makes collections rarer still. Only a
    process dedicated to the emulator does this: the settings are process-wide. The price: the
    first hot reload leaves the modules it replaces in memory, once; later generations of
    the code are collected as usual.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 100)


def stop(spec: ServiceSpec) -> bool:
    """Stop the local service of ``spec``'s stack running in another process; False if none."""
    record = state.load_local(spec.stack)
    if record is None:
        return False
    try:
        os.kill(record.pid, signal.SIGTERM)
    except ProcessLookupError:
        state.clear_local(spec.stack, pid=record.pid)
        return True
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        try:
            os.kill(record.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    state.clear_local(spec.stack, pid=record.pid)
    return True


def _announce(service: LocalService, spec: ServiceSpec, token: str | None, reload: bool) -> None:
    out = console.out
    out.print(f"[bold green]{escape(spec.stack)}[/] is running on this machine.")
    out.print(f"  WebSocket   [bold]{service.url}[/]")
    out.print(f"  Management  [bold]{service.management_url}[/]/{{connectionId}}")
    out.print(f"  Console     [bold]{service.console_url}[/] (open it in a browser)")
    out.print(f"  Code        {escape(str(spec.code_dir))}", highlight=False)
    if token:
        out.print("  Auth        a token is required (wsctl's client commands send it for you)")
    if spec.auth == "iam":
        out.print(
            "  Auth        AWS_IAM: handshakes must be signed (SigV4) with this machine's AWS "
            "credentials. Checked here: the signature, its scope and time. Not checked: IAM "
            "policies, which only AWS evaluates."
        )
    if spec.auth == "custom" and spec.authorizer is not None:
        sources = ", ".join(spec.authorizer.identity_sources) or "no identity sources"
        out.print(
            f"  Auth        authorizer {escape(spec.authorizer.function)} on $connect "
            f"({escape(sources)})",
            highlight=False,
        )
    if spec.auth == "none":
        out.print(
            "  Auth        none: any program on this machine can connect (browsers only from "
            "the allowed origins); --auth token or iam requires credentials"
        )
    out.print(
        "  Functions   each in sandboxes of its own (worker processes); wsctl.toml "
        "permissions enforced"
    )
    if reload:
        out.print(
            "  Reload      handlers reload when their files change; edits of wsctl.toml apply "
            "to open connections"
        )
    out.print("Connect with [bold]wsctl connect[/] in another terminal. Ctrl-C stops.")


def _show_function_logs() -> None:
    """Print what handlers log (INFO and up), as CloudWatch would keep it; quiet libraries.

    This process is dedicated to the emulator, so configuring the root logger is ours to do.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    for noisy in ("websockets", "botocore", "boto3", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _on_sigterm(handler) -> object:
    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous: object) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]

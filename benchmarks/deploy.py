"""How much `wsctl up` and `down` cost: AWS calls (mutating and read-only) and wall time for a
fresh `up`, a no-op `up`, a code-change `up` and `down`, against a moto server on 127.0.0.1.

Run: .venv/bin/python benchmarks/deploy.py [--repeat N]
Times are also shown as ratios to the fresh `up` measured in the same run, so they compare
across machines; call counts are exact.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import botocore.handlers
from moto.server import ThreadedMotoServer

from wsctl.aws.awsclient import is_mutating
from wsctl.cli import run
from wsctl.config import CODE_DIR, CONFIG_FILE, bundled_service_dir


class CallCounter:
    """A botocore before-call hook counting operations by kind."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, model, **kwargs) -> None:
        kind = "mutating" if is_mutating(model.name) else "read-only"
        self.counts[kind] += 1


def wsctl(*args: str) -> None:
    """Run wsctl in this process (its progress output is discarded)."""
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = run(list(args))
    if code != 0:
        raise SystemExit(f"wsctl {' '.join(args)} exited {code}:\n{sink.getvalue()}")


def measure(counter: CallCounter, *args: str) -> tuple[int, int, float]:
    counter.counts.clear()
    started = time.perf_counter()
    wsctl(*args)
    elapsed = time.perf_counter() - started
    return counter.counts["mutating"], counter.counts["read-only"], elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (median)")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wsctl-bench-"))
    service = workdir / "service"
    bundled = bundled_service_dir()
    shutil.copytree(
        bundled / CODE_DIR, service / CODE_DIR, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(bundled / CONFIG_FILE, service / CONFIG_FILE)
    handler = service / CODE_DIR / "handler.py"

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        WSCTL_HOME=str(workdir / "home"),
        NO_COLOR="1",
    )
    os.environ.pop("AWS_PROFILE", None)
    counter = CallCounter()
    botocore.handlers.BUILTIN_HANDLERS.append(("before-call", counter))
    config = ("--config", str(service / CONFIG_FILE))

    phases: dict[str, list[tuple[int, int, float]]] = {
        "fresh up": [],
        "no-op up": [],
        "code-change up": [],
        "down": [],
    }
    try:
        for run_index in range(options.repeat):
            phases["fresh up"].append(measure(counter, "up", *config))
            phases["no-op up"].append(measure(counter, "up", *config))
            handler.write_text(handler.read_text() + f"\n# benchmark edit {run_index}\n")
            phases["code-change up"].append(measure(counter, "up", *config))
            phases["down"].append(measure(counter, "down", "--yes", *config))
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    baseline = statistics.median(t for _, _, t in phases["fresh up"])
    print(f"wsctl deploy benchmark: bundled service, moto server, median of {options.repeat}")
    print(f"{'phase':<16}{'mutating':>10}{'read-only':>11}{'wall (s)':>10}{'vs fresh up':>13}")
    for phase, runs in phases.items():
        mutating = statistics.median(m for m, _, _ in runs)
        reads = statistics.median(r for _, r, _ in runs)
        wall = statistics.median(t for _, _, t in runs)
        print(f"{phase:<16}{mutating:>10.0f}{reads:>11.0f}{wall:>10.2f}{wall / baseline:>12.2f}x")


if __name__ == "__main__":
    sys.exit(main())

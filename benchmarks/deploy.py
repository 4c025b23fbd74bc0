"""How fast `wsctl up` and `down` are under AWS's latencies: the plan as a graph (independent
steps at once) against one step at a time, side by side in one run, on moto with the latency
model of wsctl/aws/latency.py (100 ms a call, a table CREATING 5 s, a function Pending 2 s,
InProgress 1 s after an update, a new role refused 6 s).

Run: .venv/bin/python benchmarks/deploy.py [--repeat 3] [--scale 1.0]
Times are model seconds (medians of --repeat); --scale below 1 runs the model faster than real
time (quicker, but this machine's own per-call cost then weighs more). Call counts are exact.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import botocore.handlers
from moto import mock_aws

from wsctl.aws import clock, deploy
from wsctl.aws.awsclient import AwsClient, is_mutating
from wsctl.aws.executor import DEFAULT_CONCURRENCY
from wsctl.aws.latency import LatencyModel, ScaledClock
from wsctl.aws.session import open_target
from wsctl.config import CODE_DIR, CONFIG_FILE, bundled_service_dir, parse_spec_file

MODES = {"one at a time": 1, "graph": DEFAULT_CONCURRENCY}
PHASES = ("fresh up", "no-op up", "code change up", "one function's memory", "down")


class Calls:
    """A botocore before-call hook recording mutating operations."""

    def __init__(self) -> None:
        self.mutating: Counter[str] = Counter()

    def __call__(self, model, **kwargs) -> None:
        if is_mutating(model.name):
            self.mutating[model.name] += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each phase (median)")
    parser.add_argument("--scale", type=float, default=1.0, help="real seconds per model second")
    options = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="wsctl-bench-"))
    service = workdir / "service"
    bundled = bundled_service_dir()
    shutil.copytree(
        bundled / CODE_DIR, service / CODE_DIR, ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(bundled / CONFIG_FILE, service / CONFIG_FILE)
    config, handler = service / CONFIG_FILE, service / CODE_DIR / "handler.py"
    original = config.read_text()
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        WSCTL_HOME=str(workdir / "home"),
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)

    scaled = ScaledClock(options.scale)
    calls = Calls()
    times: dict[tuple[str, str], list[float]] = {}
    mutations: dict[tuple[str, str], Counter[str]] = {}
    try:
        with mock_aws(), LatencyModel(scaled).installed(), clock.use(scaled):
            botocore.handlers.BUILTIN_HANDLERS.append(("before-call", calls))
            for run in range(options.repeat):
                for mode, concurrency in MODES.items():
                    config.write_text(original)

                    def measure(phase: str, step: Callable[[], object], mode=mode) -> None:
                        calls.mutating.clear()
                        started = scaled.now()
                        step()
                        times.setdefault((mode, phase), []).append(scaled.now() - started)
                        mutations[mode, phase] = Counter(calls.mutating)

                    def up(concurrency=concurrency) -> None:
                        client = AwsClient(
                            open_target(profile=None, region=None, endpoint_url=None)
                        )
                        deploy.up(client, parse_spec_file(config), concurrency=concurrency)

                    def down(concurrency=concurrency) -> None:
                        client = AwsClient(
                            open_target(profile=None, region=None, endpoint_url=None)
                        )
                        deploy.down(client, parse_spec_file(config), concurrency=concurrency)

                    measure("fresh up", up)
                    measure("no-op up", up)
                    handler.write_text(handler.read_text() + f"\n# edit {run} {mode}\n")
                    measure("code change up", up)
                    config.write_text(original.replace("memory = 512", "memory = 1024", 1))
                    measure("one function's memory", up)
                    measure("down", down)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report(times, mutations, options)


def report(times, mutations, options) -> None:
    median = {key: statistics.median(values) for key, values in times.items()}
    seq, graph = "one at a time", "graph"
    functions = 4

    def met(ok: bool) -> str:
        return "yes" if ok else "NO"

    code_calls = mutations[graph, "code change up"]
    memory_calls = mutations[graph, "one function's memory"]
    checks = {
        "fresh up": (
            "graph <= 40% of one at a time",
            median[graph, "fresh up"] <= 0.4 * median[seq, "fresh up"],
        ),
        "no-op up": (
            "0 mutating calls, <= 3 s",
            not mutations[graph, "no-op up"] and median[graph, "no-op up"] <= 3,
        ),
        "code change up": (
            "only the functions' code, <= 6 s",
            code_calls == Counter({"UpdateFunctionCode": functions})
            and median[graph, "code change up"] <= 6,
        ),
        "one function's memory": (
            "only that function, <= 6 s",
            memory_calls == Counter({"UpdateFunctionConfiguration": 1})
            and median[graph, "one function's memory"] <= 6,
        ),
        "down": (
            "graph <= 40% of one at a time",
            median[graph, "down"] <= 0.4 * median[seq, "down"],
        ),
    }
    print(
        f"wsctl deploy benchmark: bundled service ({functions} functions), moto + latency model "
        f"(wsctl/aws/latency.py, scale {options.scale}), model seconds, median of {options.repeat}"
    )
    header = f"{'phase':<24}{'1 at a time':>12}{'graph':>8}{'ratio':>7}{'mutating':>10}  target"
    print(header)
    for phase in PHASES:
        one, both = median[seq, phase], median[graph, phase]
        mutating = sum(mutations[graph, phase].values())
        target, ok = checks[phase]
        print(
            f"{phase:<24}{one:>11.1f}s{both:>7.1f}s{both / one:>7.2f}{mutating:>10}  "
            f"{target}: {met(ok)}"
        )


if __name__ == "__main__":
    sys.exit(main())

"""Packaging with dependencies: a cold build next to the unchanged rebuild `up` does every time.

    .venv/bin/python benchmarks/packaging.py [--megabytes 5,20,60] [--repeat 3]

For each size, a service with that many megabytes of installed dependencies (generated Python
files, as compressible as real ones) is packaged three ways: cold (the dependencies zipped,
the baseline), warm (nothing changed: the package cache answers) and after a one-line code
edit (code and dependencies zipped again). pip is not run: the dependency install is cached
by its own key and measured by the tests, not here. No network.

Target: a warm build at least 10x faster than the cold one at every size, same bytes.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from wsctl.config import parse_spec_file
from wsctl.dependencies import InstalledDependencies
from wsctl.packaging import build_package

CONFIG = """\
[stack]
name = "bench"

[functions.default]
handler = "handler.default"

[routes]
"$default" = "default"
"""
TARGET_RATIO = 10.0
WORDS = ("def", "class", "return", "import", "self", "value", "items", "data", "for", "in")


class PrebuiltDependencies:
    """An installer whose dependencies are already in the cache (as after the first `up`)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def install(self, spec) -> InstalledDependencies:
        return InstalledDependencies(self.directory, cached=True)


def write_dependencies(root: Path, megabytes: int, seed: int = 7) -> None:
    """About ``megabytes`` of Python source in 64 KB files, spread over packages."""
    rng = random.Random(seed)
    target = megabytes * 1024 * 1024
    written = 0
    index = 0
    while written < target:
        package = root / f"pkg{index // 50}"
        package.mkdir(parents=True, exist_ok=True)
        lines = (
            " ".join(rng.choice(WORDS) for _ in range(12)) + f"  # {rng.random()}\n"
            for _ in range(800)
        )
        text = "".join(lines)
        (package / f"mod{index}.py").write_text(text)
        written += len(text)
        index += 1


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def measure(megabytes: int, repeat: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="wsctl-bench-") as scratch:
        root = Path(scratch)
        os.environ["WSCTL_HOME"] = str(root / "home")
        service = root / "svc"
        (service / "lambda_code").mkdir(parents=True)
        handler = service / "lambda_code" / "handler.py"
        handler.write_text("def default(event, context):\n    return 1\n")
        (service / "wsctl.toml").write_text(CONFIG)
        deps = root / "deps"
        write_dependencies(deps, megabytes)
        spec = parse_spec_file(service / "wsctl.toml")
        installer = PrebuiltDependencies(deps)
        packages = root / "home" / "cache" / "packages"

        cold, warm, edited = [], [], []
        for n in range(repeat):
            shutil.rmtree(packages, ignore_errors=True)
            seconds, first = timed(lambda: build_package(spec, installer=installer))
            cold.append(seconds)
            seconds, again = timed(lambda: build_package(spec, installer=installer))
            warm.append(seconds)
            assert again.from_cache and again.data == first.data, "warm build differs"
            handler.write_text(f"def default(event, context):\n    return {n + 2}\n")
            seconds, _ = timed(lambda: build_package(spec, installer=installer))
            edited.append(seconds)
            handler.write_text("def default(event, context):\n    return 1\n")
        return {
            "zipped_mb": first.size / 1024 / 1024,
            "cold": statistics.median(cold),
            "warm": statistics.median(warm),
            "edited": statistics.median(edited),
        }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", default="5,20,60")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(s) for s in args.megabytes.split(",")]

    print(
        f"{'deps MB':>8} {'zip MB':>7} {'cold s':>8} {'warm s':>8} {'edit s':>8} {'cold/warm':>10}"
    )
    ok = True
    for megabytes in sizes:
        row = measure(megabytes, args.repeat)
        ratio = row["cold"] / row["warm"] if row["warm"] else float("inf")
        ok = ok and ratio >= TARGET_RATIO
        print(
            f"{megabytes:>8} {row['zipped_mb']:>7.1f} {row['cold']:>8.3f} {row['warm']:>8.3f} "
            f"{row['edited']:>8.3f} {ratio:>9.1f}x"
        )
    print(
        f"target: warm at least {TARGET_RATIO:.0f}x faster than cold: {'met' if ok else 'MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Installing wsctl's runtime dependencies in a fresh venv: the old set next to the current one.

    .venv/bin/python benchmarks/install.py [--rounds 2]

"before" is the runtime dependency list wsctl had until issue 13 (``moto[server]``, which
pulls Flask, docker, cfn-lint, openapi-spec-validator and more, although `up --local` runs
moto in-process); "after" is pyproject.toml's ``[project] dependencies`` now. Each round
creates a fresh venv and runs ``pip install`` of that list, the two alternating; pip's cache
is the machine's, the same for both. The table shows median seconds, the packages installed
and the ratio after/before. wsctl itself is left out: it is the same in both.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = [
    "typer>=0.29,<1",
    "rich>=13.7",
    "boto3>=1.34,<2",
    "websockets>=15,<18",
    "moto[server]>=5.0.20,<6",
    "h11>=0.14,<1",
    "prompt_toolkit>=3.0.40,<4",
]
INSTALL_LIMIT = 900.0


def current() -> list[str]:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["project"]["dependencies"])


def install(requirements: list[str]) -> tuple[float, int]:
    """Seconds to install ``requirements`` into a fresh venv, and how many packages it got."""
    with tempfile.TemporaryDirectory() as directory:
        venv = Path(directory) / "venv"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(venv / "bin" / "python"), "-m", "pip"]
        started = time.perf_counter()
        subprocess.run(
            [*pip, "install", "-q", *requirements],
            check=True,
            timeout=INSTALL_LIMIT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - started
        listed = subprocess.run(
            [*pip, "list", "--format=freeze"], capture_output=True, text=True, check=True
        )
        count = len([line for line in listed.stdout.splitlines() if line.strip()])
    return elapsed, count


def main(rounds: int) -> None:
    sets = {"before (moto[server])": BEFORE, "after (pyproject.toml)": current()}
    times: dict[str, list[float]] = {name: [] for name in sets}
    packages: dict[str, int] = {}
    for round_number in range(rounds):
        order = list(sets) if round_number % 2 == 0 else list(reversed(sets))
        for name in order:
            elapsed, packages[name] = install(sets[name])
            times[name].append(elapsed)
    before = statistics.median(times["before (moto[server])"])
    print(f"pip install of the runtime dependencies into a fresh venv ({rounds} runs each)")
    print(f"{'set':<24} {'median s':>9} {'min s':>7} {'max s':>7} {'packages':>9} {'ratio':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{name:<24} {median:>9.1f} {min(samples):>7.1f} {max(samples):>7.1f} "
            f"{packages[name]:>9} {median / before:>6.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2, choices=range(1, 11), metavar="N")
    main(parser.parse_args().rounds)

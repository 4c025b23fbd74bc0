"""`wsctl send '{"action":"whoami"}'` next to a 6-line websockets script doing the same.

    .venv/bin/python benchmarks/startup.py [--rounds 15]

Both are whole processes against the same `wsctl up --local` (started here, in its own
process, as users run it), each sending a whoami and printing the reply: wall time from spawn
to exit. wsctl finds the local stack by itself (no URL given), as a user's command does; the
script is given the URL. The two alternate, ROUNDS times each (the first round of each is a
warm-up, not counted); the table shows medians and the ratio wsctl/script. Target (issue 13):
at most 1.5x.

wsctl's own modules are byte-compiled first, as an installed wheel's are (pip compiles them
at install): with PYTHONDONTWRITEBYTECODE set, an editable install would otherwise compile
its sources on every run, which no installed wsctl does.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_RATIO = 1.5
START_LIMIT = 60.0
RUN_LIMIT = 30.0
REQUEST = '{"action":"whoami"}'
SCRIPT = """\
import asyncio, sys
from websockets.asyncio.client import connect
async def main():
    async with connect(sys.argv[1]) as ws:
        await ws.send('{"action":"whoami"}'); print(await ws.recv())
asyncio.run(main())
"""


def start_local(home: str) -> tuple[subprocess.Popen, str]:
    """`wsctl up --local --port 0 --json` in its own process; its WebSocket URL once it serves."""
    wsctl = str(Path(sys.executable).with_name("wsctl"))
    env = {**os.environ, "WSCTL_HOME": home, "NO_COLOR": "1"}
    process = subprocess.Popen(
        [wsctl, "up", "--local", "--port", "0", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        text=True,
    )
    line = process.stdout.readline()  # written once it serves
    if not line:
        process.kill()
        raise SystemExit("wsctl up --local did not start")
    deadline = time.monotonic() + START_LIMIT
    record = Path(home) / "local"
    while not any(record.glob("*.json")):  # ready for client commands once recorded
        if time.monotonic() > deadline:
            process.kill()
            raise SystemExit("wsctl up --local never recorded itself")
        time.sleep(0.05)
    return process, json.loads(line)["url"]


def one_run(argv: list[str], env: dict) -> float:
    """Wall seconds of one whole process, which must print a whoami reply."""
    started = time.perf_counter()
    finished = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=RUN_LIMIT)
    elapsed = time.perf_counter() - started
    if finished.returncode != 0 or '"whoami"' not in finished.stdout:
        raise SystemExit(f"{argv[:2]} failed ({finished.returncode}): {finished.stderr.strip()}")
    return elapsed


def compile_wsctl() -> None:
    """Byte-compile wsctl's package, as pip does for an installed wheel."""
    import compileall

    import wsctl

    compileall.compile_dir(Path(wsctl.__file__).parent, quiet=1)


def main(rounds: int) -> int:
    compile_wsctl()
    wsctl = str(Path(sys.executable).with_name("wsctl"))
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "WSCTL_HOME": home, "NO_COLOR": "1"}
        server, url = start_local(home)
        try:
            tools = {
                "wsctl send": [wsctl, "send", REQUEST],
                "websockets script": [sys.executable, "-c", SCRIPT, url],
            }
            times: dict[str, list[float]] = {name: [] for name in tools}
            for round_number in range(rounds + 1):
                order = list(tools) if round_number % 2 == 0 else list(reversed(tools))
                for name in order:
                    elapsed = one_run(tools[name], env)
                    if round_number > 0:  # round 0 warms the disk cache and the emulator
                        times[name].append(elapsed)
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)

    baseline = statistics.median(times["websockets script"])
    print(f"whoami against wsctl up --local, whole processes ({rounds} runs each, ms)")
    print(f"{'client':<20} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{name:<20} {median * 1000:>8.1f} {min(samples) * 1000:>8.1f} "
            f"{max(samples) * 1000:>8.1f} {median / baseline:>6.2f}x"
        )
    ratio = statistics.median(times["wsctl send"]) / baseline
    met = ratio <= TARGET_RATIO
    print(f"target: wsctl send within {TARGET_RATIO}x of the script: {'met' if met else 'NOT met'}")
    return 0 if met else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, choices=range(1, 101), metavar="N")
    sys.exit(main(parser.parse_args().rounds))

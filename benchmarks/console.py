"""What an open console costs the emulator: message throughput with and without its feed.

    .venv/bin/python benchmarks/console.py [--clients 20] [--messages 50] [--repeat 3]

`wsctl up --local` runs the bundled service in its own process, as users run it. Clients in
this process send `whoami` (one invocation each) and wait for each reply; a phase runs with
no console open, the next with one console feed connected (as the page's, own Origin) and
reading every event. Phases alternate ``--repeat`` times; the table shows medians and the
ratio with/without, measured in the same run. Each phase is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from up_local import start
from websockets.asyncio.client import connect

PHASE_TIMEOUT = 120.0


async def client(url: str, messages: int) -> None:
    async with connect(url, proxy=None) as ws:
        for _ in range(messages):
            await ws.send('{"action": "whoami"}')
            while json.loads(await ws.recv()).get("type") != "whoami":
                pass


async def read_feed(url: str, counted: list[int]) -> None:
    port = url.split(":")[2].split("/")[0]
    feed_url = f"ws://127.0.0.1:{port}/@console/feed"
    origin = f"http://127.0.0.1:{port}"
    async with connect(feed_url, origin=origin, proxy=None) as feed:
        async for _ in feed:
            counted[0] += 1


async def phase(url: str, clients: int, messages: int, console: bool) -> tuple[float, int]:
    """Round trips per second for one phase, and how many feed events were read."""
    counted = [0]
    reader = asyncio.create_task(read_feed(url, counted)) if console else None
    try:
        if reader is not None:
            while counted[0] == 0:  # the hello: the feed is subscribed
                await asyncio.sleep(0.01)
        started = time.perf_counter()
        async with asyncio.timeout(PHASE_TIMEOUT):
            await asyncio.gather(*(client(url, messages) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    finally:
        if reader is not None:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
    return clients * messages / elapsed, counted[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        process, url, _ = start(Path(folder))
        try:
            rates: dict[bool, list[float]] = {False: [], True: []}
            events = 0
            for _ in range(args.repeat):
                for console in (False, True):
                    rate, read = asyncio.run(phase(url, args.clients, args.messages, console))
                    rates[console].append(rate)
                    events = max(events, read)
        finally:
            process.terminate()
            process.wait(timeout=60)
    without, with_console = (statistics.median(rates[key]) for key in (False, True))
    print(f"{args.clients} clients x {args.messages} whoami, {args.repeat} rounds (medians)")
    print(f"{'phase':<22}{'round trips/s':>15}")
    print(f"{'no console':<22}{without:>15.0f}")
    print(f"{'console feed open':<22}{with_console:>15.0f}")
    print(f"{'ratio with/without':<22}{with_console / without:>15.2f}")
    print(f"feed events read in a phase: up to {events}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

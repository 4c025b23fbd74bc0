"""Time to first message sent: `wsctl send` next to `python -m websockets`, in the same run.

Both run as fresh processes against one websockets server on 127.0.0.1 (port 0); the
clock runs from spawning the process to the server receiving the first message. The two
clients alternate, ROUNDS times each; the table shows medians and the ratio wsctl/baseline.

    .venv/bin/python benchmarks/startup.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from websockets.asyncio.server import ServerConnection, serve

PER_RUN_LIMIT = 30.0
MESSAGE = "hello from the benchmark"


class FirstMessage:
    """A server that notes when a run's first message arrives (and answers nothing, so both
    clients do the same work: connect, send, close)."""

    def __init__(self) -> None:
        self.arrived: asyncio.Future[float] | None = None

    async def handler(self, connection: ServerConnection) -> None:
        async for _message in connection:
            if self.arrived is not None and not self.arrived.done():
                self.arrived.set_result(time.perf_counter())


def commands(url: str) -> dict[str, tuple[list[str], bytes | None]]:
    wsctl = str(Path(sys.executable).with_name("wsctl"))
    return {
        "wsctl send": ([wsctl, "send", MESSAGE, url, "-w", "0"], None),
        "python -m websockets": (
            [sys.executable, "-m", "websockets", url],
            MESSAGE.encode() + b"\n",
        ),
    }


async def one_run(server: FirstMessage, argv: list[str], stdin: bytes | None, env: dict) -> float:
    """Seconds from spawn to the first message at the server."""
    loop = asyncio.get_running_loop()
    server.arrived = loop.create_future()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    try:
        if stdin is not None:
            process.stdin.write(stdin)
            await process.stdin.drain()
            process.stdin.close()
        arrived = await asyncio.wait_for(server.arrived, PER_RUN_LIMIT)
        await asyncio.wait_for(process.wait(), PER_RUN_LIMIT)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise SystemExit(f"{argv[0]}: no message within {PER_RUN_LIMIT:g} s") from None
    if process.returncode != 0:
        error = (await process.stderr.read()).decode(errors="replace").strip()
        raise SystemExit(f"{' '.join(argv[:2])} exited {process.returncode}: {error}")
    return arrived - started


async def main(rounds: int) -> None:
    server = FirstMessage()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "WSCTL_HOME": home, "NO_COLOR": "1"}
        async with serve(server.handler, "127.0.0.1", 0) as ws_server:
            port = ws_server.sockets[0].getsockname()[1]
            tools = commands(f"ws://127.0.0.1:{port}/")
            times: dict[str, list[float]] = {name: [] for name in tools}
            for round_number in range(rounds):
                order = list(tools) if round_number % 2 == 0 else list(reversed(tools))
                for name in order:
                    argv, stdin = tools[name]
                    times[name].append(await one_run(server, argv, stdin, env))

    baseline = statistics.median(times["python -m websockets"])
    print(f"Time to first message sent ({rounds} runs each, ms)")
    print(f"{'client':<22} {'median':>8} {'min':>8} {'max':>8} {'ratio':>7}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(
            f"{name:<22} {median * 1000:>8.1f} {min(samples) * 1000:>8.1f} "
            f"{max(samples) * 1000:>8.1f} {median / baseline:>6.2f}x"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10, choices=range(1, 101), metavar="N")
    asyncio.run(main(parser.parse_args().rounds))

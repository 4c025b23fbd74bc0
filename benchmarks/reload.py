"""How long an edit takes to become usable in `wsctl up --local`, started by the CLI in its
own process as users run it, with the client in this process.

    .venv/bin/python benchmarks/reload.py [--rounds 5]

Two edits, alternating, each measured from the file write to the first reply that shows it:

- adding a route to wsctl.toml (the new route answers on the same open connection);
- editing a handler file (hot reload of code, which existed before): the baseline.

Prints a table of medians and the ratio route/handler; exits 1 if the median route addition
misses the 2 s target of issue 12.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from up_local import start
from websockets.asyncio.client import connect

TARGET_S = 2.0
TOML = """
[stack]
name = "reload"
stage = "bench"

[functions.default]
handler = "handler.default"

[routes]
"$default" = { function = "default", respond = true }
"""
HANDLER = """
import json

VERSION = 0


def default(event, context):
    body = {"route": event["requestContext"]["routeKey"], "version": VERSION}
    return {"statusCode": 200, "body": json.dumps(body)}
"""


async def ask(ws, action: str) -> dict:
    await ws.send(json.dumps({"action": action}))
    async with asyncio.timeout(10):
        return json.loads(await ws.recv())


async def wait_for(ws, action: str, predicate, started: float) -> float:
    deadline = started + 30
    while time.monotonic() < deadline:
        if predicate(await ask(ws, action)):
            return time.monotonic() - started
        await asyncio.sleep(0.02)
    raise SystemExit(f"the edit never showed for {action!r}")


async def measure(url: str, root: Path, rounds: int) -> tuple[list[float], list[float]]:
    config, handler = root / "wsctl.toml", root / "lambda_code" / "handler.py"
    routes, code = [], []
    async with connect(url) as ws:
        for number in range(1, rounds + 1):
            route = f"r{number}"
            started = time.monotonic()
            config.write_text(
                config.read_text() + f'{route} = {{ function = "default", respond = true }}\n'
            )
            routes.append(await wait_for(ws, route, lambda r, k=route: r["route"] == k, started))
            started = time.monotonic()
            handler.write_text(HANDLER.replace("VERSION = 0", f"VERSION = {number}"))
            code.append(await wait_for(ws, "x", lambda r, v=number: r["version"] == v, started))
    return routes, code


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = min(max(parser.parse_args().rounds, 1), 50)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "lambda_code").mkdir()
        (root / "wsctl.toml").write_text(textwrap.dedent(TOML))
        (root / "lambda_code" / "handler.py").write_text(HANDLER)
        process, url, _ = start(root, stage="bench")
        try:
            routes, code = asyncio.run(measure(url, root, rounds))
        finally:
            process.terminate()
            process.wait(timeout=30)
    route_s, code_s = statistics.median(routes), statistics.median(code)
    print(f"{'edit':<28}{'median s':>10}{'max s':>10}")
    print(f"{'route added to wsctl.toml':<28}{route_s:>10.2f}{max(routes):>10.2f}")
    print(f"{'handler file edited':<28}{code_s:>10.2f}{max(code):>10.2f}")
    print(
        f"route/handler ratio: {route_s / code_s:.2f}; target: route < {TARGET_S} s: "
        f"{'met' if route_s < TARGET_S else 'MISSED'}"
    )
    return 0 if route_s < TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())

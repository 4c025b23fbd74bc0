"""The local emulator under load, next to a plain websockets server measured in the same run.

    .venv/bin/python benchmarks/local.py [--sizes 10,100,500,1000] [--broadcasts 20] [--repeat 3]

For each N, N clients connect to each server; one of them broadcasts M messages, one at a
time and then with 20 in flight. Every client records when each broadcast arrives: delivery
latency (p50/p99), deliveries per second and completeness; each phase runs ``--repeat``
times, its rounds alternating between the two servers so that both see the same moments of
this noisy machine (its speed drifts by half over minutes), and the table shows each
figure's median (completeness: the worst run). The plain server fans out
directly with ``websockets.broadcast`` (no Lambda semantics, no DynamoDB): this machine's
practical limit. The emulator runs the bundled service unchanged (scan, then one
PostToConnection per connection from a thread pool). Also: each server's connection rate
(its clients opening 16 at a time, as browsers and wscat users arrive; the median of
``--repeat`` rounds) and the PSS of all its processes with N connections, just opened and
once idle (3 s: the sandboxes the burst started beyond the warm few have retired).

The emulator is `wsctl up --local` started as a user starts it (its own process, logging as it
does, functions in sandboxes); the plain server is a process of its own; the load clients run
in this process. Each phase is bounded in count and time. Targets at N=500 (issue 14): one at
a time >= 0.5x the plain server's deliveries/s and p99 <= 2x its p99; 20 in flight p99 <= 2x
the plain server's, 100% delivered; connections/s >= 0.5x the plain server's; with 1000 idle
connections <= 300 MB, the PSS of all processes.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from up_local import start as start_up_local
from websockets.asyncio.client import ClientConnection, connect

IN_FLIGHT = 20
TARGET_N = 500
CONNECT_CONCURRENCY = 16  # as browsers and wscat users arrive: a few at a time (DESIGN.md 7)
PHASE_TIMEOUT = 60.0
# Connections idle this long: the sandboxes their burst started beyond the warm few have
# retired (wsctl.local.sandbox.RETIRE_AFTER is 2 s).
IDLE_SETTLE = 3.0
ROOT = Path(__file__).resolve().parent.parent


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = hard if hard != resource.RLIM_INFINITY else 65536
    if soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


# Servers (each in its own process) ------------------------------------------------------------
def serve_plain() -> None:
    """Broadcast straight to every open connection, then ack the sender: the baseline."""
    from websockets.asyncio.server import broadcast, serve

    async def handler(ws) -> None:
        async for message in ws:
            request = json.loads(message)
            if request.get("action") != "broadcast":
                continue
            frame = json.dumps(
                {
                    "type": "broadcast",
                    "from": str(ws.id),
                    "message": request.get("message"),
                    "at": time.time_ns() // 1_000_000,
                }
            )
            targets = server.connections
            broadcast(targets, frame)
            ack = {"type": "ack", "action": "broadcast", "delivered": len(targets)}
            await ws.send(json.dumps({**ack, "gone": 0, "failed": 0}))

    async def main() -> None:
        nonlocal server
        server = await serve(handler, "127.0.0.1", 0, compression=None, ping_interval=None)
        print(f"PORT {server.sockets[0].getsockname()[1]} /dev", flush=True)
        await asyncio.to_thread(sys.stdin.read)

    server = None
    asyncio.run(main())


@dataclass
class ServerProcess:
    kind: str
    process: subprocess.Popen
    url: str

    @classmethod
    def start(cls, kind: str) -> ServerProcess:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        _, port, path = process.stdout.readline().split()
        return cls(kind, process, f"ws://127.0.0.1:{port}{path}")

    @classmethod
    def start_emulator(cls, root: Path) -> ServerProcess:
        """`wsctl up --local` of the bundled service, started as a user starts it."""
        process, url, _ = start_up_local(root)
        return cls("emulator", process, url)

    def rss_mb(self) -> float:
        """PSS summed over the server and every process under it (the emulator's sandboxes):
        shared pages counted once, as the issue's memory target asks."""
        return sum(_pss_kb(pid) for pid in _tree(self.process.pid)) / 1024

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        else:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C, as a user stops `up --local`
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _tree(pid: int) -> list[int]:
    pids, index = [pid], 0
    while index < len(pids):
        try:
            for task in Path(f"/proc/{pids[index]}/task").glob("*"):
                children = (task / "children").read_text().split()
                pids += [int(child) for child in children]
        except OSError:
            pass  # it ended meanwhile (a sandbox retired)
        index += 1
    return pids


def _pss_kb(pid: int) -> int:
    try:
        rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    return next(int(line.split()[1]) for line in rollup.splitlines() if line.startswith("Pss:"))


# Clients ---------------------------------------------------------------------------------------
@dataclass
class Round:
    """One run of M broadcasts to N clients: what arrived and when."""

    clients: int
    expected: int
    started: float = 0.0
    last_delivery: float = 0.0
    latencies: list[float] = field(default_factory=list)
    counts: dict[int, int] = field(default_factory=dict)
    complete: dict[int, asyncio.Event] = field(default_factory=dict)

    def delivered(self, seq: int, sent_at: float) -> None:
        now = time.perf_counter()
        self.latencies.append(now - sent_at)
        self.last_delivery = now
        count = self.counts[seq] = self.counts.get(seq, 0) + 1
        if count == self.clients:
            self.complete[seq].set()

    def row(self) -> dict[str, float]:
        got = len(self.latencies)
        elapsed = max(self.last_delivery - self.started, 1e-9)
        ordered = sorted(self.latencies) or [float("nan")]
        return {
            "deliveries/s": got / elapsed,
            "p50 ms": statistics.median(ordered) * 1000,
            "p99 ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
            "complete %": 100 * got / self.expected,
        }


class Clients:
    def __init__(self, url: str) -> None:
        self.url = url
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task] = []
        self.round: Round | None = None

    async def open(self, n: int) -> float:
        """Connect ``n`` clients (CONNECT_CONCURRENCY at a time); returns connections/s."""
        gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

        async def one() -> ClientConnection:
            async with gate:
                return await connect(
                    self.url, compression=None, ping_interval=None, open_timeout=30, max_size=None
                )

        started = time.perf_counter()
        self.sockets = list(await asyncio.gather(*(one() for _ in range(n))))
        rate = n / (time.perf_counter() - started)
        self.readers = [asyncio.create_task(self._read(ws)) for ws in self.sockets]
        # The connections' objects stay put: the collector need not walk them in the middle
        # of a measurement (a full collection stalls every client here, for either server).
        gc.collect()
        gc.freeze()
        return rate

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                frame = json.loads(raw)
                if frame.get("type") == "broadcast" and self.round is not None:
                    body = frame["message"]
                    self.round.delivered(body["seq"], body["t"])
        except Exception:
            return

    async def run(self, broadcasts: int, in_flight: int) -> Round:
        n = len(self.sockets)
        current = self.round = Round(clients=n, expected=n * broadcasts)
        current.complete = {seq: asyncio.Event() for seq in range(broadcasts)}
        gate = asyncio.Semaphore(in_flight)
        sender = self.sockets[0]

        async def one(seq: int) -> None:
            try:
                async with asyncio.timeout(PHASE_TIMEOUT / 2):
                    await current.complete[seq].wait()
            except TimeoutError:
                pass
            finally:
                gate.release()

        waiters = []
        current.started = time.perf_counter()
        try:
            async with asyncio.timeout(PHASE_TIMEOUT):
                for seq in range(broadcasts):
                    await gate.acquire()
                    message = {"seq": seq, "t": time.perf_counter()}
                    await sender.send(json.dumps({"action": "broadcast", "message": message}))
                    waiters.append(asyncio.create_task(one(seq)))
                await asyncio.gather(*waiters)
        except TimeoutError:
            pass
        await asyncio.sleep(0.2)  # late deliveries still count toward completeness
        self.round = None
        return current

    async def close(self) -> None:
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)
        for reader in self.readers:
            reader.cancel()
        self.sockets, self.readers = [], []


async def all_disconnected(kind: str, server: ServerProcess) -> None:
    """The emulator once every $disconnect has run; a pause for the plain server."""
    if kind == "emulator":
        await wait_for_no_records(server.url)
    await asyncio.sleep(1.0)


async def wait_for_no_records(url: str, deadline: float = PHASE_TIMEOUT) -> None:
    """Until the bundled service lists only the probe asking (its ``count``), bounded."""
    async with asyncio.timeout(deadline), connect(url, compression=None) as probe:
        while True:
            await probe.send(json.dumps({"action": "list"}))
            while (frame := json.loads(await probe.recv())).get("type") != "connections":
                pass
            if frame["count"] <= 1:
                return
            await asyncio.sleep(0.2)


# The run ---------------------------------------------------------------------------------------
def median_row(rounds: list[Round]) -> dict[str, float]:
    """Each figure's median over the repetitions; completeness is the worst of them."""
    rows = [one.row() for one in rounds]
    median = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
    median["complete %"] = min(row["complete %"] for row in rows)
    return median


async def measure(
    servers: dict[str, ServerProcess], sizes: list[int], broadcasts: int, repeat: int
) -> dict[str, dict]:
    """Each round on each server in turn (plain, emulator, plain, emulator...), so both see
    the same moments of a noisy machine; each figure is the median of its ``repeat`` rounds.
    Each server's last clients stay connected for its broadcasts."""
    results: dict[str, dict] = {
        kind: {"rounds": {}, "rss": {}, "idle rss": {}, "connect rate": {}} for kind in servers
    }
    for kind, server in servers.items():
        results[kind]["rss"][0] = server.rss_mb()
    for n in sizes:
        print(f"  N={n} ...", file=sys.stderr, flush=True)
        clients: dict[str, Clients] = {}
        rates: dict[str, list[float]] = {kind: [] for kind in servers}
        for attempt in range(repeat):
            for kind, server in servers.items():
                clients[kind] = Clients(server.url)
                rates[kind].append(await clients[kind].open(n))
                if attempt < repeat - 1:
                    await clients[kind].close()
                    await all_disconnected(kind, server)
        await asyncio.sleep(0.5)
        for kind, server in servers.items():
            results[kind]["connect rate"][n] = statistics.median(rates[kind])
            results[kind]["rss"][n] = server.rss_mb()
        await asyncio.sleep(IDLE_SETTLE)
        for kind, server in servers.items():
            results[kind]["idle rss"][n] = server.rss_mb()
        in_flight_count = max(IN_FLIGHT, min(3 * broadcasts, 30_000 // n))
        phases = {"1": (broadcasts, 1), str(IN_FLIGHT): (in_flight_count, IN_FLIGHT)}
        for phase, (count, in_flight) in phases.items():
            rounds: dict[str, list[Round]] = {kind: [] for kind in servers}
            for _ in range(repeat):
                for kind in servers:
                    rounds[kind].append(await clients[kind].run(count, in_flight=in_flight))
            for kind in servers:
                results[kind]["rounds"].setdefault(n, {})[phase] = median_row(rounds[kind])
        for kind, server in servers.items():
            await clients[kind].close()
            await all_disconnected(kind, server)
    return results


def print_table(sizes: list[int], plain: dict, emulator: dict) -> None:
    print()
    header = (
        f"{'N':>5} {'in flight':>9} | {'plain del/s':>11} {'p50':>7} {'p99':>7} {'ok%':>6} | "
        f"{'emul del/s':>10} {'p50':>7} {'p99':>7} {'ok%':>6} | {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for n in sizes:
        for mode in ("1", str(IN_FLIGHT)):
            p, e = plain["rounds"][n][mode], emulator["rounds"][n][mode]
            print(
                f"{n:>5} {mode:>9} | {p['deliveries/s']:>11,.0f} {p['p50 ms']:>6.1f}ms "
                f"{p['p99 ms']:>6.1f}ms {p['complete %']:>5.1f}% | "
                f"{e['deliveries/s']:>10,.0f} {e['p50 ms']:>6.1f}ms {e['p99 ms']:>6.1f}ms "
                f"{e['complete %']:>5.1f}% | {e['deliveries/s'] / p['deliveries/s']:>6.2f}"
            )
    biggest = max(sizes)
    print()
    print(
        f"Emulator PSS (all its processes): {emulator['rss'][0]:.0f} MB at start; with "
        f"{biggest} connections {emulator['rss'][biggest]:.0f} MB just opened, "
        f"{emulator['idle rss'][biggest]:.0f} MB idle {IDLE_SETTLE:.0f} s "
        f"(plain server: {plain['idle rss'][biggest]:.0f} MB)"
    )
    for n in sizes:
        print(
            f"Connection rate ({n} clients, {CONNECT_CONCURRENCY} at a time): emulator "
            f"{emulator['connect rate'][n]:,.0f}/s, plain {plain['connect rate'][n]:,.0f}/s"
        )
    if TARGET_N in sizes:
        print(f"\nTargets at N={TARGET_N} (issue 14; the plain server measured in this run):")
        one_p, one_e = plain["rounds"][TARGET_N]["1"], emulator["rounds"][TARGET_N]["1"]
        many_p = plain["rounds"][TARGET_N][str(IN_FLIGHT)]
        many_e = emulator["rounds"][TARGET_N][str(IN_FLIGHT)]
        ratio = one_e["deliveries/s"] / one_p["deliveries/s"]
        connect_ratio = emulator["connect rate"][TARGET_N] / plain["connect rate"][TARGET_N]
        checks = {
            f"one at a time: deliveries/s >= 0.5x plain ({ratio:.2f}x)": ratio >= 0.5,
            f"one at a time: p99 <= 2x plain's ({one_e['p99 ms']:.0f} vs {one_p['p99 ms']:.0f}"
            " ms)": one_e["p99 ms"] <= 2 * one_p["p99 ms"],
            f"{IN_FLIGHT} in flight: p99 <= 2x plain's ({many_e['p99 ms']:.0f} vs "
            f"{many_p['p99 ms']:.0f} ms)": many_e["p99 ms"] <= 2 * many_p["p99 ms"],
            f"{IN_FLIGHT} in flight: 100% delivered ({many_e['complete %']:.1f}%)": (
                many_e["complete %"] == 100
            ),
            f"connections/s >= 0.5x plain ({connect_ratio:.2f}x)": connect_ratio >= 0.5,
        }
        for name, ok in checks.items():
            print(f"  {name}: {'met' if ok else 'NOT met'}")
    if biggest >= 1000:
        opened, idle = emulator["rss"][biggest], emulator["idle rss"][biggest]
        print(
            f"  {biggest} idle connections, warm sandboxes: PSS of all processes <= 300 MB "
            f"({idle:.0f} MB idle, {opened:.0f} MB just opened): "
            f"{'met' if idle <= 300 else 'NOT met'}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500,1000")
    parser.add_argument("--broadcasts", type=int, default=20, help="M, one at a time")
    parser.add_argument(
        "--repeat", type=int, default=3, help="runs of each phase; the table shows medians"
    )
    parser.add_argument("--serve", choices=("plain",), help=argparse.SUPPRESS)
    args = parser.parse_args()
    raise_fd_limit()
    if args.serve == "plain":
        serve_plain()
        return 0
    sizes = [int(size) for size in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="wsctl-bench-") as root:
        servers = {
            "plain": ServerProcess.start("plain"),
            "emulator": ServerProcess.start_emulator(Path(root)),
        }
        try:
            results = asyncio.run(measure(servers, sizes, args.broadcasts, args.repeat))
        finally:
            for server in servers.values():
                server.stop()
    print_table(sizes, results["plain"], results["emulator"])
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    sys.exit(main())

"""Hostile-input soak of the local emulator running the bundled service.

Several hostile clients at once send generated frames (random text, invalid JSON, deep nesting,
huge numbers, wrong types, fragmented messages, binary frames, oversize frames and messages)
while one honest client keeps sending numbered messages to itself. Every hostile frame must get
an ``error`` frame from the service, or the close API Gateway documents for it:

- binary frame: close 1003 (API Gateway WebSocket APIs do not accept binary frames from
  clients: "API Gateway rejects it and disconnects the client with code 1003");
- a frame over 32 KB, or a message over 128 KB: close 1009 (message too big).

The honest client must lose nothing, and the emulator's memory must return to its level before
the soak. Run ``python benchmarks/soak.py --help``; ``tests/auth/test_soak.py`` runs a bounded
version of the same soak in the test suite.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import os
import random
import sys
import time
import tracemalloc
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

KIB = 1024
FRAME_LIMIT = 32 * KIB  # API Gateway's frame quota
MESSAGE_LIMIT = 128 * KIB  # API Gateway's message payload quota
UNSUPPORTED_DATA = 1003
MESSAGE_TOO_BIG = 1009
ERROR_CODES = ("invalid_json", "unknown_action", "missing_field", "not_found", "too_large")
GATEWAY_INTERNAL_ERROR = "Internal server error"

# How often each kind is drawn. Kinds that end the connection (binary, oversize) are rarer,
# since each costs a new handshake, a $connect and a $disconnect.
KIND_WEIGHTS: Mapping[str, int] = {
    "random_text": 14,
    "invalid_json": 14,
    "deep_nesting": 10,
    "huge_number": 12,
    "wrong_type": 16,
    "fragmented": 8,
    "binary": 3,
    "oversize_frame": 2,
    "oversize_message": 1,
}


@dataclass(frozen=True)
class Hostile:
    """One hostile message: a text frame, a binary frame, or text fragments of one message."""

    kind: str
    payload: str | bytes | tuple[str, ...]
    close_code: int | None = None  # the documented close it must get; None: an error frame

    @property
    def size(self) -> int:
        if isinstance(self.payload, tuple):
            return sum(len(part.encode()) for part in self.payload)
        data = self.payload if isinstance(self.payload, bytes) else self.payload.encode()
        return len(data)


# Frame generation: pure and seeded, so a failing soak can be replayed -------------------------


def _random_text(rng: random.Random) -> str:
    alphabet = 'abc{}[]":,\\ \t\n\x00\x1b\u00e9\u2028\u202e\U0001f6000123456789-eE.+'
    text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 2000)))
    return "~" + text  # never valid JSON, whatever follows


def _invalid_json(rng: random.Random) -> str:
    valid = json.dumps({"action": "send", "to": "x" * rng.randint(1, 30), "message": "hi"})
    return rng.choice(
        [
            valid[: rng.randint(1, len(valid) - 1)],  # truncated
            valid[:-1] + ",}",  # trailing comma
            valid.replace('"', "'"),  # single quotes
            '{"action": "broadcast", "message": NaN}',
            '{"action": "broadcast", "message": -Infinity}',
            '{"action": "broadcast" "message": 1}',
            "{" * rng.randint(1, 50),
            '{"action": "broadcast", "message": "\\x41"}',
            "",
            " ",
        ]
    )


def _deep_nesting(rng: random.Random) -> str:
    opener, closer = rng.choice([("[", "]"), ('{"a":', "}")])
    most = (FRAME_LIMIT - 100) // len(opener + closer)  # within one 32 KB frame
    depth = rng.randint(1_000, most)
    nested = opener * depth + "1" + closer * depth
    return rng.choice(
        [
            nested,
            '{"action": "broadcast", "message": ' + nested + "}",
            '{"action": ' + nested + "}",
            '{"action": "send", "to": ' + nested + ', "message": 1}',
        ]
    )


def _huge_number(rng: random.Random) -> str:
    digits = "9" * rng.randint(4_400, 20_000)  # beyond Python's 4300-digit int parsing limit
    return rng.choice(
        [
            '{"action": "broadcast", "message": ' + digits + "}",
            '{"action": "send", "to": "x", "message": -' + digits + "}",
            '{"action": ' + digits + "}",
            '{"action": "send", "to": 1e999999, "message": 1}',
            '{"action": "send", "to": ' + digits + ', "message": 1}',
            '{"action": 1e-999999}',
            digits,
        ]
    )


def _wrong_type(rng: random.Random) -> str:
    missing_target = "no-such-connection-" + str(rng.randint(0, 10**9))
    return rng.choice(
        [
            "[]",
            "null",
            "true",
            '"broadcast"',
            "42",
            "{}",
            '{"action": null}',
            '{"action": ["broadcast"]}',
            '{"action": {"$ne": 1}}',
            '{"action": true}',
            '{"action": "$connect"}',
            '{"action": "$disconnect"}',
            '{"action": "$default"}',
            '{"action": "BROADCAST", "message": 1}',
            '{"action": "broadcast"}',
            '{"action": "send", "message": 1}',
            '{"action": "send", "to": "", "message": 1}',
            '{"action": "send", "to": ["a"], "message": 1}',
            '{"action": "send", "to": {"id": "a"}, "message": 1}',
            '{"action": "send", "to": null, "message": 1}',
            '{"action": "send", "to": "' + missing_target + '"}',
            '{"action": "send", "to": "' + missing_target + '", "message": 1}',
            '{"action": "send", "to": "' + "x" * 3000 + '", "message": 1}',
            '{"action": "send\\u0000", "message": 1}',
            '{"Action": "list"}',
        ]
    )


def _fragments(text: str, rng: random.Random) -> tuple[str, ...]:
    cuts = sorted(rng.sample(range(1, len(text)), min(len(text) - 1, rng.randint(1, 7))))
    bounds = [0, *cuts, len(text)]
    parts = tuple(text[a:b] for a, b in itertools.pairwise(bounds))
    return tuple(part for part in parts if part)


def _fragmented(rng: random.Random) -> tuple[str, ...]:
    """An invalid message split into fragments, each under the frame limit."""
    body = '{"action": "send", "to": "nobody", "message": "' + "f" * rng.randint(10, 90_000)
    parts = _fragments(body, rng)  # unterminated string: invalid JSON
    while any(len(part.encode()) > FRAME_LIMIT for part in parts):
        parts = _fragments(body, rng)
    return parts


def hostile_frame(rng: random.Random, kind: str | None = None) -> Hostile:
    """One hostile frame of ``kind`` (drawn by ``KIND_WEIGHTS`` when not given)."""
    if kind is None:
        kind = rng.choices(list(KIND_WEIGHTS), weights=list(KIND_WEIGHTS.values()))[0]
    if kind == "binary":
        return Hostile(kind, rng.randbytes(rng.randint(0, 1000)), UNSUPPORTED_DATA)
    if kind == "oversize_frame":
        size = rng.randint(FRAME_LIMIT + 1, MESSAGE_LIMIT)
        return Hostile(kind, '{"action": "broadcast", "message": "' + "o" * size, MESSAGE_TOO_BIG)
    if kind == "oversize_message":
        parts = tuple("m" * FRAME_LIMIT for _ in range(MESSAGE_LIMIT // FRAME_LIMIT + 1))
        return Hostile(kind, parts, MESSAGE_TOO_BIG)
    if kind == "fragmented":
        return Hostile(kind, _fragmented(rng))
    makers = {
        "random_text": _random_text,
        "invalid_json": _invalid_json,
        "deep_nesting": _deep_nesting,
        "huge_number": _huge_number,
        "wrong_type": _wrong_type,
    }
    return Hostile(kind, makers[kind](rng))


def hostile_frames(seed: int, count: int, *, every_kind_first: bool = True) -> list[Hostile]:
    """``count`` hostile frames from ``seed``; the first ones cover every kind once."""
    rng = random.Random(seed)
    kinds: list[str | None] = list(KIND_WEIGHTS) if every_kind_first else []
    kinds = kinds[:count] + [None] * max(0, count - len(kinds))
    return [hostile_frame(rng, kind) for kind in kinds]


# Outcomes ----------------------------------------------------------------------------------


def classify_reply(text: str | bytes) -> str:
    """What a reply to a hostile frame was: ``error:<code>``, ``internal`` or ``unexpected``."""
    if isinstance(text, bytes):
        return "unexpected:binary"
    try:
        frame = json.loads(text)
    except ValueError:
        return "unexpected:not-json"
    if not isinstance(frame, dict):
        return "unexpected:not-an-object"
    if frame.get("type") == "error" and frame.get("error") in ERROR_CODES:
        return f"error:{frame['error']}"
    if frame.get("message") == GATEWAY_INTERNAL_ERROR:
        return "internal"
    return f"unexpected:{frame.get('type')!s}"


def accepted(hostile: Hostile, outcome: str) -> bool:
    """The outcome is the documented one: the expected close, or a service error frame."""
    if hostile.close_code is not None:
        return outcome == f"close:{hostile.close_code}"
    return outcome.startswith("error:")


@dataclass
class SoakReport:
    """What the soak sent and what came back, by kind and outcome."""

    hostile_sent: Counter[str] = field(default_factory=Counter)
    hostile_bytes: int = 0
    outcomes: Counter[tuple[str, str]] = field(default_factory=Counter)
    not_accepted: int = 0  # frames whose outcome was not the documented one
    rejected_samples: list[tuple[str, str, str]] = field(default_factory=list)  # the first 10
    hostile_connections: int = 0
    refused_handshakes: Counter[int] = field(default_factory=Counter)
    unsent: int = 0
    honest_sent: int = 0
    honest_received: int = 0
    honest_acks: int = 0
    honest_lost: list[int] = field(default_factory=list)
    honest_duplicates: int = 0
    honest_stray: int = 0
    honest_identity_changed: bool = False
    honest_closed: str | None = None
    seconds: float = 0.0

    @property
    def hostile_total(self) -> int:
        return sum(self.hostile_sent.values())

    def record(self, hostile: Hostile, outcome: str) -> None:
        self.outcomes[hostile.kind, outcome] += 1
        if not accepted(hostile, outcome):
            self.not_accepted += 1
            if len(self.rejected_samples) < 10:
                payload = hostile.payload
                shown = payload if isinstance(payload, str) else repr(payload)
                self.rejected_samples.append((hostile.kind, outcome, shown[:120]))

    def by_outcome(self) -> Counter[str]:
        totals: Counter[str] = Counter()
        for (_, outcome), count in self.outcomes.items():
            totals[outcome] += count
        return totals


# Clients -----------------------------------------------------------------------------------


def _close_outcome(websocket: ClientConnection) -> str:
    code = websocket.close_code
    return f"close:{code}" if code is not None else "close:none"


async def _send(websocket: ClientConnection, hostile: Hostile) -> None:
    payload = hostile.payload
    if isinstance(payload, tuple):
        await websocket.send(iter(payload))
    else:
        await websocket.send(payload)


async def _outcome(websocket: ClientConnection, hostile: Hostile, timeout: float) -> str:
    """Send one hostile message and wait for what answers it: a frame, or the close."""
    try:
        await _send(websocket, hostile)
        reply = await asyncio.wait_for(websocket.recv(), timeout)
    except ConnectionClosed:
        await websocket.wait_closed()
        return _close_outcome(websocket)
    except TimeoutError:
        return "timeout"
    if hostile.close_code is not None:
        await websocket.close()  # answered instead of closed: start afresh for the next one
    return classify_reply(reply)


async def hostile_client(
    url: str,
    frames: Sequence[Hostile],
    report: SoakReport,
    *,
    headers: Mapping[str, str] | None = None,
    reply_timeout: float = 5.0,
    deadline: float,
) -> None:
    """Send ``frames`` one at a time, reconnecting after each close, until done or ``deadline``."""
    websocket: ClientConnection | None = None
    try:
        for index, hostile in enumerate(frames):
            if time.monotonic() > deadline:
                report.unsent += len(frames) - index
                return
            if websocket is None or websocket.close_code is not None:
                if websocket is not None:
                    await websocket.close()
                try:
                    websocket = await connect(
                        url,
                        additional_headers=dict(headers or {}),
                        max_size=None,
                        proxy=None,
                        ping_interval=None,
                        compression=None,
                    )
                except InvalidStatus as exc:
                    report.refused_handshakes[exc.response.status_code] += 1
                    websocket = None
                    report.record(hostile, f"refused:{exc.response.status_code}")
                    continue
                report.hostile_connections += 1
            report.hostile_sent[hostile.kind] += 1
            report.hostile_bytes += hostile.size
            report.record(hostile, await _outcome(websocket, hostile, reply_timeout))
    finally:
        if websocket is not None:
            await websocket.close()


async def honest_client(
    url: str,
    report: SoakReport,
    stop: asyncio.Event,
    *,
    headers: Mapping[str, str] | None = None,
    reply_timeout: float = 5.0,
    limit: int = 1_000_000,
) -> None:
    """Send numbered messages to itself until ``stop``; every one must come back, once."""
    async with connect(
        url, additional_headers=dict(headers or {}), proxy=None, ping_interval=None
    ) as websocket:
        await websocket.send(json.dumps({"action": "whoami"}))
        me = json.loads(await asyncio.wait_for(websocket.recv(), reply_timeout))["connectionId"]
        seen: set[int] = set()
        try:
            for seq in range(limit):
                if stop.is_set():
                    break
                message = {"action": "send", "to": me, "message": {"seq": seq, "pad": "h" * 64}}
                await websocket.send(json.dumps(message))
                report.honest_sent += 1
                got_message = got_ack = False
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(reply_timeout):
                        while not (got_message and got_ack):
                            frame = json.loads(await websocket.recv())
                            kind = frame.get("type")
                            if kind == "message" and frame.get("from") == me:
                                number = frame["message"]["seq"]
                                if number in seen:
                                    report.honest_duplicates += 1
                                seen.add(number)
                                got_message = got_message or number == seq
                            elif kind == "ack" and frame.get("action") == "send":
                                report.honest_acks += 1
                                got_ack = True
                            else:
                                report.honest_stray += 1
                if seq % 50 == 0:
                    await websocket.send(json.dumps({"action": "whoami"}))
                    identity = json.loads(await asyncio.wait_for(websocket.recv(), reply_timeout))
                    if identity.get("connectionId") != me:
                        report.honest_identity_changed = True
        except ConnectionClosed as exc:
            report.honest_closed = f"{exc.rcvd.code if exc.rcvd else None}"
        report.honest_received = len(seen)
        report.honest_lost = sorted(set(range(report.honest_sent)) - seen)


async def run_soak(
    url: str,
    *,
    clients: int = 4,
    frames_per_client: int = 500,
    seed: int = 0,
    seconds: float = 20.0,
    headers: Mapping[str, str] | None = None,
) -> SoakReport:
    """Hostile clients and one honest client at once against ``url``, bounded by ``seconds``."""
    report = SoakReport()
    stop = asyncio.Event()
    started = time.monotonic()
    deadline = started + seconds
    honest = asyncio.create_task(honest_client(url, report, stop, headers=headers))
    hostile = [
        hostile_client(
            url,
            hostile_frames(seed + n, frames_per_client),
            report,
            headers=headers,
            deadline=deadline,
        )
        for n in range(clients)
    ]
    try:
        await asyncio.gather(*hostile)
    finally:
        stop.set()
        await honest
    report.seconds = time.monotonic() - started
    return report


# Memory ------------------------------------------------------------------------------------


def rss_bytes() -> int:
    """This process's resident set size (Linux), 0 where /proc is not available."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def trimmed_rss_bytes() -> int:
    """RSS after asking glibc to return the free memory it keeps (``malloc_trim``).

    Large frames are allocated with malloc, and glibc keeps freed memory for reuse, so RSS
    stays high after a soak without anything being held: trimmed RSS shows what is.
    """
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    return rss_bytes()


def traced_bytes() -> int:
    """Bytes Python allocated and still holds (tracemalloc), after a full collection."""
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


# The command -------------------------------------------------------------------------------


@contextlib.contextmanager
def bundled_service(**options: Any) -> Iterator[Any]:
    """The bundled service under the local emulator on 127.0.0.1, a free port."""
    from wsctl.config import CONFIG_FILE, bundled_service_dir, parse_spec_file
    from wsctl.local import LocalService

    spec = parse_spec_file(bundled_service_dir() / CONFIG_FILE)
    with LocalService(spec, port=0, **options) as service:
        yield service


def format_report(report: SoakReport, memory: Mapping[str, int] | None = None) -> str:
    lines = [
        f"hostile frames sent: {report.hostile_total} ({report.hostile_bytes / KIB / KIB:.1f} MiB)"
        f" over {report.hostile_connections} connections in {report.seconds:.1f} s"
        f" (unsent at the deadline: {report.unsent})",
        "",
        f"{'kind':<18} {'outcome':<22} {'count':>7}",
    ]
    for (kind, outcome), count in sorted(report.outcomes.items()):
        lines.append(f"{kind:<18} {outcome:<22} {count:>7}")
    lines += ["", "outcome totals:"]
    for outcome, count in sorted(report.by_outcome().items()):
        lines.append(f"  {outcome:<22} {count:>7}")
    lines += [
        "",
        f"not the documented answer: {report.not_accepted}",
        *(f"  {kind}: {outcome}: {shown!r}" for kind, outcome, shown in report.rejected_samples),
        f"honest client: sent {report.honest_sent}, received {report.honest_received}, "
        f"acks {report.honest_acks}, lost {len(report.honest_lost)}, "
        f"duplicates {report.honest_duplicates}, stray {report.honest_stray}, "
        f"closed {report.honest_closed or 'no'}",
    ]
    if memory:
        lines.append("memory: " + ", ".join(f"{k} {v / KIB:,.0f} KiB" for k, v in memory.items()))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=6, help="hostile clients at once")
    parser.add_argument("--frames", type=int, default=2000, help="hostile frames per client")
    parser.add_argument("--seconds", type=float, default=120.0, help="time bound of each soak")
    parser.add_argument("--rounds", type=int, default=1, help="soaks in a row (memory trend)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--tracemalloc", action="store_true", help="measure Python allocations (slower)"
    )
    args = parser.parse_args(argv)

    ok = True
    with bundled_service() as service:
        if args.tracemalloc:
            tracemalloc.start()
        # Warm-up: the first requests fill caches (imports, botocore models, moto) for good.
        asyncio.run(run_soak(service.url, clients=1, frames_per_client=len(KIND_WEIGHTS), seed=-1))
        memory = {"rss trimmed before": trimmed_rss_bytes()}
        if args.tracemalloc:
            memory["traced before"] = traced_bytes()
        for round_number in range(args.rounds):
            report = asyncio.run(
                run_soak(
                    service.url,
                    clients=args.clients,
                    frames_per_client=args.frames,
                    seed=args.seed + 1000 * round_number,
                    seconds=args.seconds,
                )
            )
            deadline = time.monotonic() + 10
            while service.connection_count() and time.monotonic() < deadline:
                time.sleep(0.05)  # the last $disconnects
            memory["rss after"] = rss_bytes()
            memory["rss trimmed after"] = trimmed_rss_bytes()
            if args.tracemalloc:
                memory["traced after"] = traced_bytes()
            print(f"round {round_number + 1} of {args.rounds}, records left: ", end="")
            print(service.record_count())
            print(format_report(report, memory), end="\n\n", flush=True)
            ok = ok and report.not_accepted == 0 and not report.honest_lost
            ok = ok and report.honest_closed is None
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

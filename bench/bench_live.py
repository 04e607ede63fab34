"""Benchmark: live co-authoring across two `quire serve` processes on PostgreSQL.

Twenty co-authors (ten on each process) edit one packet over websockets, each
in a section of their own. Measured, in one run:

1. edit-to-peer latency across processes: from a keystroke of a co-author
   on one process to each co-author on the *other* process receiving the
   `event` that carries it (p50, p99), at 50 and at 200 edits/s offered
   (open loop, spread over the co-authors). Each client behaves like a real
   co-editing client: one edit in flight, keystrokes typed meanwhile are
   composed into the next edit (sent on the ack), and their latency counts
   from the first of them;
2. acknowledged edits/s at saturation (closed loop: each co-author keeps
   `--in-flight` edits outstanding);
3. beside each, a raw LISTEN/NOTIFY round trip (psycopg, one connection
   NOTIFYs, another LISTENs) at the same rate, and raw round trips/s flat out.

The client process's own pauses would be counted as latency: its clients
keep no message history, and its garbage collector is held off while a
rate is measured (collected between rates); a full collection over the
client's objects took 80-160 ms and showed up as the servers' p99.

`--worker` also runs `quire worker` (the projections), as deployed.

Run: `.venv/bin/python bench/bench_live.py` (QUIRE_BENCH_POSTGRES_URL picks the
server; default postgresql://postgres@127.0.0.1:5432/test). A fresh schema is
created and dropped. Target: p99 <= 50 ms at 200 edits/s.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from live_common import (
    Stack,
    collector_held_off,
    pct,
    raw_notify,
)
from live_common import set_up as set_up_stack

from tests.e2e.live_client import LiveClient, op
from workspace.commands import AddSection


# ------------------------------------------------------------------ set-up
def set_up(coauthors: int, servers: int, home: Path, worker: bool) -> Stack:
    """One packet, a section per co-author, `servers` processes."""

    def populate(app: Any, stack: Stack) -> None:
        users = [f"author{i:02d}" for i in range(coauthors)]
        for user in users:
            stack.tokens[user] = app.add_user(user, user.title(), roles=[])
        owner = app.get_user(users[0]).principal()
        packet = app.open_packet(
            owner,
            kind="recovery-plan",
            title="Maintenance-window recovery plan",
            release_owner=users[0],
            authors=users,
            reviewers=[],
        )
        for user in users:
            app.execute(
                packet.id, owner, AddSection(heading=f"Notes of {user}", text="")
            )
        stack.packet_id = str(packet.id)

    return set_up_stack(home, servers, worker, populate)


# ------------------------------------------------------------------- live
@dataclass
class Author:
    user: str
    section: str
    server: int
    client: LiveClient
    seq: int = 0
    latest: int = 0
    acked: int = 0
    in_flight: int = 0
    #: Keystrokes typed while an edit was in flight, and when the first was.
    buffered: int = 0
    buffered_since: float = 0.0


class Run:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.authors: list[Author] = []
        self.sent: dict[tuple[str, int], tuple[float, int]] = {}
        self.peer_latency: list[float] = []
        self.ack_latency: list[float] = []
        self.recording = False
        self.acks = asyncio.Condition()
        self.errors: list[dict[str, Any]] = []
        self.readers: list[asyncio.Task[None]] = []

    async def connect(self) -> None:
        users = sorted(self.stack.tokens)
        for i, user in enumerate(users):
            server = i % len(self.stack.servers)
            port = self.stack.servers[server][1]
            client = await LiveClient.open(
                f"ws://127.0.0.1:{port}",
                self.stack.packet_id,
                self.stack.tokens[user],
                keep=False,
            )
            author = Author(user, f"sec-{i + 1}", server, client)
            author.latest = client.subscribed_version
            self.authors.append(author)
            self.readers.append(asyncio.create_task(self.consume(author)))

    async def consume(self, author: Author) -> None:
        while True:
            message = await author.client.inbox.get()
            now = time.perf_counter()
            kind = message["type"]
            if kind == "event":
                author.latest = max(author.latest, message["version"])
                key = (message.get("client_id"), message.get("client_seq"))
                sent = self.sent.get(key)  # type: ignore[arg-type]
                if sent is not None and self.recording and sent[1] != author.server:
                    self.peer_latency.append(now - sent[0])
            elif kind == "ack":
                author.latest = max(author.latest, message["version"])
                sent = self.sent.get((author.user, message["client_seq"]))
                if sent is not None and self.recording:
                    self.ack_latency.append(now - sent[0])
                author.acked += 1
                author.in_flight -= 1
                if author.buffered:
                    await self.flush(author)
                async with self.acks:
                    self.acks.notify_all()
            elif kind in ("error", "conflict"):
                self.errors.append(message)
                author.in_flight -= 1
                async with self.acks:
                    self.acks.notify_all()

    async def send(
        self, author: Author, keystrokes: int = 1, typed_at: float | None = None
    ) -> None:
        author.seq += 1
        author.in_flight += 1
        typed = typed_at if typed_at is not None else time.perf_counter()
        self.sent[(author.user, author.seq)] = (typed, author.server)
        await author.client.send(
            op(
                author.section,
                author.latest,
                [{"at": 0, "delete": 0, "insert": "ab" * keystrokes}],
                client_id=author.user,
                client_seq=author.seq,
            )
        )

    async def keystroke(self, author: Author) -> None:
        """Like a real co-editing client (ShareDB-style): one edit in flight;
        what is typed meanwhile is composed into the next edit, sent on the
        ack. Latency counts from the first keystroke an edit carries."""
        if author.in_flight == 0:
            await self.send(author)
        else:
            if not author.buffered:
                author.buffered_since = time.perf_counter()
            author.buffered += 1

    async def flush(self, author: Author) -> None:
        keystrokes, author.buffered = author.buffered, 0
        await self.send(author, keystrokes, author.buffered_since)

    async def settle(self, timeout: float = 30.0) -> None:
        try:
            async with self.acks:
                await asyncio.wait_for(
                    self.acks.wait_for(
                        lambda: all(
                            a.in_flight <= 0 and not a.buffered for a in self.authors
                        )
                    ),
                    timeout,
                )
        except TimeoutError:
            stuck = {a.user: a.in_flight for a in self.authors if a.in_flight > 0}
            raise SystemExit(f"edits never acknowledged: {stuck}") from None
        await asyncio.sleep(0.3)  # let the last events reach the peers

    async def open_loop(self, rate: float, seconds: float) -> None:
        self.peer_latency.clear()
        self.ack_latency.clear()
        self.recording = True
        total = int(rate * seconds)
        start = time.perf_counter()
        for n in range(total):
            pause = start + n / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await self.keystroke(self.authors[n % len(self.authors)])
        await self.settle()
        self.recording = False

    async def saturate(self, seconds: float, in_flight: int) -> float:
        before = sum(a.acked for a in self.authors)
        stop = time.perf_counter() + seconds

        async def keep_busy(author: Author) -> None:
            while time.perf_counter() < stop:
                while author.in_flight < in_flight:
                    await self.send(author)
                async with self.acks:
                    await self.acks.wait_for(lambda: author.in_flight < in_flight)

        start = time.perf_counter()
        await asyncio.gather(*(keep_busy(a) for a in self.authors))
        await self.settle()
        elapsed = time.perf_counter() - start
        return (sum(a.acked for a in self.authors) - before) / elapsed


async def main_async(stack: Stack, args: argparse.Namespace) -> None:
    run = Run(stack)
    await run.connect()
    await run.open_loop(20, 1.0)  # warm-up
    print(
        f"{len(run.authors)} co-authors on {len(stack.servers)} processes, "
        f"one packet, {args.seconds:.0f} s per rate"
        + (", a projection worker running" if stack.worker else "")
        + "\n"
    )
    header = (
        f"{'rate':>10} | {'peer p50':>9} {'peer p99':>9} {'ack p50':>8} "
        f"{'ack p99':>8} | {'raw p50':>8} {'raw p99':>8} | {'p99/raw p99':>11}"
    )
    print(header)
    print("-" * len(header))
    for rate in args.rates:
        with collector_held_off():
            await run.open_loop(rate, args.seconds)
        raw, _ = await asyncio.to_thread(raw_notify, rate, int(rate * 2))
        peer99, raw99 = pct(run.peer_latency, 0.99), pct(raw, 0.99)
        print(
            f"{rate:>6.0f} e/s | {pct(run.peer_latency, 0.5):>7.1f}ms "
            f"{peer99:>7.1f}ms {pct(run.ack_latency, 0.5):>6.1f}ms "
            f"{pct(run.ack_latency, 0.99):>6.1f}ms | {pct(raw, 0.5):>6.2f}ms "
            f"{raw99:>6.2f}ms | {peer99 / raw99:>10.0f}x"
        )
        print(
            f"{'':>10}   samples: {len(run.peer_latency)} peer deliveries, "
            f"{len(run.ack_latency)} acks; target p99 <= 50 ms: "
            f"{'met' if peer99 <= 50 else 'NOT met'}"
        )
    with collector_held_off():
        rate = await run.saturate(args.seconds, args.in_flight)
    _, raw_rate = await asyncio.to_thread(raw_notify, None, 2000)
    print(
        f"\nsaturation ({args.in_flight} in flight per co-author): "
        f"{rate:.0f} acknowledged edits/s; raw NOTIFY round trips: "
        f"{raw_rate:.0f}/s (ratio {rate / raw_rate:.3f})"
    )
    if run.errors:
        codes = statistics.multimode([e.get("code", e["type"]) for e in run.errors])
        print(f"errors/conflicts: {len(run.errors)} (most common: {codes})")
    for author in run.authors:
        await author.client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coauthors", type=int, default=20)
    parser.add_argument("--servers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0])
    parser.add_argument("--in-flight", type=int, default=1)
    parser.add_argument(
        "--worker",
        action="store_true",
        help="also run `quire worker` (projections) beside the servers",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quire-bench-") as tmp:
        stack = set_up(args.coauthors, args.servers, Path(tmp), args.worker)
        try:
            asyncio.run(main_async(stack, args))
        finally:
            stack.close()


if __name__ == "__main__":
    main()

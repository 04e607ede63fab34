"""Benchmark: many co-authors in ONE section (issue 18's workload).

One packet, one section of about 2,000 characters in three paragraphs; two
`quire serve` processes on one PostgreSQL; 20 clients on the live channel,
clients 0-9 on process 1 and 10-19 on process 2. Each client keeps its own
copy of the section by applying the `event`s it receives, in version order,
and types unique short tokens (`[writer.n]`) at a cursor of its own, which it
moves over other writers' inserts (the server puts an insert that ties with
an earlier one after it, so a writer's tokens stay in the order typed).

1. Latency: client 0 types at a fixed pace (50/s, then 200/s) at an advancing
   cursor in the middle of the text; one op in flight, tokens typed meanwhile
   composed into the next op (sent on the ack). Client 10 (the other process)
   and all 19 peers timestamp each token's arrival: p50/p95/p99/max from
   typing, lost and duplicated tokens.
2. Saturation: 4 writers (clients 0, 1 on process 1; 10, 11 on process 2),
   each at its own cursor, each sending its next op only on the previous
   one's ack: acked ops/s, ack p50/p99.
3. Convergence (a correctness check; the exit status is 1 if it fails): all
   clients' texts and a fresh read through each process are equal; every
   acked token appears exactly once; each writer's tokens are in the order
   typed; with the tokens taken out, the original text is intact.
4. Across packets: 50 packets, 4 writers each (2 per process), closed loop
   as in 2; total acked ops/s against the single-packet figure, the CPU
   time each part spent per acked op (each server, this process's clients,
   every PostgreSQL process: read from /proc) with the rate the machine's
   cores would cap it at, and the same convergence check for every packet.

Beside each figure, baselines measured in the same run: a raw LISTEN/NOTIFY
round trip (psycopg) at the same rate, and 4 connections doing INSERT+COMMIT
flat out (plain, and as the event recorder does it: LOCK TABLE ... IN
EXCLUSIVE MODE, NOTIFY, INSERT, COMMIT).

Run: `.venv/bin/python bench/bench_contention.py` (`--seconds 3` for a short
run; QUIRE_BENCH_POSTGRES_URL picks the server). A fresh schema is created
and dropped. Targets (issue 18, reference machine, quiet): p99 edit-to-peer at
200 edits/s <= 8 ms and p50 <= 3 ms; >= 450 acked ops/s with 4 one-in-flight
writers; across 50 packets, at least 3x the single-packet figure.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from live_common import (
    CpuShare,
    Stack,
    collector_held_off,
    pct,
    raw_insert_commit,
    raw_notify,
)
from live_common import set_up as set_up_stack

from tests.e2e.live_client import LiveClient, op
from workspace.commands import AddSection

TOKEN = re.compile(r"\[(\d+)\.(\d+)\]")

SENTENCES = [
    "The maintenance window opens at two in the morning, local time.",
    "Traffic is drained from the primary region before any change is made.",
    "Each step is checked against the runbook and signed off by the operator.",
    "If replication lag exceeds thirty seconds, the change is paused.",
    "The database is snapshotted before the schema migration starts.",
    "Rollback restores the snapshot and replays the queued writes.",
    "Customers are told of the window a week ahead, and again a day before.",
    "The on-call engineer watches error rates and latency throughout.",
]


def original_text(size: int = 2000) -> str:
    """About `size` characters of plain text in three paragraphs."""
    paragraphs: list[str] = []
    n = 0
    for _ in range(3):
        words: list[str] = []
        while len(" ".join(words)) < size // 3 - 40:
            words.append(SENTENCES[n % len(SENTENCES)])
            n += 1
        paragraphs.append(" ".join(words))
    return "\n\n".join(paragraphs)


# ------------------------------------------------------------------ set-up
def set_up(home: Path, servers: int, worker: bool, clients: int, packets: int) -> Stack:
    """Packet A (one section, `clients` users); `packets` more packets of the
    same section for the across-packets phase (writers: the first 4 users)."""
    text = original_text()

    def populate(app: Any, stack: Stack) -> None:
        users = [f"client{i:02d}" for i in range(clients)]
        for user in users:
            stack.tokens[user] = app.add_user(user, user.title(), roles=[])
        owner = app.get_user(users[0]).principal()

        def make(title: str, authors: list[str]) -> tuple[str, str]:
            packet = app.open_packet(
                owner,
                kind="recovery-plan",
                title=title,
                release_owner=users[0],
                authors=authors,
                reviewers=[],
            )
            app.execute(packet.id, owner, AddSection(heading="Runbook", text=text))
            section = next(iter(app.get_packet(packet.id).sections))
            return str(packet.id), str(section)

        stack.packet_id, stack.extra["section"] = make("One section", users)
        stack.extra["packets"] = [
            make(f"Packet {k}", users[:4]) for k in range(packets)
        ]
        stack.extra["text"] = text

    return set_up_stack(home, servers, worker, populate)


# ------------------------------------------------------------------- clients
@dataclass
class Editor:
    """One live client with its own copy of one section."""

    name: str
    writer: int  # the first number of its tokens
    server: int
    user: str
    client: LiveClient
    packet: str
    section: str
    text: str
    version: int
    cursor: int = 0
    seq: int = 0
    in_flight: int = 0
    buffer: list[str] = field(default_factory=list)
    #: client_seq -> (sent at, tokens it carries)
    sent: dict[int, tuple[float, list[str]]] = field(default_factory=dict)
    acked: list[str] = field(default_factory=list)
    ack_latency: list[float] = field(default_factory=list)
    #: token -> [times seen, first arrival]
    seen: dict[str, list[float]] = field(default_factory=dict)
    gaps: int = 0
    duplicate_events: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    #: Closed loop: send the next token on each ack until this time.
    loop_until: float = 0.0
    typed: int = 0
    #: `typed` when each cursor was placed: the tokens typed from a cursor
    #: must stay in the order typed.
    runs: list[int] = field(default_factory=list)

    def place(self, cursor: int) -> None:
        self.cursor = cursor
        self.runs.append(self.typed)

    def new_token(self) -> str:
        self.typed += 1
        return f"[{self.writer}.{self.typed}]"


class Bench:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.typed_at: dict[str, float] = {}
        self.readers: list[asyncio.Task[None]] = []

    async def open(
        self, user: str, name: str, writer: int, server: int, packet: str, section: str
    ) -> Editor:
        client = await LiveClient.open(
            f"ws://127.0.0.1:{self.stack.servers[server][1]}",
            packet,
            self.stack.tokens[user],
            keep=False,
            timeout=30,
        )
        version = client.subscribed_version
        async with httpx.AsyncClient(base_url=self.stack.base(server)) as http:
            body = (
                await http.get(
                    f"/v1/packets/{packet}",
                    params={"version": version},
                    headers={"Authorization": f"Bearer {self.stack.tokens[user]}"},
                )
            ).json()
        text = next(s["text"] for s in body["sections"] if s["id"] == section)
        editor = Editor(
            name, writer, server, user, client, packet, section, text, version
        )
        self.readers.append(asyncio.create_task(self.consume(editor)))
        return editor

    async def consume(self, ed: Editor) -> None:
        try:
            await self._consume(ed)
        except Exception as e:
            print(f"client {ed.name} stopped reading: {e!r}", file=sys.stderr)
            raise

    async def _consume(self, ed: Editor) -> None:
        while True:
            message = await ed.client.inbox.get()
            now = time.perf_counter()
            kind = message["type"]
            if kind == "event":
                self.apply(ed, message, now)
            elif kind == "ack":
                sent = ed.sent.pop(message["client_seq"], None)
                if sent is not None:
                    ed.ack_latency.append(now - sent[0])
                    ed.acked.extend(sent[1])
                ed.in_flight = 0
                if ed.buffer:
                    tokens, ed.buffer = ed.buffer, []
                    await self.send(ed, tokens)
                elif now < ed.loop_until:
                    await self.send(ed, [ed.new_token()])
            elif kind in ("error", "conflict"):
                ed.errors.append(message)
                ed.sent.pop(message.get("client_seq", -1), None)
                ed.in_flight = 0

    def apply(self, ed: Editor, message: dict[str, Any], now: float) -> None:
        version = message["version"]
        if version <= ed.version:
            ed.duplicate_events += 1
            return
        if version != ed.version + 1:
            ed.gaps += 1
        ed.version = version
        data = message["data"]
        if (
            message["event_type"] != "SectionTextEdited"
            or data.get("section_id") != ed.section
        ):
            return
        ops = data["ops"]
        parts: list[str] = []
        at = 0
        shift = 0
        for o in ops:  # positions are on the text before the event
            parts.append(ed.text[at : o["at"]])
            parts.append(o["insert"])
            at = o["at"] + o["delete"]
            if o["at"] < ed.cursor:
                shift += len(o["insert"]) - min(o["delete"], ed.cursor - o["at"])
            for writer, n in TOKEN.findall(o["insert"]):
                token = f"[{writer}.{n}]"
                entry = ed.seen.get(token)
                if entry is None:
                    ed.seen[token] = [1, now]
                else:
                    entry[0] += 1
        parts.append(ed.text[at:])
        ed.text = "".join(parts)
        if message.get("client_id") == ed.name and len(ops) == 1:
            ed.cursor = ops[0]["at"] + len(ops[0]["insert"])
        else:
            ed.cursor += shift

    async def send(self, ed: Editor, tokens: list[str]) -> None:
        ed.seq += 1
        ed.in_flight = 1
        ed.sent[ed.seq] = (time.perf_counter(), tokens)
        await ed.client.send(
            op(
                ed.section,
                ed.version,
                [{"at": ed.cursor, "delete": 0, "insert": "".join(tokens)}],
                client_id=ed.name,
                client_seq=ed.seq,
            )
        )

    async def keystroke(self, ed: Editor) -> None:
        token = ed.new_token()
        self.typed_at[token] = time.perf_counter()
        if ed.in_flight:
            ed.buffer.append(token)
        else:
            await self.send(ed, [token])

    async def type_at(self, ed: Editor, rate: float, seconds: float) -> list[str]:
        """Types tokens at a fixed pace; returns them."""
        tokens: list[str] = []
        total = int(rate * seconds)
        start = time.perf_counter()
        for n in range(total):
            pause = start + n / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
            await self.keystroke(ed)
            tokens.append(f"[{ed.writer}.{ed.typed}]")
        return tokens

    async def closed_loop(self, writers: list[Editor], seconds: float) -> float:
        """Each writer sends its next token on each ack; acked ops/s."""
        before = sum(len(w.ack_latency) for w in writers)
        start = time.perf_counter()
        for w in writers:
            w.loop_until = start + seconds
        for w in writers:
            await self.send(w, [w.new_token()])
        await self.settle(writers, [])
        elapsed = time.perf_counter() - start
        return (sum(len(w.ack_latency) for w in writers) - before) / elapsed

    async def settle(
        self, writers: list[Editor], readers: list[Editor], timeout: float = 60
    ) -> None:
        """Until no edit is in flight, and every client has every event."""
        deadline = time.perf_counter() + timeout
        everyone = writers + readers

        def behind() -> bool:
            latest: dict[str, int] = {}
            for e in everyone:
                latest[e.packet] = max(latest.get(e.packet, 0), e.version)
            return any(e.version < latest[e.packet] for e in everyone)

        while any(w.in_flight or w.buffer for w in writers) or behind():
            if time.perf_counter() > deadline:
                stuck = [w.name for w in writers if w.in_flight or w.buffer]
                versions = sorted({e.version for e in everyone})
                for e in everyone:
                    closed = e.client.closed.result() if e.client.closed.done() else ""
                    print(f"  {e.name}: version {e.version} {closed}", file=sys.stderr)
                raise SystemExit(
                    f"never settled: in flight {stuck}, versions {versions}"
                )
            await asyncio.sleep(0.01)
        # The last event may still be on its way to someone whose version
        # matched already: one more look after a short wait.
        await asyncio.sleep(0.2)


# ---------------------------------------------------------------- checking
def converged(
    stack: Stack, original: str, editors: list[Editor], writers: list[Editor]
) -> list[str]:
    """What is wrong with one section's final state (nothing: [])."""
    problems: list[str] = []
    first = editors[0]
    texts = {e.name: e.text for e in editors}
    for server in range(len(stack.servers)):
        user = first.user
        response = httpx.get(
            f"{stack.base(server)}/v1/packets/{first.packet}",
            headers={"Authorization": f"Bearer {stack.tokens[user]}"},
            timeout=30,
        )
        body = response.json()
        texts[f"read via process {server + 1}"] = next(
            s["text"] for s in body["sections"] if s["id"] == first.section
        )
    reference = texts["read via process 1"]
    differing = [name for name, text in texts.items() if text != reference]
    if differing:
        problems.append(f"texts differ from a fresh read: {differing}")
    for e in editors:
        if e.gaps or e.duplicate_events:
            problems.append(
                f"{e.name}: {e.gaps} version gaps, {e.duplicate_events} repeated events"
            )
    counts: dict[str, int] = {}
    order: dict[int, list[int]] = {}
    for writer, n in TOKEN.findall(reference):
        counts[f"[{writer}.{n}]"] = counts.get(f"[{writer}.{n}]", 0) + 1
        order.setdefault(int(writer), []).append(int(n))
    for w in writers:
        missing = [t for t in w.acked if counts.get(t, 0) == 0]
        doubled = [t for t in w.acked if counts.get(t, 0) > 1]
        if missing or doubled:
            problems.append(
                f"{w.name}: {len(missing)} acked tokens missing, "
                f"{len(doubled)} duplicated (e.g. {(missing + doubled)[:3]})"
            )
    acked = {t for w in writers for t in w.acked}
    unacked = [t for t in counts if t not in acked]
    if unacked:
        problems.append(f"{len(unacked)} tokens present but never acked: {unacked[:3]}")
    by_writer = {w.writer: w for w in writers}
    for writer, ns in order.items():
        runs = by_writer[writer].runs if writer in by_writer else [0]
        wrong = [
            (a, b)
            for a, b in itertools.pairwise(ns)
            if b < a and bisect.bisect_left(runs, a) == bisect.bisect_left(runs, b)
        ]
        if wrong:
            problems.append(
                f"writer {writer}'s tokens are not in the order typed: "
                f"{len(wrong)} inversions, e.g. {wrong[:5]}"
            )
    if TOKEN.sub("", reference) != original:
        problems.append("the original text is not intact once tokens are removed")
    return problems


def cursor_at(text: str, fraction: float) -> int:
    """Just after the space that is `fraction` of the way through the
    text's spaces (tokens hold none, so the same spot of the original
    text whatever was typed before)."""
    spaces = [i for i, c in enumerate(text) if c == " "]
    return spaces[int(len(spaces) * fraction)] + 1


def latency_of(
    tokens: list[str], typed_at: dict[str, float], peers: list[Editor]
) -> tuple[list[float], int, int]:
    """Arrival latencies at `peers` of `tokens`; (latencies, lost, duplicated)."""
    latencies: list[float] = []
    lost = duplicated = 0
    for peer in peers:
        for token in tokens:
            entry = peer.seen.get(token)
            if entry is None:
                lost += 1
                continue
            if entry[0] > 1:
                duplicated += 1
            latencies.append(entry[1] - typed_at[token])
    return latencies, lost, duplicated


def ratio(value: float, base: float) -> str:
    if not base:
        return "-"
    return f"{value / base:.2f}x" if value < base else f"{value / base:.1f}x"


def row(figure: str, value: str, baseline: str, ratio_: str, target: str) -> None:
    print(f"{figure:<44} {value:>22} {baseline:>22} {ratio_:>8}  {target}")


# -------------------------------------------------------------------- run
async def main_async(stack: Stack, args: argparse.Namespace) -> int:
    bench = Bench(stack)
    original: str = stack.extra["text"]
    section: str = stack.extra["section"]
    half = args.clients // 2
    clients = [
        await bench.open(
            f"client{i:02d}",
            f"c{i}",
            i,
            0 if i < half else 1,
            stack.packet_id,
            section,
        )
        for i in range(args.clients)
    ]
    typist, listener = clients[0], clients[half]
    peers = clients[1:]
    typist.place(cursor_at(original, 0.5))  # the middle of the text
    print(
        f"{len(clients)} clients on {len(stack.servers)} processes, one section of "
        f"{len(original)} characters; {args.seconds:g} s per phase"
        + (", a projection worker running" if stack.worker else "")
    )

    # warm-up (not measured, but checked for convergence)
    await bench.type_at(typist, 20, 1.0)
    await bench.settle([typist], peers)

    # 1. latency: 50/s then 200/s, back to back
    typed: dict[float, list[str]] = {}
    with collector_held_off():
        for rate in args.rates:
            typed[rate] = await bench.type_at(typist, rate, args.seconds)
        await bench.settle([typist], peers)
    raw = {
        rate: (await asyncio.to_thread(raw_notify, rate, int(rate * 2)))[0]
        for rate in args.rates
    }

    # 2. saturation: 4 writers at cursors of their own
    writers = [clients[0], clients[1], clients[half], clients[half + 1]]
    text = typist.text
    for w, fraction in zip(writers, (0.15, 0.35, 0.65, 0.85), strict=True):
        w.place(cursor_at(text, fraction))
    for w in writers:
        w.ack_latency.clear()
    with collector_held_off():
        one_packet = await bench.closed_loop(writers, args.seconds)
    saturation_acks = [x for w in writers for x in w.ack_latency]
    await bench.settle(writers, clients)

    insert4, insert4_lat = await asyncio.to_thread(raw_insert_commit, 4, 3.0)
    locked4, locked4_lat = await asyncio.to_thread(raw_insert_commit, 4, 3.0, True)
    _, notify_rate = await asyncio.to_thread(raw_notify, None, 1000)

    # 3. convergence of the one section
    problems = converged(stack, original, clients, clients)

    # 4. across packets
    many: list[list[Editor]] = []
    for k, (packet, sec) in enumerate(stack.extra["packets"]):
        group = [
            await bench.open(
                f"client{j:02d}", f"p{k}w{j}", 1000 + 4 * k + j, j // 2, packet, sec
            )
            for j in range(4)
        ]
        for w, fraction in zip(group, (0.15, 0.35, 0.65, 0.85), strict=True):
            w.place(cursor_at(w.text, fraction))
        many.append(group)
    across = 0.0
    across_acks: list[float] = []
    cpu = CpuShare([p.pid for p, _ in stack.servers])
    if many:
        everyone = [w for group in many for w in group]
        with collector_held_off():
            cpu.start()
            across = await bench.closed_loop(everyone, args.seconds)
            cpu.stop()
        across_acks = [x for w in everyone for x in w.ack_latency]
        for group in many:
            await bench.settle(group, group)
            problems += [
                f"packet {group[0].packet[:8]}: {p}"
                for p in converged(stack, original, group, group)
            ]

    # ------------------------------------------------------------ report
    print(
        f"\n{'figure':<44} {'measured':>22} {'raw baseline':>22} {'ratio':>8}  target"
    )
    print("-" * 118)
    lost_total = dup_total = 0
    for rate in args.rates:
        for who, group in (
            ("client 10 (other process)", [listener]),
            ("all 19 peers", peers),
        ):
            lat, lost, dup = latency_of(typed[rate], bench.typed_at, group)
            lost_total += lost
            dup_total += dup
            target = ""
            if rate == 200 and who.startswith("client"):
                ok = pct(lat, 0.99) <= 8 and pct(lat, 0.5) <= 3
                target = f"p50<=3, p99<=8 ms: {'met' if ok else 'NOT met'}"
            row(
                f"{rate:g}/s edit-to-peer, {who}, p50/p95/p99/max",
                "/".join(f"{pct(lat, q):.1f}" for q in (0.5, 0.95, 0.99, 1.0)) + " ms",
                f"NOTIFY {pct(raw[rate], 0.5):.2f}/{pct(raw[rate], 0.99):.2f} ms",
                ratio(pct(lat, 0.99), pct(raw[rate], 0.99)),
                target,
            )
            print(
                f"{'':<4}{len(typed[rate])} tokens typed, {len(lat)} arrivals, "
                f"lost {lost}, duplicated {dup}"
            )
    row(
        "acked ops/s, 4 one-in-flight writers, 1 section",
        f"{one_packet:,.0f}/s",
        f"INSERT+COMMIT {insert4:,.0f}/s",
        ratio(one_packet, insert4),
        f">= 450: {'met' if one_packet >= 450 else 'NOT met'}",
    )
    row(
        "",
        "",
        f"recorder-like {locked4:,.0f}/s",
        ratio(one_packet, locked4),
        "(LOCK TABLE+NOTIFY+INSERT+COMMIT)",
    )
    row(
        "  ack p50/p99",
        f"{pct(saturation_acks, 0.5):.1f}/{pct(saturation_acks, 0.99):.1f} ms",
        f"commit {pct(insert4_lat, 0.5):.2f}/{pct(insert4_lat, 0.99):.2f} ms",
        ratio(pct(saturation_acks, 0.5), pct(insert4_lat, 0.5)),
        f"(recorder-like {pct(locked4_lat, 0.5):.2f}/{pct(locked4_lat, 0.99):.2f} ms)",
    )
    if many:
        row(
            f"acked ops/s, {len(many)} packets x 4 writers",
            f"{across:,.0f}/s",
            f"INSERT+COMMIT {insert4:,.0f}/s",
            ratio(across, insert4),
            f"{across / one_packet:.2f}x one packet (>= 3x: "
            f"{'met' if across >= 3 * one_packet else 'NOT met'})",
        )
        row(
            "  ack p50/p99",
            f"{pct(across_acks, 0.5):.1f}/{pct(across_acks, 0.99):.1f} ms",
            "",
            "",
            "",
        )
        ops = across * args.seconds
        for part, seconds in cpu.spent.items():
            row(
                f"  CPU per acked op: {part}",
                f"{seconds / ops * 1000:.2f} ms",
                "",
                "",
                "",
            )
        total = sum(cpu.spent.values()) / ops
        cores = os.cpu_count() or 1
        row(
            "  CPU per acked op, in all",
            f"{total * 1000:.2f} ms",
            "",
            "",
            f"{cores} cores: at most ~{cores / total:,.0f} ops/s",
        )
    row("raw NOTIFY round trips/s, one at a time", f"{notify_rate:,.0f}/s", "", "", "")
    errors = [m for e in bench_editors(clients, many) for m in e.errors]
    if errors:
        codes = sorted({str(m.get("code", m["type"])) for m in errors})
        print(f"errors/conflicts answered: {len(errors)} ({', '.join(codes)})")
    if lost_total or dup_total:
        problems.append(f"peers lost {lost_total} and duplicated {dup_total} tokens")
    print(
        "\nconvergence: "
        + (
            "OK (texts equal, every acked token once, original intact)"
            if not problems
            else "FAILED"
        )
    )
    for problem in problems:
        print(f"  {problem}")
    for e in bench_editors(clients, many):
        await e.client.close()
    return 1 if problems else 0


def bench_editors(clients: list[Editor], many: list[list[Editor]]) -> list[Editor]:
    return clients + [w for group in many for w in group]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rates", type=float, nargs="+", default=[50.0, 200.0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--packets", type=int, default=50)
    parser.add_argument(
        "--worker",
        action="store_true",
        help="also run `quire worker` (projections) beside the servers",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quire-bench-") as tmp:
        stack = set_up(Path(tmp), 2, args.worker, args.clients, args.packets)
        try:
            status = asyncio.run(main_async(stack, args))
        finally:
            stack.close()
    sys.exit(status)


if __name__ == "__main__":
    main()

"""Where a live edit's time goes on PostgreSQL (issue 18), in one process.

One writer saves one-token edits of one section the way the live path does
(`LiveHub.packet_lock`: `workspace/pg_saves.saving_on` on a lock connection
of its own, then `Workspace.edit_sections`: load with fast-forward, decide,
save on that connection); a second `Workspace` on its own connections runs
the live feed (`ListenFeed`), as the other `quire serve` process would. Each
step is timed by wrapping it:

- lock: BEGIN, `pg_advisory_xact_lock` and the read of the events the
  packet's cached copy lacks, in one round trip on the lock connection;
- load: `get_packet` (the cache's fast-forward, taking the events the lock
  read, plus the copy);
- decide: the rest of `edit_sections` before the save (the rebase over the
  history this process holds, `workspace/text_history.py`, included);
- insert+commit: the held lock's pipeline (LOCK TABLE ... IN EXCLUSIVE MODE,
  the INSERT with its NOTIFY, COMMIT, which frees the packet's lock);
- save, other: the rest of `save` (serializing the event, snapshots, cache);
- release: leaving `saving_on` (nothing is left to undo after the COMMIT);
- the CPU time of the writer's thread from lock to release, and the
  process's CPU time per edit (writer and feed together);
- then, on the feed's side: from the insert's start (the writer itself learns
  of its COMMIT no sooner than the listener does) to the hand-over to the hub
  (`deliver`), for the events the NOTIFY carried and, apart, for those read
  from the log (the read itself timed too).

Both sides share one Python process (and its GIL), so the hand-overs are a
little cheaper or dearer than across processes; the database steps are not.

Run: `.venv/bin/python bench/profile_live.py [--edits 2000] [--rate 200]`.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_contention import original_text
from live_common import PG_URL, Stack, pct
from live_common import set_up as set_up_stack

from workspace.commands import AddSection


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=2000)
    parser.add_argument(
        "--rate", type=float, default=200.0, help="edits/s; 0: back to back"
    )
    parser.add_argument(
        "--lag",
        type=int,
        default=0,
        choices=[0, 1],
        help="base each edit this many versions back (a client whose own "
        "last edit has been acked but has not come back as an event yet)",
    )
    args = parser.parse_args()

    def populate(app: Any, stack: Stack) -> None:
        stack.tokens["w"] = app.add_user("w", "Writer", roles=[])
        owner = app.get_user("w").principal()
        packet = app.open_packet(
            owner,
            kind="recovery-plan",
            title="Profile",
            release_owner="w",
            authors=["w"],
            reviewers=[],
        )
        app.execute(packet.id, owner, AddSection(heading="S", text=original_text()))
        stack.packet_id = str(packet.id)
        stack.extra["section"] = next(iter(app.get_packet(packet.id).sections))

    with tempfile.TemporaryDirectory(prefix="quire-profile-") as tmp:
        stack = set_up_stack(Path(tmp), 0, False, populate)
        try:
            run(stack, args)
        finally:
            stack.close()


def run(stack: Stack, args: argparse.Namespace) -> None:
    from api.live.feed import ListenFeed
    from api.live.hub import advisory_key
    from api.services import build_services
    from workspace.application import EditRequest
    from workspace.config import Settings, postgres_conninfo
    from workspace.pg_saves import Prefetch, saving_on

    settings = Settings(database_url=stack.url, signing_key_path=stack.home / "k")
    writer = build_services(settings)
    reader = build_services(settings)
    app = writer.app
    steps: dict[str, list[float]] = defaultdict(list)
    current: dict[str, float] = {}

    def timed(obj: Any, name: str, label: str) -> None:
        original = getattr(obj, name)

        def wrapper(*a: Any, **k: Any) -> Any:
            began = time.perf_counter()
            try:
                return original(*a, **k)
            finally:
                current[label] = current.get(label, 0.0) + time.perf_counter() - began

        setattr(obj, name, wrapper)

    timed(app, "get_packet", "load")
    load = app.get_packet

    def get_packet(packet_id: Any, version: int | None = None) -> Any:
        if version is None:
            return load(packet_id)
        began = time.perf_counter()
        try:
            return load(packet_id, version=version)
        finally:
            spent = time.perf_counter() - began
            current["load at base"] = current.get("load at base", 0.0) + spent
            current["load"] = current.get("load", 0.0) - spent

    app.get_packet = get_packet
    timed(app, "save", "save")
    timed(app.recorder, "insert_events", "insert+commit")
    insert = app.recorder.insert_events

    def insert_marking_start(*a: Any, **k: Any) -> Any:
        # The writer learns of its COMMIT after the listener may have (one
        # process, one GIL): the feed's times count from the insert's start.
        current["insert began"] = time.perf_counter()
        return insert(*a, **k)

    app.recorder.insert_events = insert_marking_start

    # The other process's feed: when each read starts, and when it hands over.
    committed: dict[int, float] = {}
    #: version -> (read began, read ended, handed over); no read: carried
    seen: dict[int, tuple[float, float, float] | float] = {}
    read: list[tuple[float, float]] = []
    feed_recorder = reader.app.recorder
    select = feed_recorder.select_notifications

    def timed_select(*a: Any, **k: Any) -> Any:
        began = time.perf_counter()
        try:
            return select(*a, **k)
        finally:
            read.append((began, time.perf_counter()))

    feed_recorder.select_notifications = timed_select

    def deliver(messages: list[dict[str, Any]]) -> None:
        now = time.perf_counter()
        for m in messages:
            seen[m["version"]] = (*read[-1], now) if read else now
        read.clear()

    feed = ListenFeed(
        feed_recorder,
        reader.app.mapper,
        conninfo=postgres_conninfo(stack.url),
        deliver=deliver,
        interested=lambda packet_id: packet_id == stack.packet_id,
        poll_seconds=1.0,
    )
    feed.start()
    feed.listening.wait(10)

    principal = app.get_user("w").principal()
    section = stack.extra["section"]
    key = advisory_key(stack.packet_id)
    packet_uuid = uuid.UUID(stack.packet_id)
    cursor = len(original_text()) // 2
    version = app.get_packet(stack.packet_id).version
    back = 0
    with psycopg.connect(PG_URL, autocommit=True) as lock:
        start = time.perf_counter()
        cpu_start = time.process_time()
        for n in range(args.edits):
            if args.rate:
                pause = start + n / args.rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            current.clear()
            t0 = time.perf_counter()
            c0 = time.thread_time()
            # As LiveHub.packet_lock: the lock's round trip also reads what
            # the cached copy lacks.
            prefetch = Prefetch.of(app, packet_uuid)
            held = saving_on(lock, key, prefetch)
            held.__enter__()
            t1 = time.perf_counter()
            token = f"[0.{n}]"
            result = app.edit_sections(
                stack.packet_id,
                [
                    EditRequest(
                        principal,
                        section,
                        version - (args.lag if back else 0),
                        # Lagging, the previous token is not in the base
                        # text: insert where it went (a tie goes after it).
                        ops=[{"at": cursor - back, "delete": 0, "insert": token}],
                        client_id="w",
                        client_seq=n,
                    )
                ],
            )[0]
            t2 = time.perf_counter()
            held.__exit__(None, None, None)
            t3 = time.perf_counter()
            steps["edit, CPU of the writer's thread"].append(time.thread_time() - c0)
            if n == 0 and not hasattr(result, "version"):
                raise SystemExit(f"the first edit failed: {result!r}")
            cursor += len(token)
            back = len(token) if args.lag and version > 1 else 0
            version = getattr(result, "version", version)
            committed[getattr(result, "version", -1)] = current.get("insert began", t2)
            steps["lock"].append(t1 - t0)
            steps["load"].append(current.get("load", 0.0))
            steps["load at base"].append(current.get("load at base", 0.0))
            steps["insert+commit"].append(current.get("insert+commit", 0.0))
            steps["save, other"].append(
                current.get("save", 0.0) - current.get("insert+commit", 0.0)
            )
            steps["decide"].append(
                t2
                - t1
                - current.get("save", 0.0)
                - current.get("load", 0.0)
                - current.get("load at base", 0.0)
            )
            steps["release"].append(t3 - t2)
            steps["edit, lock to release"].append(t3 - t0)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    deadline = time.perf_counter() + 10
    while len(seen) < len(committed) and time.perf_counter() < deadline:
        time.sleep(0.01)
    feed.stop()
    for version, done in committed.items():
        arrival = seen.get(version)
        if isinstance(arrival, tuple):
            began, ended, handed = arrival
            steps["feed: read from the log"].append(ended - began)
            steps["feed: insert to hand-over, read"].append(handed - done)
        elif arrival is not None:
            steps["feed: insert to hand-over, carried"].append(arrival - done)
    writer.close()
    reader.close()
    print(
        f"{args.edits} one-token edits, {args.edits / elapsed:.0f}/s "
        f"({'back to back' if not args.rate else f'{args.rate:g}/s offered'}); "
        f"{len(seen)} reached the other feed; CPU (this process, writer and "
        f"feed) {cpu / args.edits * 1000:.3f} ms per edit\n"
    )
    print(f"{'step':<36} {'n':>5} {'mean':>8} {'p50':>8} {'p99':>8}  (ms)")
    for name, values in steps.items():
        mean = sum(values) / len(values) * 1000 if values else float("nan")
        print(
            f"{name:<36} {len(values):>5} {mean:>8.3f} "
            f"{pct(values, 0.5):>8.3f} {pct(values, 0.99):>8.3f}"
        )


if __name__ == "__main__":
    main()

"""PostgreSQL: the group save across packets (api/live/group.py,
workspace/pg_saves.py, `Workspace.edit_packets`). One round trip takes the
free locks (never waiting for a held one) and reads what each held packet's
cached copy lacks; one insert and COMMIT saves every batch; a packet locked
elsewhere holds up only itself; a clash saves nothing, then each batch is
saved on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from api.limits import LiveSettings
from api.live.hub import LiveHub, advisory_key
from api.prometheus import REGISTRY
from api.services import Services, build_services
from tests.conftest import database_url_for, drop_pg_schema
from tests.integration.pg_locks import free
from workspace.accounts import Principal
from workspace.application import EditOutcome, Workspace
from workspace.commands import AddSection
from workspace.config import Settings, postgres_conninfo
from workspace.editing import EditRequest
from workspace.errors import EditConflictError, InvalidInputError, QuireError
from workspace.pg_saves import (
    Prefetch,
    _select_after,
    notice_source,
    read_notice,
    saving_on,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(60)]

EDIT = [{"at": 0, "delete": 0, "insert": "x"}]


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    url, schema = database_url_for("postgres", tmp_path)
    settings = Settings(
        database_url=url, signing_key_path=tmp_path / "k.pem", pool_size=4
    )
    services = build_services(settings, create_table=True, role="serve")
    services.app.add_user("ben", "Ben", roles=[])
    try:
        yield services
    finally:
        services.close()
        if schema:
            drop_pg_schema(schema)


def _connect(settings: Settings) -> psycopg.Connection[Any]:
    info = postgres_conninfo(settings.database_url, settings)
    return psycopg.connect(make_conninfo("", **info), autocommit=True)


@pytest.fixture
def other(services: Services) -> Iterator[psycopg.Connection[Any]]:
    """Another process's connection: it holds locks with session locks."""
    conn = _connect(services.settings)
    yield conn
    conn.close()


def _ben(app: Workspace) -> Principal:
    return app.get_user("ben").principal()


def _packets(app: Workspace, count: int) -> list[tuple[str, str]]:
    ben, made = _ben(app), []
    for n in range(count):
        opened = app.open_packet(
            ben,
            kind="service-credit-clarification",
            title=f"Credits {n}",
            release_owner="ben",
            authors=["ben"],
            reviewers=[],
        )
        pid = str(opened.id)
        sid = app.execute(pid, ben, AddSection(heading="Terms", text="C.")).result
        made.append((pid, sid))
    return made


def _edit(app: Workspace, sid: str, base: int, seq: int) -> EditRequest:
    return EditRequest(_ben(app), sid, base, ops=EDIT, client_id="c", client_seq=seq)


def _our_notices(listener: psycopg.Connection[Any], app: Workspace) -> list[list[int]]:
    """The ids of each save's NOTIFY from this app's table, until quiet."""
    saves: list[list[int]] = []
    for note in listener.notifies(timeout=1):
        found = read_notice(note.payload, notice_source(app.recorder))
        if found is not None:
            saves.append(found[0])
    return saves


def test_a_group_hold_takes_the_free_locks_and_saves_their_batches_at_once(
    services: Services, other: psycopg.Connection[Any]
) -> None:
    app = services.app
    (a, sa), (b, _), (c, sc) = _packets(app, 3)
    keys = [advisory_key(p) for p in (a, b, c)]
    other.execute("SELECT pg_advisory_lock(%s, %s)", keys[1])  # b: held elsewhere
    listener = _connect(services.settings)
    listener.execute(f"LISTEN {app.recorder.channel_name}")
    holder = _connect(services.settings)
    try:
        with saving_on(holder, None, None, [(k, None) for k in keys]) as held:
            # Not waiting for b: a blocking lock would hang here.
            assert held.taken == [True, False, True]
            results = app.edit_packets(
                [(a, [_edit(app, sa, 2, 1)]), (c, [_edit(app, sc, 2, 1)])]
            )
            assert results is not None
            assert [r.version for (r,) in results] == [3, 3]  # type: ignore[union-attr]
        # One insert, one COMMIT: both events in one NOTIFY, both locks free.
        saves = _our_notices(listener, app)
        assert len(saves) == 1 and len(saves[0]) == 2
        assert free(holder, keys[0]) and free(holder, keys[2])
        assert not free(holder, keys[1])
    finally:
        holder.close()
        listener.close()
    assert app.get_packet(a).sections[sa]["text"] == "xC."
    assert app.get_packet(c).sections[sc]["text"] == "xC."


def test_a_group_answers_each_edit_as_a_batch_alone_would(
    services: Services, other: psycopg.Connection[Any]
) -> None:
    """A kept conflict is answered as a conflict, a refusal as itself, in
    its own packet's batch; nothing of one batch reaches another."""
    app = services.app
    (a, sa), (c, sc) = _packets(app, 2)
    ben = _ben(app)
    replace = [{"at": 0, "delete": 1, "insert": "D"}]
    holder = _connect(services.settings)
    try:
        keys = [(advisory_key(p), None) for p in (a, c)]
        with saving_on(holder, None, None, keys):
            results = app.edit_packets(
                [
                    (
                        a,
                        [
                            EditRequest(ben, sa, 2, ops=replace),
                            EditRequest(
                                ben, sa, 2, ops=[{**replace[0], "insert": "E"}]
                            ),
                            EditRequest(ben, sa, 2, ops=EDIT, text="both"),
                        ],
                    ),
                    (c, [_edit(app, sc, 2, 1)]),
                    ("not-a-packet", [_edit(app, sc, 2, 2)]),
                ]
            )
    finally:
        holder.close()
    assert results is not None
    (replaced, overlapping, malformed), (plain,), (missing,) = results
    assert isinstance(replaced, EditOutcome) and replaced.version == 3
    assert isinstance(overlapping, EditConflictError)
    assert overlapping.details["conflict_id"]
    assert isinstance(malformed, InvalidInputError)
    assert malformed.code == "EDIT_MALFORMED"
    assert isinstance(plain, EditOutcome) and plain.version == 3
    assert isinstance(missing, QuireError) and "NOT_FOUND" in missing.code
    assert app.get_packet(a).sections[sa]["text"] == "D."
    assert app.get_packet(c).sections[sc]["text"] == "xC."


def test_a_group_hold_reads_what_each_held_cached_copy_lacks(
    services: Services, other: psycopg.Connection[Any]
) -> None:
    app = services.app
    made = _packets(app, 3)
    (a, sa), (b, _), (c, sc) = made
    bystander = Workspace({}, settings=services.settings)  # another process
    try:
        for pid, sid in made:
            app.get_packet(pid)  # cached at version 2
            bystander.edit_section(pid, _ben(app), sid, base_version=2, ops=EDIT)
    finally:
        bystander.close()
    other.execute("SELECT pg_advisory_lock(%s, %s)", advisory_key(b))
    holder = _connect(services.settings)
    try:
        wants = [
            (advisory_key(p), Prefetch(app.recorder, UUID(p), 2)) for p in (a, b, c)
        ]
        with saving_on(holder, None, None, wants) as held:
            assert held.taken == [True, False, True]
            assert sorted(held.prefetched) == sorted([a, c])  # not b's: not held
            assert [e.originator_version for e in held.prefetched[a][1]] == [3]
            loaded = app.get_packet(a)  # takes what the lock read
            assert loaded.sections[sa]["text"] == "xC."
            assert a not in held.prefetched and c in held.prefetched
    finally:
        holder.close()
    assert app.get_packet(c).sections[sc]["text"] == "xC."


def test_the_read_of_a_group_hold_runs_without_parallel_workers(
    services: Services,
) -> None:
    """The read of many packets' missing events is a few index reads; the
    planner's estimate (the statistics of a fast-growing table lag) can pass
    its threshold for parallel workers, whose start took 9 ms of a 10 ms
    read (issue 18). One statement over arrays of ids and versions, a
    nested loop over the index, has no parallel plan: with parallel plans
    forced, the planner still plans none for it (the UNION of one select
    per packet it replaced got a Gather)."""
    app = services.app
    made = _packets(app, 3)
    holder = _connect(services.settings)
    version = holder.info.server_version
    forced = "debug_parallel_query" if version >= 160000 else "force_parallel_mode"
    holder.execute(f"SET {forced} = on")  # a parallel plan wherever one may run
    recorder = app.recorder
    ids = [UUID(pid) for pid, _ in made]

    def plan() -> str:  # of the hold's own read
        read = "EXPLAIN " + _select_after(recorder)
        with psycopg.ClientCursor(holder) as cur:
            rows = cur.execute(read, [ids, [0] * len(ids)]).fetchall()
        return "\n".join(row[0] for row in rows)

    try:
        assert "Gather" not in plan()
        wants = [(advisory_key(p), Prefetch(recorder, UUID(p), 2)) for p, _ in made]
        with saving_on(holder, None, None, wants) as held:
            assert held.taken == [True, True, True]
            assert sorted(held.prefetched) == sorted(pid for pid, _ in made)
    finally:
        holder.close()


@dataclass
class Clash:
    """Two packets; once c's batch is decided, another writer that takes no
    lock saves c's next version (once): `clashed` lists it when it did."""

    a: tuple[str, str]
    c: tuple[str, str]
    clashed: list[str]


@pytest.fixture
def clash(services: Services, monkeypatch: pytest.MonkeyPatch) -> Iterator[Clash]:
    app = services.app
    a, c = _packets(app, 2)
    bystander = Workspace({}, settings=services.settings)
    decide, found = app._decide_sections, Clash(a, c, [])

    def clashing(pid: Any, requests: list[EditRequest]) -> Any:
        decided = decide(pid, requests)
        if pid == c[0] and not found.clashed:
            found.clashed.append(pid)
            bystander.edit_section(pid, _ben(app), c[1], base_version=2, ops=EDIT)
        return decided

    monkeypatch.setattr(app, "_decide_sections", clashing)
    yield found
    bystander.close()


def test_a_clash_in_a_group_saves_nothing_of_any_batch(
    services: Services, clash: Clash
) -> None:
    app = services.app
    (a, sa), (c, sc) = clash.a, clash.c
    holder = _connect(services.settings)
    try:
        keys = [(advisory_key(p), None) for p in (a, c)]
        with saving_on(holder, None, None, keys):
            refused = app.edit_packets(
                [(a, [_edit(app, sa, 2, 1)]), (c, [_edit(app, sc, 2, 1)])]
            )
        assert refused is None
        assert all(free(holder, k) for k, _ in keys)
    finally:
        holder.close()
    assert clash.clashed == [c]
    assert app.get_packet(a).version == 2  # a's batch was not saved either
    assert app.get_packet(c).version == 3


# ------------------------------------------------------------ through the hub
def _saves_observed() -> tuple[float, float]:
    """quire_live_save_packets: (saves, packets) so far in this process."""
    count = REGISTRY.get_sample_value("quire_live_save_packets_count")
    total = REGISTRY.get_sample_value("quire_live_save_packets_sum")
    return count or 0.0, total or 0.0


def _run_with_hub(services: Services, scenario: Any) -> Any:
    hub = LiveHub(services, LiveSettings(feed_idle_poll_seconds=30.0))

    async def run() -> Any:
        hub.start()
        try:
            assert hub.group is not None  # PostgreSQL saves in groups
            return await scenario(hub)
        finally:
            await asyncio.to_thread(hub.stop)

    return asyncio.run(run())


def test_the_hub_saves_waiting_packets_together_each_edit_answered(
    services: Services,
) -> None:
    app = services.app
    made = _packets(app, 5)
    listener = _connect(services.settings)
    listener.execute(f"LISTEN {app.recorder.channel_name}")

    async def scenario(hub: LiveHub) -> list[Any]:
        futures = [
            hub.writer(pid).submit(_edit(app, sid, 2, seq))
            for pid, sid in made
            for seq in (1, 2)
        ]
        return [await asyncio.wait_for(f, 20) for f in futures]

    before = _saves_observed()
    try:
        results = _run_with_hub(services, scenario)
        saves = _our_notices(listener, app)
    finally:
        listener.close()
    assert all(isinstance(r, EditOutcome) for r in results)
    assert [r.version for r in results] == [3, 4] * 5
    assert sorted(len(ids) for ids in saves) == [10]  # all ten in one save
    count, packets = (a - b for a, b in zip(_saves_observed(), before, strict=True))
    assert (count, packets) == (1, 5)  # quire_live_save_packets
    for pid, sid in made:
        assert app.get_packet(pid).sections[sid]["text"] == "xxC."


def test_a_packet_locked_elsewhere_holds_up_only_itself(
    services: Services, other: psycopg.Connection[Any]
) -> None:
    app = services.app
    (a, sa), (b, sb) = _packets(app, 2)
    other.execute("SELECT pg_advisory_lock(%s, %s)", advisory_key(a))

    async def scenario(hub: LiveHub) -> tuple[Any, Any]:
        held = hub.writer(a).submit(_edit(app, sa, 2, 1))
        free = hub.writer(b).submit(_edit(app, sb, 2, 1))
        saved = await asyncio.wait_for(free, 20)
        assert not held.done()  # still waiting for a's lock, on its own
        await asyncio.to_thread(
            other.execute, "SELECT pg_advisory_unlock(%s, %s)", advisory_key(a)
        )
        return saved, await asyncio.wait_for(held, 20)

    saved, waited = _run_with_hub(services, scenario)
    assert isinstance(saved, EditOutcome) and saved.version == 3
    assert isinstance(waited, EditOutcome) and waited.version == 3
    assert app.get_packet(a).sections[sa]["text"] == "xC."


def test_a_group_refused_as_a_whole_saves_each_batch_on_its_own(
    services: Services, clash: Clash
) -> None:
    app = services.app
    (a, sa), (c, sc) = clash.a, clash.c

    async def scenario(hub: LiveHub) -> list[Any]:
        futures = [
            hub.writer(a).submit(_edit(app, sa, 2, 1)),
            hub.writer(c).submit(_edit(app, sc, 2, 1)),
        ]
        return [await asyncio.wait_for(f, 20) for f in futures]

    first, second = _run_with_hub(services, scenario)
    assert clash.clashed == [c]
    assert isinstance(first, EditOutcome) and first.version == 3
    # c's edit was rebased over the bystander's and saved after it.
    assert isinstance(second, EditOutcome) and second.version == 4
    assert app.get_packet(c).sections[sc]["text"] == "xxC."

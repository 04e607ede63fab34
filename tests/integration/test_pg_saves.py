"""PostgreSQL: a live save made on the connection holding the packet's lock
(workspace/pg_saves.py). The COMMIT that stores it frees the lock; a clash is
rolled back with the lock taken again; the NOTIFY carries the events, and a
listening feed hands them on only when nothing came between."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from psycopg.conninfo import make_conninfo

from api.live.feed import EventFeed
from api.live.hub import advisory_key
from tests.conftest import database_url_for, drop_pg_schema
from tests.integration.pg_locks import free
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import AddSection
from workspace.config import Settings, postgres_conninfo
from workspace.editing import EditRequest
from workspace.pg_saves import (
    NOTICE_MAX_BYTES,
    Prefetch,
    notice_source,
    read_notice,
    saving_on,
)

pytestmark = pytest.mark.parametrize("backend", ["postgres"])

EDIT = [{"at": 0, "delete": 0, "insert": "x"}]


def _connect(settings: Settings) -> psycopg.Connection[Any]:
    info = postgres_conninfo(settings.database_url, settings)
    return psycopg.connect(make_conninfo("", **info), autocommit=True)


@pytest.fixture
def ben(app: Workspace) -> Principal:
    app.add_user("ben", "Ben", roles=[])
    return app.get_user("ben").principal()


def _open(app: Workspace, ben: Principal, title: str) -> tuple[str, str]:
    opened = app.open_packet(
        ben,
        kind="service-credit-clarification",
        title=title,
        release_owner="ben",
        authors=["ben"],
        reviewers=[],
    )
    pid = str(opened.id)
    sid = app.execute(pid, ben, AddSection(heading="Terms", text="Credits.")).result
    return pid, sid


@pytest.fixture
def packet(app: Workspace, ben: Principal) -> tuple[str, str]:
    return _open(app, ben, "Credits")


def _feed(app: Workspace, delivered: list[list[dict[str, Any]]]) -> EventFeed:
    """A feed handing everything it is given to `delivered`; never started."""
    return EventFeed(
        app.recorder,
        app.mapper,
        deliver=delivered.append,
        interested=lambda _: True,
        poll_seconds=60,
    )


@pytest.fixture
def conns(settings: Settings) -> Iterator[tuple[psycopg.Connection[Any], ...]]:
    holder, other = _connect(settings), _connect(settings)
    yield holder, other
    holder.close()
    other.close()


def _notices(
    listener: psycopg.Connection[Any], app: Workspace, count: int
) -> list[str]:
    """The next `count` payloads from this app's events table; notices from
    other schemas (another test run on the same database) share the channel."""
    ours: list[str] = []
    for note in listener.notifies(timeout=5):
        if read_notice(note.payload, notice_source(app.recorder)) is not None:
            ours.append(note.payload)
        if len(ours) == count:
            break
    return ours


def test_the_save_commits_on_the_holding_connection_and_its_commit_frees_the_lock(
    app: Workspace, ben: Principal, packet: tuple[str, str], conns: Any
) -> None:
    pid, sid = packet
    holder, other = conns
    key = advisory_key(pid)
    before = app.get_packet(pid).version
    with saving_on(holder, key):
        assert not free(other, key)
        done = app.edit_section(pid, ben, sid, base_version=before, ops=EDIT)
        # Stored and visible to others before the hold ends, and the lock
        # went with the COMMIT: nothing is left to unlock.
        row = other.execute(
            f"SELECT count(*) FROM {app.recorder.events_table_name} "
            "WHERE originator_id = %s AND originator_version = %s",
            (app.get_packet(pid).id, done.version),
        ).fetchone()
        assert row == (1,)
        assert free(other, key)
        assert holder.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    assert done.text == "xCredits."


def test_a_hold_that_saved_nothing_frees_the_lock_when_it_ends(
    app: Workspace, packet: tuple[str, str], conns: Any
) -> None:
    pid, _ = packet
    holder, other = conns
    key = advisory_key(pid)
    with saving_on(holder, key):
        app.get_packet(pid)
        assert not free(other, key)
    assert free(other, key)


def test_a_clash_under_the_lock_is_rolled_back_and_the_lock_held_again(
    app: Workspace,
    ben: Principal,
    packet: tuple[str, str],
    settings: Settings,
    conns: Any,
) -> None:
    pid, sid = packet
    holder, other = conns
    key = advisory_key(pid)
    bystander = Workspace(settings=settings)  # a writer that takes no lock
    try:
        with saving_on(holder, key):
            stale = app.get_packet(pid)
            version = stale.version
            bystander.edit_section(pid, ben, sid, base_version=version, ops=EDIT)
            stale.retitle_section(app.meta(ben), sid, "Clashing")
            from eventsourcing.persistence import IntegrityError

            with pytest.raises(IntegrityError):
                app.save(stale)
            assert not free(other, key)  # still held for the retry
            done = app.edit_section(pid, ben, sid, base_version=version, ops=EDIT)
            assert free(other, key)
    finally:
        bystander.close()
    packet_now = app.get_packet(pid)
    assert done.version == version + 2
    assert packet_now.sections[sid]["text"] == "xxCredits."
    assert packet_now.sections[sid]["heading"] == "Terms"


HOSTILE = "'); DROP TABLE x; -- \\ \\x00 $$ %s %(a)s \u00e9\U0001f600 E'\\'"


def test_a_hold_saves_several_events_in_one_statement_and_every_byte_round_trips(
    app: Workspace, ben: Principal, packet: tuple[str, str], conns: Any
) -> None:
    """The held lock's statements are sent with their values quoted by the
    driver (one simple query): text with quotes, backslashes, a statement
    separator, placeholders and characters outside the BMP is stored as
    typed; a batch of two edits is one save (one INSERT of two rows); a second save in
    the same hold takes the lock again before it inserts."""
    pid, sid = packet
    holder, other = conns
    key = advisory_key(pid)
    version = app.get_packet(pid).version
    with saving_on(holder, key):
        batch = app.edit_sections(
            pid,
            [
                EditRequest(
                    ben, sid, version, ops=[{"at": 0, "delete": 0, "insert": HOSTILE}]
                ),
                EditRequest(
                    ben, sid, version, ops=[{"at": 0, "delete": 0, "insert": "<"}]
                ),
            ],
        )
        assert [getattr(r, "version", r) for r in batch] == [version + 1, version + 2]
        assert free(other, key)  # the first save's COMMIT freed the lock
        done = app.edit_section(pid, ben, sid, base_version=version + 2, ops=EDIT)
        assert free(other, key)
    assert done.version == version + 3
    text = app.get_packet(pid).sections[sid]["text"]
    assert text == "x" + HOSTILE + "<Credits."  # a tie goes after the earlier insert
    fresh = Workspace({}, settings=app.settings)
    try:
        assert fresh.get_packet(pid).sections[sid]["text"] == text
    finally:
        fresh.close()
    stored = list(app.recorder.select_events(UUID(pid), gt=version))
    assert [e.originator_version for e in stored] == [
        version + 1,
        version + 2,
        version + 3,
    ]
    ids = [n.id for n in app.recorder.select_notifications(start=None, limit=10_000)]
    assert ids == sorted(set(ids))


def test_the_notify_carries_the_saved_events_and_a_large_save_only_its_ids(
    app: Workspace,
    ben: Principal,
    packet: tuple[str, str],
    settings: Settings,
    conns: Any,
) -> None:
    pid, sid = packet
    holder, listener = conns
    listener.execute(f"LISTEN {app.recorder.channel_name}")
    with saving_on(holder, advisory_key(pid)):
        version = app.get_packet(pid).version
        app.edit_section(pid, ben, sid, base_version=version, ops=EDIT)
    with saving_on(holder, advisory_key(pid)):
        big = [{"at": 0, "delete": 0, "insert": "y" * NOTICE_MAX_BYTES}]
        app.edit_section(pid, ben, sid, base_version=version + 1, ops=big)
    source = notice_source(app.recorder)
    small, large = (read_notice(n, source) for n in _notices(listener, app, 2))
    assert small is not None and large is not None
    stored = list(app.recorder.select_notifications(start=None, limit=1000))
    by_id = {n.id: n for n in stored}
    ids, events = small
    assert events is not None
    assert [(e.id, e.originator_version, e.topic, e.state) for e in events] == [
        (i, by_id[i].originator_version, by_id[i].topic, by_id[i].state) for i in ids
    ]
    assert str(events[0].originator_id) == pid
    big_ids, none = large
    assert none is None and big_ids == [stored[-1].id]


def test_a_save_whose_ids_overflow_a_notify_is_stored_and_its_notice_says_read_the_log(
    app: Workspace, settings: Settings, conns: Any
) -> None:
    """A group save can store thousands of events at once; their ids alone
    exceed what a NOTIFY may carry (8,000 bytes), which would fail the whole
    save. The notice is then the table's name alone: a feed reads the log."""
    holder, listener = conns
    listener.execute(f"LISTEN {app.recorder.channel_name}")
    many = [
        StoredEvent(originator_id=uuid4(), originator_version=1, topic="t", state=b"{}")
        for _ in range(2500)
    ]
    with saving_on(holder, None, None, [((1, 2), None)]) as held:
        ids = held.insert(app.recorder, many)
    assert len(ids) == 2500 and len(",".join(map(str, ids))) > 8000
    stored = list(app.recorder.select_notifications(start=ids[0], limit=3000))
    assert [n.id for n in stored] == ids
    (payload,) = [
        n.payload
        for n in listener.notifies(timeout=5, stop_after=1)
        if n.payload.startswith(notice_source(app.recorder))
    ]
    assert payload == notice_source(app.recorder) + " "
    assert read_notice(payload, notice_source(app.recorder)) is None
    feed = _feed(app, [])
    assert feed._take_notice(payload) is False  # read the log instead


def test_a_feed_hands_on_carried_events_only_when_nothing_came_between(
    app: Workspace, ben: Principal, packet: tuple[str, str], conns: Any
) -> None:
    pid, sid = packet
    holder, listener = conns
    listener.execute(f"LISTEN {app.recorder.channel_name}")
    delivered: list[list[dict[str, Any]]] = []
    feed = _feed(app, delivered)
    feed.position = app.recorder.max_notification_id() or 0
    version = app.get_packet(pid).version
    for n in range(2):
        with saving_on(holder, advisory_key(pid)):
            app.edit_section(pid, ben, sid, base_version=version + n, ops=EDIT)
    first, second = _notices(listener, app, 2)
    start = feed.position
    # The second save's events do not follow on from the position: the log
    # must be read (the first one's would be skipped otherwise).
    assert feed._take_notice(second) is False
    assert delivered == [] and feed.position == start
    assert feed._take_notice(first) is True
    assert feed._take_notice(second) is True
    assert feed._take_notice(first) is True  # read already: nothing again
    versions = [m["version"] for batch in delivered for m in batch]
    assert versions == [version + 1, version + 2]
    assert feed._take_notice("") is False
    assert feed._take_notice("not a notice") is False


def test_a_save_in_another_schema_is_never_handed_on_as_ours(
    app: Workspace, ben: Principal, conns: Any, settings: Settings, tmp_path: Path
) -> None:
    """Another deployment (or test run) in another schema of the same
    database NOTIFYs on the same channel, with ids of its own table: a feed
    whose position those ids follow on from must read its own log instead."""
    url, schema = database_url_for("postgres", tmp_path)
    other = Workspace(
        {"CREATE_TABLE": "y"},
        settings=Settings(database_url=url, signing_key_path=tmp_path / "other.pem"),
    )
    try:
        assert other.recorder.channel_name == app.recorder.channel_name
        holder, listener = conns
        listener.execute(f"LISTEN {app.recorder.channel_name}")
        other.add_user("ben", "Ben", roles=[])
        pid, sid = _open(other, ben, "Elsewhere")
        with saving_on(holder, advisory_key(pid)):
            version = other.get_packet(pid).version
            other.edit_section(pid, ben, sid, base_version=version, ops=EDIT)
        foreign = _notices(listener, other, 1)[0]
        found = read_notice(foreign, notice_source(other.recorder))
        assert found is not None and found[1] is not None  # it carries events
        delivered: list[list[dict[str, Any]]] = []
        feed = _feed(app, delivered)
        feed.position = found[0][0] - 1  # its ids follow on from ours
        assert feed._take_notice(foreign) is False
        assert delivered == [] and feed.position == found[0][0] - 1
    finally:
        other.close()
        if schema:
            drop_pg_schema(schema)


def test_the_lock_reads_what_the_cached_copy_lacks_and_the_load_takes_it(
    app: Workspace,
    ben: Principal,
    packet: tuple[str, str],
    settings: Settings,
    conns: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The lock's round trip reads the events after the cached version, once
    the lock is held; the load that follows takes them and reads nothing,
    and it has what another process saved meanwhile."""
    pid, sid = packet
    holder, _ = conns
    key, uid = advisory_key(pid), UUID(pid)
    cached = app.get_packet(pid).version
    other = Workspace({}, settings=settings)  # another process, same store
    reads: list[int] = []
    get_connection = app.recorder.datastore.get_connection

    def counting(*a: Any, **k: Any) -> Any:
        reads.append(1)
        return get_connection(*a, **k)

    monkeypatch.setattr(app.recorder.datastore, "get_connection", counting)
    try:
        for n, prefetch in enumerate(
            [
                Prefetch(app.recorder, uid, cached),
                Prefetch(app.recorder, uid, cached + 1),
                Prefetch(app.recorder, uid, cached - 1),  # not what the load asks
                None,
            ]
        ):
            other.edit_section(pid, ben, sid, base_version=cached + n, ops=EDIT)
            assert app.cached_version(uid) == cached + n
            reads.clear()
            with saving_on(holder, key, prefetch):
                loaded = app.get_packet(pid)
            assert loaded.version == cached + n + 1
            assert loaded.sections[sid]["text"] == "x" * (n + 1) + "Credits."
            assert len(reads) == (0 if n < 2 else 1), n
    finally:
        other.close()


def test_the_prefetch_sees_a_save_committed_while_it_waited_for_the_lock(
    app: Workspace,
    ben: Principal,
    packet: tuple[str, str],
    settings: Settings,
    conns: Any,
) -> None:
    """Another process holds the lock and saves while this one waits for
    it: the read in the lock's round trip starts only once the lock is
    granted, so the load has that save (read before, it would miss it)."""
    pid, sid = packet
    mine, theirs = conns
    key, uid = advisory_key(pid), UUID(pid)
    cached = app.get_packet(pid).version
    other = Workspace({}, settings=settings)
    loaded: list[Any] = []

    def load_under_the_lock() -> None:
        with saving_on(mine, key, Prefetch(app.recorder, uid, cached)):
            loaded.append(app.get_packet(pid))

    observer = _connect(settings)
    try:
        with saving_on(theirs, key):
            waiter = threading.Thread(target=load_under_the_lock)
            waiter.start()
            deadline = time.monotonic() + 10
            while not _waiting_for_a_lock(observer, mine):
                assert time.monotonic() < deadline, "never waited for the lock"
                time.sleep(0.01)
            other.edit_section(pid, ben, sid, base_version=cached, ops=EDIT)
        waiter.join(10)
    finally:
        other.close()
        observer.close()
    assert [p.version for p in loaded] == [cached + 1]
    assert loaded[0].sections[sid]["text"] == "xCredits."


def _waiting_for_a_lock(
    observer: psycopg.Connection[Any], waiter: psycopg.Connection[Any]
) -> bool:
    row = observer.execute(
        "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s",
        (waiter.info.backend_pid,),
    ).fetchone()
    return row is not None and row[0] == "Lock"

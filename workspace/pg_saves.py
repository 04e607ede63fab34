"""PostgreSQL: a packet's live save made on the connection holding its lock,
in one round trip, the lock released by the save's own COMMIT.

Live edits of one packet are serialized across processes by an advisory lock
(api/live/hub.py). Taken as a session lock, one save cost five round trips:
the lock, the fast-forward read, the library's pipelined insert (table lock,
NOTIFY, INSERT), its COMMIT, the unlock; and the event table's lock was held
from the insert across the client's own steps to the COMMIT.

Here the lock is a transaction lock (`pg_advisory_xact_lock`, after BEGIN)
on a connection of its own, taken in one round trip that also reads the
events the packet's cached copy lacks (`Prefetch`), so the load that follows
takes them instead of reading again. While it is held, this thread's
inserts (`insert_events` of the application's recorder) are sent on that
connection in one round trip: the table lock, INSERT ... RETURNING with its
NOTIFY, and COMMIT.

Both round trips are one simple query of several statements, the values
quoted by psycopg (`ClientCursor`), not a pipeline of prepared statements.
psycopg's pipeline mode waits on the socket several times per round trip,
giving up and taking back the GIL each time; with many writers in a process
that cost most of all. Issue 18, alternated runs of the across-packets
phase, this change alone: 310-370 -> 464-468 acked ops/s, server CPU per op
1.7-2.1 -> 1.4 ms (one writer alone in a process, `bench/profile_live.py`,
shows no difference). The statements' text is rendered once per recorder.

The COMMIT releases the packet's lock with the table's, so nothing is left
to unlock; a batch that saved nothing ends with a ROLLBACK instead. What is
stored and when it becomes visible is the library's insert: the same rows
and columns, the same RETURNING, under the library's own table lock
statements, in the same transaction shape, so readers of the notification
log still never pass over a gap. The insert returns after the COMMIT: nothing is
acknowledged before it is durable.

The save's NOTIFY carries the new notification ids and, when they fit in
a payload, the stored events themselves, so a listening process that has
read everything before them hands them on without reading the log
(api/live/feed.py); any other listener just reads the log, as after the
library's own NOTIFY.

On a clash (another writer saved that version, e.g. a command that took no
lock) the transaction is rolled back and the lock taken again before the
`IntegrityError` reaches the caller, whose retry is still under the lock.

A group save (api/live/group.py) holds several packets' locks on one
connection: it tries each (`pg_try_advisory_xact_lock`) and never waits for
one, reads what each held packet's cached copy lacks in the same round trip,
and saves all their batches in one insert, whose COMMIT frees them all. A
clash in a group is rolled back and not retried under the locks: each
batch is then saved on its own.

A dropped connection is the library's `OperationalError`, as from its own
insert; the server rolls back what was not committed and frees the lock.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing import persistence as es
from eventsourcing.persistence import Notification, StoredEvent
from psycopg import pq, sql
from psycopg.rows import dict_row

_held = threading.local()

LOCK = "SELECT pg_advisory_xact_lock(%s, %s)"
TRY_LOCK = "pg_try_advisory_xact_lock(%s, %s)"


@dataclass(frozen=True)
class Prefetch:
    """The events of `originator_id` after version `gt` (its cached copy's),
    read in the lock's round trip, once the lock is held."""

    recorder: Any
    originator_id: UUID
    gt: int

    @classmethod
    def of(cls, app: Any, packet_id: UUID | None) -> Prefetch | None:
        """What `app`'s cached copy of the packet lacks (None: not cached)."""
        if packet_id is None:
            return None
        cached: int | None = app.cached_version(packet_id)
        return None if cached is None else cls(app.recorder, packet_id, cached)


class LockBusy(Exception):
    """The first lock was not free within `HeldLock.wait_seconds`; nothing
    is held."""


class HeldLock:
    """One packet's advisory transaction lock on a connection of its own;
    for a group save across packets, the locks of `others` that were free
    when it was taken (with or without the first one, `key`)."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        key: tuple[int, int] | None,
        prefetch: Prefetch | None = None,
        others: Sequence[tuple[tuple[int, int], Prefetch | None]] = (),
        wait_seconds: float | None = None,
    ) -> None:
        self.conn = conn
        self.key = key
        #: The longest the first lock is waited for (None: no limit).
        self.wait_seconds = wait_seconds
        self.prefetch = prefetch
        self.others = list(others)
        #: Which of `others` were free and are held (after `take`).
        self.taken: list[bool] = []
        self.prefetched: dict[str, tuple[int, list[StoredEvent]]] = {}

    def take(self) -> None:
        """BEGIN, wait for the lock (`key`), then try each of the others'
        without waiting for any (so this never waits while it holds one,
        and two processes cannot wait for each other), then read what each
        cached copy lacks: one round trip. The read starts once the locks
        are held, so it sees every save made under them before. After a
        clash's ROLLBACK it is taken again."""
        query, params = "BEGIN", list[Any]()
        if self.key is not None and self.wait_seconds is not None:
            query += "; SELECT set_config('lock_timeout', %s, true); "
            query += LOCK + "; SET LOCAL lock_timeout TO DEFAULT"
            params += [f"{max(1, round(self.wait_seconds * 1000))}ms", *self.key]
        elif self.key is not None:
            query += "; " + LOCK
            params += self.key
        if self.others:
            tries = ", ".join([TRY_LOCK] * len(self.others))
            query += f"; SELECT ARRAY[{tries}] AS quire_taken"
            params += [part for key, _ in self.others for part in key]
        wants = [w for w in [self.prefetch, *(p for _, p in self.others)] if w]
        if wants:
            # One read for all: the text is the same whatever their number.
            recorders = {id(w.recorder): w.recorder for w in wants}.values()
            query += "; " + " UNION ALL ".join(_select_after(r) for r in recorders)
            for recorder in recorders:
                mine = [w for w in wants if w.recorder is recorder]
                params += [[w.originator_id for w in mine], [w.gt for w in mine]]
        self.prefetched = {}
        self.taken = []
        try:
            with psycopg.ClientCursor(self.conn, row_factory=dict_row) as cur:
                cur.execute(query, params)
                if self.others:
                    self.taken = list(_rows_of(cur, "quire_taken")[0]["quire_taken"])
                rows = _rows_of(cur, "originator_id") if wants else []
        except psycopg.errors.LockNotAvailable as e:
            self._abandon()
            raise LockBusy(str(e)) from e
        except psycopg.Error as e:
            self._abandon()
            raise _persistence_error(e) from e
        held = [self.prefetch] + [
            p for (_, p), free in zip(self.others, self.taken, strict=True) if free
        ]
        found: dict[str, list[StoredEvent]] = {}
        for row in rows:
            found.setdefault(str(row["originator_id"]), []).append(
                StoredEvent(
                    originator_id=row["originator_id"],
                    originator_version=row["originator_version"],
                    topic=row["topic"],
                    state=bytes(row["state"]),
                )
            )
        for want in held:
            if want is not None:
                events = found.get(str(want.originator_id), [])
                events.sort(key=lambda e: e.originator_version)
                self.prefetched[str(want.originator_id)] = (want.gt, events)

    def prefetched_for(
        self, originator_id: UUID | str, gt: int | None
    ) -> list[StoredEvent] | None:
        """The prefetched events of a held packet, once, when asked for
        exactly them."""
        found = self.prefetched.get(str(originator_id))
        if found is None or gt != found[0]:
            return None
        del self.prefetched[str(originator_id)]
        return found[1]

    def held_keys(self) -> list[tuple[int, int]]:
        """Every lock held, in the order a second save takes them again."""
        taken = zip(self.others, self.taken, strict=False)  # [] before `take`
        others = [k for (k, _), free in taken if free]
        return sorted({*([self.key] if self.key else []), *others})

    def release(self) -> None:
        """Frees the lock if no save freed it (nothing was saved)."""
        if self.conn.info.transaction_status != pq.TransactionStatus.IDLE:
            try:
                self.conn.execute("ROLLBACK")
            except psycopg.Error:
                self.conn.close()  # the server frees the lock with the session

    def insert(self, recorder: Any, stored_events: Sequence[Any]) -> list[int]:
        """The library's insert, then COMMIT, in one round trip on this connection."""
        conn = self.conn
        query, params = "", list[Any]()
        if conn.info.transaction_status == pq.TransactionStatus.IDLE:
            # A second save in one hold: the first one's COMMIT freed the
            # lock, so this one takes it again.
            # (Several locks are taken in one order, each process alike.)
            keys = self.held_keys()
            query = "BEGIN; " + "; ".join([LOCK] * len(keys)) + "; "
            params = [part for key in keys for part in key]
        query += "; ".join(_lock_table(recorder))
        query += "; " + _insert_and_notify(recorder, len(stored_events)) + "; COMMIT"
        for e in stored_events:
            params += [e.originator_id, e.originator_version, e.topic, e.state]
        source = notice_source(recorder) + " "
        params += [source, notice(stored_events), recorder.channel_name, source]
        failure: psycopg.Error | None = None
        ids: list[int] = []
        try:
            with psycopg.ClientCursor(conn, row_factory=dict_row) as cur:
                cur.execute(query, params)
                ids = [int(i) for row in _rows_of(cur, "a") for i in row["a"]]
        except psycopg.Error as e:
            failure = e
        if failure is None:
            return ids
        if isinstance(failure, psycopg.IntegrityError):
            # A version already stored: roll back, and hold the lock again
            # for the caller's retry (a group's caller saves each batch on
            # its own instead: api/live/group.py).
            try:
                self.conn.execute("ROLLBACK")
                if not self.others:
                    self.take()
            except psycopg.Error as e:
                raise _persistence_error(e) from e
            raise es.IntegrityError(str(failure)) from failure
        self._abandon()
        raise _persistence_error(failure) from failure

    def _abandon(self) -> None:
        if self.conn.closed:
            return
        try:
            if self.conn.info.transaction_status != pq.TransactionStatus.IDLE:
                self.conn.execute("ROLLBACK")
        except psycopg.Error:
            self.conn.close()


@contextmanager
def saving_on(
    conn: psycopg.Connection[Any],
    key: tuple[int, int] | None,
    prefetch: Prefetch | None = None,
    others: Sequence[tuple[tuple[int, int], Prefetch | None]] = (),
    wait_seconds: float | None = None,
) -> Iterator[HeldLock]:
    """Holds the packet's lock on `conn` (autocommit), and those of `others`
    that are free (`HeldLock.taken`); this thread's saves meanwhile go
    through it, each committed in its own round trip, and its first read of
    each held packet's prefetched events is answered from the lock's."""
    held = HeldLock(conn, key, prefetch, others, wait_seconds)
    held.take()
    _held.lock = held
    try:
        yield held
    finally:
        _held.lock = None
        held.release()


def route_inserts(recorder: Any) -> None:
    """Sends this thread's inserts through the held lock's connection, when
    one is held (`saving_on`), and answers its read of the events the lock
    prefetched; every other insert and read is the library's own."""
    original = recorder.insert_events
    original_select = recorder.select_events

    def insert_events(stored_events: Sequence[Any], **kwargs: Any) -> Any:
        held: HeldLock | None = getattr(_held, "lock", None)
        if held is None or not stored_events:
            return original(stored_events, **kwargs)
        return held.insert(recorder, stored_events)

    def select_events(
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        held: HeldLock | None = getattr(_held, "lock", None)
        if held is not None and lte is None and not desc and limit is None:
            found = held.prefetched_for(originator_id, gt)
            if found is not None:
                return found
        stored: Sequence[StoredEvent] = original_select(
            originator_id, gt=gt, lte=lte, desc=desc, limit=limit
        )
        return stored

    recorder.insert_events = insert_events
    recorder.select_events = select_events


def _select_after(recorder: Any) -> str:
    """The read of the events of several originators at once, each
    after a version of its own (two arrays: the ids, the versions): one
    statement whose text does not change with their number, so psycopg
    parses it once, and PostgreSQL plans one nested loop instead of a branch
    for each."""
    cached: str | None = getattr(recorder, "_quire_select_after", None)
    if cached is None:
        id_type = recorder.datastore.originator_id_type
        cached = (
            f"SELECT e.* FROM unnest(%s::{id_type}[], %s::bigint[]) AS w(id, gt)"
            f" CROSS JOIN LATERAL (SELECT * FROM {_events_table(recorder)}"
            " WHERE originator_id = w.id AND originator_version > w.gt"
            " ORDER BY originator_version ASC) AS e"
        )
        recorder._quire_select_after = cached
    return cached


def _lock_table(recorder: Any) -> list[str]:
    """The library's table lock statements, rendered once."""
    cached: list[str] | None = getattr(recorder, "_quire_lock_table", None)
    if cached is None:
        cached = [_rendered(s) for s in recorder.lock_table_statements]
        recorder._quire_lock_table = cached
    return cached


def _events_table(recorder: Any) -> str:
    """The recorder's events table, schema-qualified and quoted."""
    return _rendered(
        sql.SQL("{schema}.{table}").format(
            schema=sql.Identifier(recorder.datastore.schema),
            table=sql.Identifier(recorder.events_table_name),
        )
    )


def _rendered(statement: sql.Composable) -> str:
    """A composed statement as the text psycopg would send, rendered once per
    recorder (psycopg renders a `Composed` again, quoting every identifier,
    on each execute)."""
    return statement.as_string(None)


#: A NOTIFY payload must be shorter than this (PostgreSQL's limit).
NOTIFY_MAX_BYTES = 8_000
#: Events are carried in a payload up to this size; larger saves notify
#: with their ids only, and listeners read the events.
NOTICE_MAX_BYTES = 7_000


def _insert_and_notify(recorder: Any, rows: int) -> str:
    """The library's INSERT (the same columns, the same RETURNING) of `rows`
    events, and one NOTIFY on its channel whose payload is the events table's
    name (`notice_source`), the new notification ids, then the events
    themselves when they fit. When even the ids do not fit (a group save of
    thousands of events), the payload is the table's name alone, which
    `read_notice` does not take: listeners read the log. Its parameters: the
    name and a space, `notice(...)`, the channel, the name and a space."""
    cached: tuple[str, str] | None = getattr(recorder, "_quire_insert_notify", None)
    if cached is None:
        cached = (
            f"WITH ins AS (INSERT INTO {_events_table(recorder)} "
            "(originator_id, originator_version, topic, state) VALUES ",
            " RETURNING notification_id), "
            "ids AS (SELECT array_agg(notification_id ORDER BY notification_id) "
            "AS a FROM ins), "
            "note AS (SELECT a, %s || array_to_string(a, ',') AS head, "
            "%s::text AS body FROM ids) "
            "SELECT a, pg_notify(%s, CASE "
            f"WHEN octet_length(head || body) < {NOTIFY_MAX_BYTES} THEN head || body "
            f"WHEN octet_length(head) < {NOTIFY_MAX_BYTES} THEN head "
            "ELSE %s END) FROM note",
        )
        recorder._quire_insert_notify = cached
    head, tail = cached
    return head + ", ".join(["(%s, %s, %s, %s)"] * rows) + tail


def _rows_of(cur: psycopg.ClientCursor[Any], first_column: str) -> list[Any]:
    """The rows of the statement, among those a multi-statement query ran,
    whose first column is `first_column`."""
    name = first_column.encode()
    while True:
        result = cur.pgresult  # cheaper than building `description` each time
        if result is not None and result.nfields and result.fname(0) == name:
            return cur.fetchall()
        if not cur.nextset():
            return []


def notice_source(recorder: Any) -> str:
    """The schema-qualified events table a notice comes from. The library's
    channel is named after the table alone and NOTIFY is database-wide, so
    saves in another schema of the same database (another deployment, a
    test run beside this one) arrive on the same channel, with ids of their
    own table: their events must never be taken for ours."""
    schema = getattr(getattr(recorder, "datastore", None), "schema", "")
    return f"{schema}.{getattr(recorder, 'events_table_name', '')}"


def notice(stored_events: Sequence[Any]) -> str:
    """The events after the ids in a NOTIFY payload (empty when too large):
    ' ' then a JSON list of [originator id, version, topic, base64 state]."""
    body = json.dumps(
        [
            [
                str(e.originator_id),
                e.originator_version,
                e.topic,
                base64.b64encode(e.state).decode(),
            ]
            for e in stored_events
        ],
        separators=(",", ":"),
    )
    return " " + body if len(body) < NOTICE_MAX_BYTES else ""


def read_notice(
    payload: str, source: str
) -> tuple[list[int], list[Notification] | None] | None:
    """A payload of `_insert_and_notify` from the events table `source`
    (`notice_source`): its ids, and its events when they were sent (None
    when not); None for any other payload, or one from another table."""
    prefix = source + " "
    if not payload.startswith(prefix):
        return None
    head, _, body = payload[len(prefix) :].partition(" ")
    try:
        ids = [int(i) for i in head.split(",")]
        if not body:
            return ids, None
        rows = json.loads(body)
        events = [
            Notification(
                id=n,
                originator_id=UUID(row[0]),
                originator_version=int(row[1]),
                topic=str(row[2]),
                state=base64.b64decode(row[3]),
            )
            for n, row in zip(ids, rows, strict=True)
        ]
    except (ValueError, TypeError, IndexError):
        return None
    return ids, events


def _persistence_error(e: psycopg.Error) -> es.PersistenceError:
    if isinstance(e, psycopg.OperationalError):
        return es.OperationalError(str(e))
    if isinstance(e, psycopg.InterfaceError):
        return es.InterfaceError(str(e))
    return es.PersistenceError(str(e))

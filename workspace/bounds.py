"""Storage bounds: what one save may hold, and how long the database may take.

One save's events are encoded once, as they will be stored; if together they
hold more than `QUIRE_SAVE_MAX_BYTES`, the save is refused (413
`SAVE_TOO_LARGE`) before any connection or lock is taken, so one huge save can
never hold the event table's lock while every other writer waits.

On PostgreSQL every connection of the library's pool gets the statement
timeout and the connect timeout (settings), so no statement holds a lock for
long and an outage is reported within seconds. The library retries each read
and write ten times on an operational error, and each try would wait the
pool's timeout for a connection (ten times 3 s: a 30 s hang per request), so
once the pool could not hand out a connection in time, the datastore fails at
once for a few seconds instead of waiting again (`fail_fast`): a request
during an outage is answered within the connect timeout plus about 2 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import (
    EventStore,
    InfrastructureFactory,
    Notification,
    OperationalError,
    Recording,
)
from psycopg_pool import PoolTimeout

from workspace.config import Settings, postgres_options
from workspace.errors import TooLargeError


class BoundedEventStore(EventStore[Any]):
    """The library's event store, refusing a save whose events are too large.

    `observe`, when given, is handed every event the store returns and every
    event it stored (after the insert succeeded): workspace/text_history.py.
    """

    def __init__(
        self,
        *args: Any,
        max_bytes: int,
        observe: Callable[[Sequence[Any]], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.observe = observe

    def get(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        events = list(super().get(*args, **kwargs))
        if self.observe is not None and events:
            self.observe(events)
        return iter(events)

    def put(self, domain_events: Sequence[Any], **kwargs: Any) -> list[Any]:
        stored = [self.mapper.to_stored_event(e) for e in domain_events]
        total = sum(len(s.state) for s in stored)
        if total > self.max_bytes:
            largest = max(stored, key=lambda s: len(s.state))
            raise TooLargeError(
                "SAVE_TOO_LARGE",
                f"this change would store {total} bytes, more than the "
                f"{self.max_bytes} one save may hold",
                {
                    "bytes": total,
                    "max_bytes": self.max_bytes,
                    "largest_event": largest.topic,
                },
            )
        ids = self.recorder.insert_events(stored, **kwargs)
        if self.observe is not None:
            self.observe(domain_events)
        if not ids:
            return []
        return [
            Recording(
                d,
                Notification(
                    originator_id=s.originator_id,
                    originator_version=s.originator_version,
                    topic=s.topic,
                    state=s.state,
                    id=n_id,
                ),
            )
            for d, s, n_id in zip(domain_events, stored, ids, strict=True)
        ]


def bound_connections(factory: InfrastructureFactory, settings: Settings) -> None:
    """Gives each connection of the library's PostgreSQL pool the statement
    timeout and libpq's connect timeout (before the pool opens)."""
    datastore = getattr(factory, "datastore", None)
    pool = getattr(datastore, "pool", None)
    kwargs = getattr(pool, "kwargs", None)
    if not isinstance(kwargs, dict):
        return
    kwargs["options"] = postgres_options(settings)
    kwargs["connect_timeout"] = max(1, settings.db_connect_timeout_seconds)
    # The window outlasts the library's ten tries (0.2 s apart): one call
    # waits for the pool once, not again for each try.
    fail_fast(datastore, max(1, settings.db_connect_timeout_seconds) + 2.0)


def fail_fast(datastore: Any, window: float) -> None:
    """After the pool gave no connection within its timeout, the datastore's
    connections fail at once (OperationalError) for `window` seconds."""
    get_connection = datastore.get_connection
    down_until = [0.0]

    @contextmanager
    def guarded() -> Iterator[Any]:
        if time.monotonic() < down_until[0]:
            raise OperationalError(
                "the database did not answer moments ago; not waiting again"
            )
        try:
            with get_connection() as conn:
                yield conn
        except OperationalError as exc:
            if isinstance(exc.__cause__, PoolTimeout):
                down_until[0] = time.monotonic() + window
            raise

    datastore.get_connection = guarded


#: Seconds /readyz gives its write check.
WRITE_CHECK_SECONDS = 2.0


class NotWritableError(Exception):
    """This process cannot write now (readiness fails); the message says why."""


def check_writable(app: Any, settings: Settings) -> None:
    """Raises unless this process could write now, taking no lock a writer
    waits for: on PostgreSQL a short transaction that draws a transaction id
    (fails on a read-only server) and looks for a transaction holding the
    event table's lock longer than the lock timeout; on SQLite a write lock
    taken and released at once, waiting at most `WRITE_CHECK_SECONDS`."""
    import sqlite3

    from workspace.config import persistence_env

    env = persistence_env(settings.database_url, create_table=False, settings=settings)
    module = env["PERSISTENCE_MODULE"]
    if module == "eventsourcing.sqlite":
        path = env["SQLITE_DBNAME"]
        conn = sqlite3.connect(path, timeout=WRITE_CHECK_SECONDS, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("ROLLBACK")
        except sqlite3.OperationalError as exc:
            raise NotWritableError(f"the SQLite file takes no write: {exc}") from exc
        finally:
            conn.close()
        return
    if module != "eventsourcing.postgres":
        return
    datastore = app.recorder.datastore
    table = f"{datastore.schema}.{app.recorder.events_table_name}"
    millis = int(WRITE_CHECK_SECONDS * 1000)
    with datastore.transaction(commit=False) as cur:
        cur.execute(f"SET LOCAL statement_timeout = {millis}")
        cur.execute("SELECT txid_current()")
        cur.execute(
            "SELECT COALESCE(MAX(EXTRACT(EPOCH FROM now() - a.xact_start)), 0) "
            "AS held FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.relation = to_regclass(%s) AND l.granted "
            "AND l.mode = 'ExclusiveLock'",
            (table,),
        )
        row = cur.fetchone()
    held = float(row["held"]) if row else 0.0
    if held > settings.db_lock_timeout_seconds:
        raise NotWritableError(
            f"a transaction has held the event table's lock for {held:.1f} s"
        )

"""Read-model storage: one small adapter over SQLite (sqlite3) and PostgreSQL.

Read models live in the same database as the event log: on PostgreSQL in the
schema named by the URL's `?schema=` (through `postgres_conninfo`, which sets
`search_path`), on SQLite in the same file. For `memory://` they live in an
in-memory SQLite database fed from the application's in-memory recorder.

SQL is written once with `%s` placeholders and portable types (TEXT, BIGINT,
`INSERT ... ON CONFLICT ... DO UPDATE`); `Tx` translates placeholders for
sqlite3. JSON values are stored as TEXT.

A `Session` is one dedicated connection (a projection driver holds one: on
PostgreSQL it carries the driver's advisory lock and its LISTEN). Short reads
by the API go through `ReadStore.read()` (a small pool on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import Any, Literal, Protocol

import psycopg
from psycopg import sql as pgsql
from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from workspace.config import (
    Settings,
    backend_of,
    persistence_env,
    postgres_conninfo,
)

log = logging.getLogger(__name__)

Backend = Literal["sqlite", "postgres", "memory"]

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    "name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
)

#: Errors after which a driver reconnects and resumes from its tracking record.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)


@lru_cache(maxsize=512)
def _qmark(statement: str) -> str:
    return statement.replace("%s", "?")


class Tx:
    """A cursor inside a transaction (or an autocommit read)."""

    def __init__(self, cursor: Any, backend: Backend) -> None:
        self.cursor = cursor
        self.backend = backend
        self._sqlite = backend != "postgres"

    def _sql(self, statement: str) -> str:
        return _qmark(statement) if self._sqlite else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> int:
        self.cursor.execute(self._sql(statement), tuple(params))
        return int(self.cursor.rowcount)

    def executemany(self, statement: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [tuple(r) for r in rows]
        if rows:
            self.cursor.executemany(self._sql(statement), rows)

    def insert_rows(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        """Bulk insert: COPY on PostgreSQL (an order of magnitude faster than
        executemany for thousands of rows), executemany on SQLite."""
        if not rows:
            return
        if self._sqlite:
            self.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES ({self.marks(len(columns))})",
                rows,
            )
            return
        with self.cursor.copy(
            f"COPY {table} ({', '.join(columns)}) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)

    def all(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.cursor.execute(self._sql(statement), tuple(params))
        return [tuple(row) for row in self.cursor.fetchall()]

    def one(self, statement: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        self.cursor.execute(self._sql(statement), tuple(params))
        row = self.cursor.fetchone()
        return None if row is None else tuple(row)

    @staticmethod
    def marks(count: int) -> str:
        """`%s,%s,...` for an IN list of `count` values."""
        return ",".join(["%s"] * count)


def chunks(values: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Session:
    """One dedicated connection: a projection driver's, or a CLI command's."""

    def __init__(self, store: ReadStore) -> None:
        self.store = store
        self.backend = store.backend
        self._pg: psycopg.Connection[Any] | None = None
        self._sqlite: sqlite3.Connection | None = None
        if self.backend == "postgres":
            self._pg = psycopg.connect(make_conninfo(**store.conninfo), autocommit=True)
        elif self.backend == "sqlite":
            self._sqlite = store.sqlite_connect()

    @property
    def pid(self) -> int | None:
        return None if self._pg is None else int(self._pg.info.backend_pid)

    def transaction(self) -> AbstractContextManager[Tx]:
        """A write transaction (serialised with other writers on SQLite)."""
        return self._transaction(write=True)

    def snapshot(self) -> AbstractContextManager[Tx]:
        """A read-only transaction that sees one consistent state."""
        return self._transaction(write=False)

    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[Tx]:
        if self._pg is not None:
            with self._pg.transaction(), self._pg.cursor() as cur:
                if not write:
                    cur.execute(
                        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY"
                    )
                yield Tx(cur, "postgres")
            return
        with self.store.sqlite_transaction(self._sqlite, immediate=write) as tx:
            yield tx

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Commits everything inside at once: on PostgreSQL the transactions
        opened inside become savepoints, so readers on other connections see
        the read models as they were until the end, never half built, and a
        failure leaves them as they were. SQLite has no such outer
        transaction here: its one writer would stall the server for the
        whole run (and there the server runs the projections itself)."""
        if self._pg is None:
            yield
            return
        with self._pg.transaction():
            yield

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Autocommit reads (each statement sees the latest commits)."""
        if self._pg is not None:
            with self._pg.cursor() as cur:
                yield Tx(cur, "postgres")
            return
        with self.store.sqlite_autocommit(self._sqlite) as tx:
            yield tx

    # PostgreSQL only -------------------------------------------------------
    def try_lock(self, key: int) -> bool:
        """A session-level advisory lock (released when the connection ends)."""
        if self._pg is None:
            return True
        row = self._pg.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        return bool(row and row[0])

    def unlock(self, key: int) -> None:
        if self._pg is not None:
            self._pg.execute("SELECT pg_advisory_unlock(%s)", (key,))

    def listen(self, channel: str) -> None:
        if self._pg is not None:
            self._pg.execute(pgsql.SQL("LISTEN {}").format(pgsql.Identifier(channel)))

    def wait(self, wake: threading.Event, timeout: float) -> None:
        """Returns on a NOTIFY (PostgreSQL), a wake-up, or after `timeout`."""
        deadline = time.monotonic() + timeout
        if self._pg is None:
            wake.wait(timeout)
            return
        while not wake.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            got = False
            for _ in self._pg.notifies(timeout=min(remaining, 0.25), stop_after=1):
                got = True
            if got:
                # Drain whatever else arrived; one catch-up covers them all.
                for _ in self._pg.notifies(timeout=0):
                    pass
                return

    def close(self) -> None:
        try:
            if self._pg is not None:
                self._pg.close()
            if self._sqlite is not None:
                self._sqlite.close()
        except Exception:  # closing a broken connection must not hide the cause
            log.debug("closing a read-model session failed", exc_info=True)


class ReadStore:
    """The read-model database beside the event log (one per process)."""

    def __init__(self, settings: Settings, app: Any) -> None:
        self.settings = settings
        self.app = app
        self.backend: Backend = backend_of(settings.database_url)  # type: ignore[assignment]
        recorder = app.recorder
        self.events_table: str = getattr(recorder, "events_table_name", "")
        #: The library NOTIFYs on a channel named after the events table with
        #: dots replaced (PostgresApplicationRecorder.channel_name): the schema
        #: is not part of it, and NOTIFY is database-wide, so writes in other
        #: schemas wake us too (harmless: a wake-up only triggers a catch-up).
        self.channel: str = getattr(recorder, "channel_name", "")
        self.conninfo: dict[str, str] = {}
        self.schema = "main"
        self.database = ""
        self._pool: ConnectionPool[psycopg.Connection[Any]] | None = None
        self._pool_lock = threading.Lock()
        self._memory: sqlite3.Connection | None = None
        self._memory_lock = threading.RLock()
        self._sqlite_path = ""
        self._progress = threading.Condition()
        self._positions: dict[str, int] = {}
        self._wakers: list[Callable[[], None]] = []
        #: Drivers a query may run in its own thread (embedded, no runner).
        self.inline_drivers: dict[str, Any] = {}
        self.closed = False
        if self.backend == "postgres":
            self.conninfo = postgres_conninfo(settings.database_url, settings)
            self.conninfo.update(keepalives="1", keepalives_idle="10")
            env = persistence_env(settings.database_url, create_table=False)
            self.schema = env.get("POSTGRES_SCHEMA") or "public"
            self.database = env["POSTGRES_DBNAME"]
        elif self.backend == "sqlite":
            env = persistence_env(settings.database_url, create_table=False)
            self._sqlite_path = env["SQLITE_DBNAME"]
        else:
            self._memory = sqlite3.connect(
                f"file:quire-read-{uuid.uuid4().hex}?mode=memory",
                uri=True,
                check_same_thread=False,
                isolation_level=None,
            )

    # Background protocol: the store is closed with the services. ----------
    def start(self) -> None:
        """Nothing to start; connections open on demand."""

    def stop(self) -> None:
        self.close()

    def close(self) -> None:
        self.closed = True
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None
        if self._memory is not None:
            with self._memory_lock:
                self._memory.close()
                self._memory = None

    # connections -----------------------------------------------------------
    def session(self) -> Session:
        return Session(self)

    def sqlite_connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self._sqlite_path,
            timeout=30,
            check_same_thread=False,
            isolation_level=None,
        )

    @contextmanager
    def sqlite_transaction(
        self, conn: sqlite3.Connection | None, *, immediate: bool
    ) -> Iterator[Tx]:
        if self.backend == "memory":
            with self._memory_lock:
                if self._memory is None:
                    raise sqlite3.OperationalError("the read store is closed")
                with self._sqlite_tx(self._memory, immediate) as tx:
                    yield tx
            return
        if conn is None:
            raise sqlite3.OperationalError("no SQLite connection")
        with self._sqlite_tx(conn, immediate) as tx:
            yield tx

    @contextmanager
    def _sqlite_tx(self, conn: sqlite3.Connection, immediate: bool) -> Iterator[Tx]:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
        try:
            yield Tx(cur, self.backend)
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        else:
            cur.execute("COMMIT")
        finally:
            cur.close()

    @contextmanager
    def sqlite_autocommit(self, conn: sqlite3.Connection | None) -> Iterator[Tx]:
        if self.backend == "memory":
            with self._memory_lock:
                if self._memory is None:
                    raise sqlite3.OperationalError("the read store is closed")
                yield Tx(self._memory.cursor(), "memory")
            return
        if conn is None:
            raise sqlite3.OperationalError("no SQLite connection")
        yield Tx(conn.cursor(), "sqlite")

    def _get_pool(self) -> ConnectionPool[psycopg.Connection[Any]]:
        with self._pool_lock:
            if self._pool is None:
                if self.closed:
                    raise psycopg.OperationalError("the read store is closed")
                self._pool = ConnectionPool(
                    make_conninfo(**self.conninfo),
                    kwargs={"autocommit": True},
                    min_size=1,
                    max_size=max(2, self.settings.pool_size),
                    check=ConnectionPool.check_connection,
                    timeout=max(1, self.settings.db_connect_timeout_seconds),
                    name="quire-read-models",
                    open=True,
                )
            return self._pool

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """Short autocommit reads (API queries)."""
        if self.backend == "postgres":
            with self._get_pool().connection() as conn, conn.cursor() as cur:
                yield Tx(cur, "postgres")
            return
        if self.backend == "memory":
            with self.sqlite_autocommit(None) as tx:
                yield tx
            return
        lite = self.sqlite_connect()
        try:
            yield Tx(lite.cursor(), "sqlite")
        finally:
            lite.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        """A short write transaction outside any driver (DDL, checkpoints)."""
        if self.backend == "postgres":
            with (
                self._get_pool().connection() as conn,
                conn.transaction(),
                conn.cursor() as cur,
            ):
                yield Tx(cur, "postgres")
            return
        if self.backend == "memory":
            with self.sqlite_transaction(None, immediate=True) as tx:
                yield tx
            return
        lite = self.sqlite_connect()
        try:
            with self.sqlite_transaction(lite, immediate=True) as tx:
                yield tx
        finally:
            lite.close()

    # schema ----------------------------------------------------------------
    def create_tables(self, ddl: Iterable[str]) -> None:
        with self.transaction() as tx:
            tx.execute(TRACKING_DDL)
            for statement in ddl:
                tx.execute(statement)

    def advisory_key(self, name: str) -> int:
        """A 64-bit advisory lock key for one projection in this schema."""
        text = f"quire.projection:{self.database}:{self.schema}:{name}"
        digest = hashlib.sha256(text.encode("utf-8")).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    # the event log (read through projections/event_log.py) ------------------
    def head(self) -> int:
        """The highest notification id in the event log (0 when empty)."""
        return int(self.app.recorder.max_notification_id() or 0)

    # progress: who waits for a projection ------------------------------------
    def add_waker(self, waker: Callable[[], None]) -> None:
        self._wakers.append(waker)

    @property
    def has_local_drivers(self) -> bool:
        return bool(self._wakers)

    def remove_waker(self, waker: Callable[[], None]) -> None:
        if waker in self._wakers:
            self._wakers.remove(waker)

    def progressed(self, name: str, position: int) -> None:
        with self._progress:
            self._positions[name] = position
            self._progress.notify_all()

    def position(self, name: str) -> int:
        with self.read() as tx:
            row = tx.one(
                "SELECT position FROM projection_tracking WHERE name = %s", (name,)
            )
        return int(row[0]) if row else 0

    def wait_for(
        self, names: Sequence[str], position: int, timeout: float, *, wake: bool = True
    ) -> bool:
        """Waits (bounded) until every named projection has reached `position`.

        In-process drivers report progress through a condition (and are woken
        first, unless `wake` is false: a test of what else wakes them);
        otherwise (a separate `quire worker`) the tracking rows are read again
        every 50 ms. Returns False on timeout: the caller serves what it has.
        """
        deadline = time.monotonic() + timeout
        wakers = list(self._wakers)
        for waker in wakers if wake else ():
            waker()
        if wakers:
            with self._progress:
                while not all(self._positions.get(n, -1) >= position for n in names):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._progress.wait(min(remaining, 0.25))
                else:
                    return True
        while True:
            if all(self.position(n) >= position for n in names):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            time.sleep(min(remaining, 0.05))


class ServicesLike(Protocol):
    """What `read_models_for` needs of api.services.Services (no upward import)."""

    settings: Settings
    app: Any
    extras: dict[str, Any]
    background: list[Any]


_shared_lock = threading.Lock()


def read_models_for(services: ServicesLike) -> ReadStore:
    """The one ReadStore of a set of services, created on first use.

    It is closed with the services (it joins their background list).
    """
    with _shared_lock:
        store = services.extras.get("read_store")
        if isinstance(store, ReadStore) and not store.closed:
            return store
        store = ReadStore(services.settings, services.app)
        if store.backend == "memory":
            from projections.runner import all_ddl

            store.create_tables(all_ddl())
        services.extras["read_store"] = store
        services.background.append(store)
        return store

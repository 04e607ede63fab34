"""Schema versions, and what `quire db migrate` does between them.

`quire db init` writes one row per component into `quire_schema_version`:
the event store (`event_store`: the library's table and Quire's own tables
beside it) and each read model (by projection name). The code declares the
version it needs of each (`expected_versions`). Serving processes compare
(`check_current`) and refuse to start when the database is behind (`quire db
migrate` needed) or ahead (an older release of Quire on a newer database).

- Event store and Quire's own tables: `MIGRATIONS` lists the steps in order
  (statements in one transaction with the row's new version). None yet.
- A read model: bump its entry in `READ_MODEL_VERSIONS` when its tables or
  what it derives change; `migrate` then drops its tables, creates them from
  the projection's current DDL and replays the event log into them (the
  machinery of `quire projections rebuild`), then records the version.
- Stored events need no migration: each event class carries a
  `class_version` and upcasters (the eventsourcing library upcasts an old
  event as it is read), so old and new events live side by side.

A database from before versioning (no version table) is at version 1 of
everything (the baseline): it is current while the code needs no more, and
`quire db migrate` writes its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from projections.runner import PROJECTION_CLASSES, PROJECTION_NAMES
from projections.store import ReadStore, Tx
from workspace.errors import StateError

VERSION_TABLE = "quire_schema_version"
VERSION_DDL = (
    f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} ("
    "component TEXT PRIMARY KEY, version BIGINT NOT NULL, updated_at TEXT NOT NULL)"
)
EVENT_STORE = "event_store"
#: Before versioning existed, everything was at this version.
BASELINE = 1

#: The schema version of the event store and Quire's own tables.
EVENT_STORE_VERSION = 1

#: Each read model's version: bump one to have `quire db migrate` drop and
#: rebuild it from the event log.
READ_MODEL_VERSIONS: dict[str, int] = dict.fromkeys(PROJECTION_NAMES, 1)


@dataclass(frozen=True)
class Migration:
    """One step of the event store's schema: from `version - 1` to `version`."""

    version: int
    description: str
    statements: tuple[str, ...]
    component: str = EVENT_STORE


#: In order; each runs in one transaction with its version row.
MIGRATIONS: tuple[Migration, ...] = ()


class SchemaVersionError(StateError):
    """The database's schema is not the one this code needs (exit 2)."""


@dataclass
class SchemaStatus:
    stored: dict[str, int]
    expected: dict[str, int]
    missing_table: bool = False
    behind: dict[str, int] = field(default_factory=dict)
    ahead: dict[str, int] = field(default_factory=dict)

    @property
    def current(self) -> bool:
        return not (self.behind or self.ahead)


def expected_versions() -> dict[str, int]:
    return {EVENT_STORE: EVENT_STORE_VERSION, **READ_MODEL_VERSIONS}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def table_exists(tx: Tx, name: str) -> bool:
    if tx.backend == "postgres":
        row = tx.one("SELECT to_regclass(%s) IS NOT NULL", (name,))
        return bool(row and row[0])
    row = tx.one(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = %s",
        (name.split(".")[-1],),
    )
    return row is not None


def _tables_of(component: str, store: ReadStore) -> tuple[str, ...]:
    if component == EVENT_STORE:
        return (store.events_table,) if store.events_table else ()
    for cls in PROJECTION_CLASSES:
        if cls.name == component:
            return cls.tables
    return ()


def present_components(store: ReadStore) -> set[str]:
    """Components whose tables exist (before `db init` creates the rest)."""
    present = set()
    with store.read() as tx:
        for component in expected_versions():
            tables = _tables_of(component, store)
            if tables and all(table_exists(tx, t) for t in tables):
                present.add(component)
    return present


def stored_versions(tx: Tx) -> dict[str, int] | None:
    """The version rows, or None when there is no version table."""
    if not table_exists(tx, VERSION_TABLE):
        return None
    rows = tx.all(f"SELECT component, version FROM {VERSION_TABLE}")
    return {str(component): int(version) for component, version in rows}


def _set_version(tx: Tx, component: str, version: int) -> None:
    tx.execute(
        f"INSERT INTO {VERSION_TABLE} (component, version, updated_at) "
        "VALUES (%s, %s, %s) ON CONFLICT (component) DO UPDATE SET "
        "version = excluded.version, updated_at = excluded.updated_at",
        (component, version, _now()),
    )


def record_versions(store: ReadStore, preexisting: set[str]) -> None:
    """`quire db init`: a row for each component without one; the code's
    version for what init just created, the baseline for what was there."""
    expected = expected_versions()
    with store.transaction() as tx:
        tx.execute(VERSION_DDL)
        stored = stored_versions(tx) or {}
        for component, version in expected.items():
            if component not in stored:
                _set_version(
                    tx, component, BASELINE if component in preexisting else version
                )


def status(store: ReadStore) -> SchemaStatus:
    expected = expected_versions()
    with store.read() as tx:
        stored = stored_versions(tx)
    result = SchemaStatus(stored or {}, expected, missing_table=stored is None)
    for component, version in expected.items():
        have = result.stored.get(component, BASELINE)
        if have < version:
            result.behind[component] = have
        elif have > version:
            result.ahead[component] = have
    for component, have in result.stored.items():
        if component not in expected:
            result.ahead[component] = have  # a component of a newer release
    return result


def check_current(store: ReadStore) -> None:
    """Raises SchemaVersionError unless the database is at the code's versions."""
    if store.backend == "memory":
        return  # created by this process, at the code's versions
    found = status(store)
    if found.ahead:
        raise _mismatch(
            "SCHEMA_AHEAD",
            "the database is newer than this release of Quire ({}): "
            "run a newer release",
            {"ahead": found.ahead},
            found.expected,
        )
    if found.behind:  # (no version table: the baseline, version 1 of all)
        raise _mismatch(
            "SCHEMA_BEHIND",
            "the database needs `quire db migrate` ({})",
            {"behind": found.behind},
            found.expected,
        )


def _mismatch(
    code: str, message: str, detail: dict[str, dict[str, int]], expected: dict[str, int]
) -> SchemaVersionError:
    """`message` with the components `detail` names (its one entry: those
    ahead, or those behind) and their versions in place of `{}`."""
    [versions] = detail.values()
    described = ", ".join(
        f"{c} at {v}, code needs {expected.get(c, 'none')}"
        for c, v in sorted(versions.items())
    )
    return SchemaVersionError(code, message.format(described), detail)


#: rebuild(names, before, after): see `migrate`.
Rebuild = Callable[[Sequence[str], Callable[[Tx], None], Callable[[Tx], None]], None]


def migrate(store: ReadStore, rebuild: Rebuild) -> list[str]:
    """Applies every pending migration in order; returns what it did.

    `rebuild(names, before, after)` replays the named read models from the
    event log between `before(tx)` (drops and recreates their tables) and
    `after(tx)` (records their versions): on PostgreSQL all in one
    transaction; on SQLite the version is recorded only once the replay is
    done, so an interrupted migration runs again. Idempotent: a second run
    finds nothing to do.
    """
    present = present_components(store)
    if EVENT_STORE not in present:
        raise SchemaVersionError(
            "SCHEMA_MISSING", "no schema here: run `quire db init` first"
        )
    record_versions(store, present)
    found = status(store)
    if found.ahead:
        check_current(store)  # raises SCHEMA_AHEAD
    done: list[str] = []
    for step in MIGRATIONS:
        have = status(store).stored.get(step.component, BASELINE)
        if step.version != have + 1:
            continue
        with store.transaction() as tx:
            for statement in step.statements:
                tx.execute(statement)
            _set_version(tx, step.component, step.version)
        done.append(f"{step.component} {have} -> {step.version}: {step.description}")
    stored = status(store)
    if EVENT_STORE in stored.behind:
        raise SchemaVersionError(
            "SCHEMA_BEHIND",
            f"no migration leads the event store from version "
            f"{stored.behind[EVENT_STORE]} to {EVENT_STORE_VERSION}",
        )
    stale = [name for name in PROJECTION_NAMES if name in stored.behind]
    if stale:
        classes = [cls for cls in PROJECTION_CLASSES if cls.name in stale]

        def recreate(tx: Tx) -> None:
            for cls in classes:
                for table in cls.tables:
                    tx.execute(f"DROP TABLE IF EXISTS {table}")
                for statement in cls.ddl:
                    tx.execute(statement)

        def record(tx: Tx) -> None:
            for cls in classes:
                _set_version(tx, cls.name, READ_MODEL_VERSIONS[cls.name])

        rebuild(stale, recreate, record)
        done.extend(
            f"{name} {stored.behind[name]} -> {READ_MODEL_VERSIONS[name]}: rebuilt "
            "from the event log"
            for name in stale
        )
    return done

"""Runs every projection as a thread (api.services.Background protocol).

`quire worker` runs them as their own process on PostgreSQL; `quire serve`
runs them in-process on the embedded default (SQLite, memory).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Sequence
from typing import Any

from projections.audit import AuditLog
from projections.checkpoints import load_or_create_private_key
from projections.driver import (
    DEFAULT_BATCH,
    DEFAULT_POISON_ATTEMPTS,
    Driver,
    Projection,
)
from projections.governance import GovernanceFacts
from projections.objections import ObjectionLedger
from projections.packets import PacketList
from projections.poison import POISON_DDL
from projections.releases import Releases
from projections.revisions import RevisionHistory
from projections.store import ReadStore, ServicesLike, read_models_for
from workspace.config import Settings, backend_of

log = logging.getLogger(__name__)


def all_projections(settings: Settings | None = None) -> list[Projection]:
    """One instance of every projection (the audit log signs with the key)."""
    key = None
    interval = 5.0
    if settings is not None:
        key = load_or_create_private_key(settings.signing_key_path)
        interval = settings.checkpoint_interval_seconds
    return [
        PacketList(),
        RevisionHistory(),
        ObjectionLedger(),
        Releases(),
        GovernanceFacts(),
        AuditLog(key, interval),
    ]


PROJECTION_CLASSES: tuple[type[Projection], ...] = (
    PacketList,
    RevisionHistory,
    ObjectionLedger,
    Releases,
    GovernanceFacts,
    AuditLog,
)
PROJECTION_NAMES = tuple(cls.name for cls in PROJECTION_CLASSES)


def all_ddl() -> list[str]:
    return [
        *(statement for cls in PROJECTION_CLASSES for statement in cls.ddl),
        POISON_DDL,
    ]


def read_model_tables() -> list[str]:
    """Every table a projection owns (and the checkpoints it keeps)."""
    tables = [t for cls in PROJECTION_CLASSES for t in cls.tables]
    return [*tables, "audit_checkpoints"]


def create_read_models(store: ReadStore) -> None:
    store.create_tables(all_ddl())


class ProjectionRunner:
    """Every projection's driver, each on its own thread and connection."""

    def __init__(
        self,
        store: ReadStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = DEFAULT_BATCH,
        poll_interval: float | None = None,
        poison_attempts: int = DEFAULT_POISON_ATTEMPTS,
    ) -> None:
        self.store = store
        # One driver for all: each batch is read and decoded once, and applied
        # to each projection in its own transaction (see Driver).
        self.drivers = [
            Driver(
                store,
                list(projections),
                batch_size=batch_size,
                poll_interval=poll_interval,
                poison_attempts=poison_attempts,
            )
        ]
        self.names = [p.name for p in projections]

    def start(self) -> None:
        for driver in self.drivers:
            driver.start()

    def stop(self) -> None:
        for driver in self.drivers:
            driver._stop.set()
            driver.wake()
        for driver in self.drivers:
            driver.stop()

    def wait(self, position: int | None = None, timeout: float = 10.0) -> bool:
        """Waits until every projection has reached `position` (default: head)."""
        target = self.store.head() if position is None else position
        return self.store.wait_for(self.names, target, timeout=timeout)


def projection_background(services: ServicesLike, role: str) -> list[Any]:
    """What build_background adds: the runner for `worker`, and for `serve` on
    the embedded default (SQLite, memory); nothing otherwise."""
    backend = backend_of(services.settings.database_url)
    if role != "worker" and not (role == "serve" and backend != "postgres"):
        return []
    store = read_models_for(services)
    if backend != "postgres":
        create_read_models(store)
    batch = int(services.extras.get("projection_batch_size", DEFAULT_BATCH))
    return [
        ProjectionRunner(
            store,
            all_projections(services.settings),
            batch_size=batch,
            poison_attempts=services.settings.projection_poison_attempts,
        )
    ]


#: How long a read waits for projections to reach the log's head.
READ_WAIT_SECONDS = 2.0

_inline_lock = threading.Lock()


def bring_up_to_date(
    store: ReadStore, names: Sequence[str], timeout: float = READ_WAIT_SECONDS
) -> bool:
    """Read-your-writes for a query: the named projections reach the head of
    the log as it was when called (bounded by `timeout`).

    With drivers in this process they are woken and awaited; on the embedded
    backends without them (a CLI or a test app) the query's thread catches up
    itself; otherwise (PostgreSQL with a separate worker) the tracking rows
    are awaited. On timeout the caller serves what the read model has.
    """
    head = store.head()
    if store.has_local_drivers or store.backend == "postgres":
        return store.wait_for(names, head, timeout)
    with _inline_lock:
        drivers = store.inline_drivers
        if not drivers:
            drivers.update(
                {p.name: Driver(store, p) for p in all_projections(store.settings)}
            )
        session = store.session()
        try:
            for name in names:
                driver = drivers[name]
                driver.catch_up(session, upto=head)
        finally:
            drivers_forget(drivers.values())
            session.close()
    return True


def drivers_forget(drivers: Iterable[Driver]) -> None:
    for driver in drivers:
        driver.forget()

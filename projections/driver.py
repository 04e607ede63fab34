"""The projection driver: batched catch-up with exactly-once tracking.

Each projection has one row in `projection_tracking` (its name and the last
notification id it has applied). A batch reads events after that position,
then, in ONE transaction, moves the tracking row from the old position to the
new one (`UPDATE ... WHERE position = old`: if another instance moved it, the
batch rolls back and is re-read) and writes the read-model rows. A crash at any
point leaves either both or neither, so each event is applied exactly once.

Why reading "every id up to the head" is safe (no event skipped):

* PostgreSQL: the library inserts under `LOCK TABLE ... IN EXCLUSIVE MODE`
  taken before the notification ids are drawn from the sequence and held until
  commit, so ids become visible in commit order. Once `MAX(notification_id)` is
  M, every transaction that drew an id below M has committed or rolled back (a
  rolled-back insert leaves a permanent gap, never a late arrival). The driver
  reads the head first, then only ids up to it. This reasoning fails if
  `POSTGRES_ENABLE_DB_FUNCTIONS` is set (the stored function inserts without
  the table lock): Quire never sets it, and `Workspace.construct_env` keeps it
  out of the library's environment.
* SQLite: one writer at a time; a row id is assigned under the write lock and
  committed before the next writer starts, and rows are never deleted, so ids
  are gap-free in commit order.
* memory: the in-memory recorder assigns ids under a lock, in insert order.

Waking: LISTEN on the library's channel on PostgreSQL (the same connection
that holds the projection's advisory lock, so one instance per projection runs
and a second waits), polling on SQLite, the recorder's listener in memory. Any
connection error closes the session; the driver reconnects, takes the lock
again, reloads its state from the database and resumes from its tracking row.

Poison events (projections/poison.py): a batch that fails is applied again
one event per transaction, so the failing event is found. Run as a thread, a
driver retries that event with a growing pause; after `poison_attempts`
failures it records the event in `projection_poison`, logs at ERROR and moves
the tracking position past it in the same transaction (unless the projection
declares `skips_poison = False`), so one event it cannot apply never stops
the others. Connection errors never count as failures of an event.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from projections import event_log, poison
from projections.events import EventRecord
from projections.store import CONNECTION_ERRORS, ReadStore, Session, Tx

log = logging.getLogger(__name__)

#: Events per batch for projections that read every event.
DEFAULT_BATCH = 2000
#: Projections that filter by topic scan this many times more ids per batch.
FILTERED_SPAN_FACTOR = 10
#: Failed attempts on one event before it is recorded as poison (and skipped).
DEFAULT_POISON_ATTEMPTS = 3
#: Seconds between two looks for poison rows an operator marked for retry.
RETRY_LOOK_INTERVAL = 1.0

Progress = Callable[[int, int], None]


class Projection:
    """One read model: its tables, and how a batch of events changes them."""

    name: ClassVar[str] = ""
    #: Only these topics are read (None: every event).
    topics: ClassVar[tuple[str, ...] | None] = None
    #: Tables emptied by `reset` (in this order).
    tables: ClassVar[tuple[str, ...]] = ()
    ddl: ClassVar[tuple[str, ...]] = ()
    #: False: a poison event is recorded and alerted but never skipped (for a
    #: read model that must follow the log without gaps).
    skips_poison: ClassVar[bool] = True

    def load(self, tx: Tx) -> None:
        """Loads in-memory state kept beside the tables (after a (re)connect)."""

    def discard(self) -> None:
        """Forgets in-memory state after a rolled-back batch."""

    def committed(self) -> None:
        """Called after a batch committed."""

    def reset(self, tx: Tx) -> None:
        """Empties the read model (a rebuild replays from notification id 1)."""
        for table in self.tables:
            tx.execute(f"DELETE FROM {table}")

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        raise NotImplementedError

    def wants_tick(self) -> bool:
        return False

    def tick(self, tx: Tx) -> None:
        """Periodic work while idle (the audit log's time-based checkpoints)."""


class TrackingMovedError(Exception):
    """Another instance moved the tracking record first; the batch rolled back."""


class Slot:
    """One projection inside a driver: its position and its failures."""

    def __init__(self, projection: Projection) -> None:
        self.projection = projection
        self.name = projection.name
        self.topics = (
            None if projection.topics is None else frozenset(projection.topics)
        )
        self.position: int | None = None
        self.errors = 0
        self.paused_until = 0.0
        #: Failed attempts per notification id (this process).
        self.failures: dict[int, int] = {}
        #: After a failed batch, events up to here are applied one at a time.
        self.step_until = 0

    def wants(self, event: EventRecord) -> bool:
        return self.topics is None or event.topic in self.topics

    def move(self, tx: Tx, position: int, to: int) -> None:
        """Moves the tracking record from `position` to `to`, unless another
        instance moved it first (`TrackingMovedError`: the batch rolls back)."""
        moved = tx.execute(
            "UPDATE projection_tracking SET position = %s "
            "WHERE name = %s AND position = %s",
            (to, self.name, position),
        )
        if moved != 1:
            raise TrackingMovedError(self.name)

    def back_off(self) -> float:
        """Pauses after one more failure, longer each time (up to 30 s)."""
        self.errors += 1
        pause = min(30.0, 0.5 * 2.0 ** min(self.errors, 6))
        self.paused_until = time.monotonic() + pause
        return pause


class Driver:
    """Runs projections: synchronously (`catch_up`) or as one thread.

    Given several projections, a driver reads each batch of events once and
    applies it to every projection in that projection's own transaction, with
    its own tracking row and (on PostgreSQL) its own advisory lock: decoding
    is shared, exactly-once stays per projection, and a projection that fails
    is paused and retried without stopping the others.
    """

    def __init__(
        self,
        store: ReadStore,
        projection: Projection | Sequence[Projection],
        *,
        batch_size: int = DEFAULT_BATCH,
        poll_interval: float | None = None,
        lock_wait: float = 1.0,
        poison_attempts: int = DEFAULT_POISON_ATTEMPTS,
    ) -> None:
        self.store = store
        projections = (
            [projection] if isinstance(projection, Projection) else list(projection)
        )
        if not projections:
            raise ValueError("a driver needs a projection")
        self.slots = [Slot(p) for p in projections]
        self.projection = projections[0]
        self.name = "+".join(slot.name for slot in self.slots)
        self.batch_size = max(1, batch_size)
        if poll_interval is None:
            poll_interval = {"postgres": 2.0, "sqlite": 0.2, "memory": 1.0}[
                store.backend
            ]
        self.poll_interval = poll_interval
        self.lock_wait = lock_wait
        self.poison_attempts = max(1, poison_attempts)
        self._next_retry_look = 0.0
        self.session_pid: int | None = None
        #: In a thread, a failing projection is paused; synchronously it raises.
        self.isolate_failures = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def position(self) -> int | None:
        """The lowest position of the driver's projections (None: not loaded)."""
        positions = [slot.position for slot in self.slots]
        if any(p is None for p in positions):
            return None
        return min(p for p in positions if p is not None)

    @property
    def errors(self) -> int:
        return sum(slot.errors for slot in self.slots)

    # ------------------------------------------------------------ synchronous
    def prepare(self, session: Session, slot: Slot | None = None) -> int:
        """Ensures the tracking rows, loads the projections' state."""
        for one in [slot] if slot is not None else self.slots:
            with session.transaction() as tx:
                tx.execute(
                    "INSERT INTO projection_tracking (name, position) "
                    "VALUES (%s, 0) ON CONFLICT (name) DO NOTHING",
                    (one.name,),
                )
                row = tx.one(
                    "SELECT position FROM projection_tracking WHERE name = %s",
                    (one.name,),
                )
                one.projection.load(tx)
            one.position = int(row[0]) if row else 0
            self.store.progressed(one.name, one.position)
        return self.position or 0

    def forget(self) -> None:
        for slot in self.slots:
            self._forget(slot)

    def _forget(self, slot: Slot) -> None:
        slot.position = None
        slot.projection.discard()

    def run_batch(self, session: Session, upto: int | None = None) -> int:
        """Applies one batch; returns how many notification ids it advanced."""
        now = time.monotonic()
        active = [s for s in self.slots if s.paused_until <= now]
        for slot in active:
            if slot.position is None:
                self.prepare(session, slot)
        if not active:
            return 0
        low = min(s.position or 0 for s in active)
        head = self.store.head() if upto is None else upto
        if head <= low:
            return 0
        filtered = all(s.topics is not None for s in active)
        span = self.batch_size * (FILTERED_SPAN_FACTOR if filtered else 1)
        upper = min(head, low + span)
        topics = (
            sorted({t for s in active for t in s.topics or ()}) if filtered else None
        )
        events = event_log.read_events(self.store, session, low, upper, topics)
        advanced = 0
        for slot in active:
            position = slot.position or 0
            if position >= upper:
                continue
            mine = [e for e in events if e.notification_id > position and slot.wants(e)]
            upto = upper
            if mine and mine[0].notification_id <= slot.step_until:
                # Finding the event a failed batch could not apply.
                mine = mine[:1]
                upto = mine[0].notification_id
            if self._apply(session, slot, position, upto, mine):
                advanced = max(advanced, upto - position)
        return advanced

    def _apply(
        self,
        session: Session,
        slot: Slot,
        position: int,
        upper: int,
        events: Sequence[EventRecord],
    ) -> bool:
        projection = slot.projection
        try:
            with session.transaction() as tx:
                slot.move(tx, position, upper)
                if events:
                    projection.apply(tx, events)
        except TrackingMovedError:
            log.info("projection %s moved elsewhere; reloading", slot.name)
            self._forget(slot)
            return True  # not caught up: read again from the new position
        except CONNECTION_ERRORS:
            self._forget(slot)
            raise
        except Exception as exc:
            self._forget(slot)
            if not self.isolate_failures:
                raise
            if len(events) > 1:
                # Apply this range again one event at a time, at once.
                slot.step_until = events[-1].notification_id
                log.warning(
                    "projection %s failed on a batch (%s); applying it event by event",
                    slot.name,
                    poison.describe(exc),
                )
                return True
            if events:
                return self._failed(session, slot, position, events[0], exc)
            pause = slot.back_off()
            log.exception("projection %s failed; paused for %.1f s", slot.name, pause)
            return False
        projection.committed()
        slot.position = upper
        slot.errors = 0
        for nid in [n for n in slot.failures if n <= upper]:
            del slot.failures[nid]
        self.store.progressed(slot.name, upper)
        return True

    def _failed(
        self,
        session: Session,
        slot: Slot,
        position: int,
        event: EventRecord,
        exc: Exception,
    ) -> bool:
        """One event failed: pause and retry, or record it as poison (and skip
        it) once it failed `poison_attempts` times."""
        nid = event.notification_id
        attempts = slot.failures.get(nid, 0) + 1
        slot.failures[nid] = attempts
        error = poison.describe(exc)
        if attempts < self.poison_attempts:
            pause = slot.back_off()
            log.warning(
                "projection %s failed on event %s (%s, attempt %s of %s); "
                "paused for %.1f s",
                slot.name,
                nid,
                error,
                attempts,
                self.poison_attempts,
                pause,
                exc_info=exc,
            )
            return False
        skip = slot.projection.skips_poison
        try:
            with session.transaction() as tx:
                if skip:
                    slot.move(tx, position, nid)
                poison.record(tx, slot.name, event, error, attempts, skipped=skip)
        except TrackingMovedError:
            log.info("projection %s moved elsewhere; reloading", slot.name)
            return True
        del slot.failures[nid]
        log.error(
            "POISON EVENT: projection %s could not apply event %s (%s, %s v%s) "
            "after %s attempts: %s; %s (see `quire projections poisoned`)",
            slot.name,
            nid,
            event.topic,
            event.originator_id,
            event.originator_version,
            attempts,
            error,
            "skipped it" if skip else "it keeps retrying",
        )
        if not skip:
            slot.back_off()
            return False
        slot.errors = 0
        slot.paused_until = 0.0
        return True

    def retry_poisoned(self, session: Session) -> int:
        """Re-applies the poison events an operator marked for retry (each in
        its own transaction, which also deletes its poison row); returns how
        many now applied. One that fails again stays, with its new error."""
        slots = {slot.name: slot for slot in self.slots}
        with session.read() as tx:
            wanted = poison.retry_requested(tx, list(slots))
        done = 0
        for name, nid, skipped in wanted:
            slot = slots[name]
            if not skipped:
                # Still in the driver's way: retried by the loop, now.
                with session.transaction() as tx:
                    tx.execute(
                        "UPDATE projection_poison SET retry = 0 "
                        "WHERE projection = %s AND notification_id = %s",
                        (name, nid),
                    )
                slot.paused_until = 0.0
                continue
            if slot.position is None:
                self.prepare(session, slot)
            found = event_log.read_events(self.store, session, nid - 1, nid)
            event = next(iter(found), None)
            try:
                with session.transaction() as tx:
                    if event is not None:
                        slot.projection.apply(tx, [event])
                    poison.resolved(tx, name, nid)
            except CONNECTION_ERRORS:
                self._forget(slot)
                raise
            except Exception as exc:
                self._forget(slot)
                assert event is not None
                with session.transaction() as tx:
                    poison.record(
                        tx, name, event, poison.describe(exc), 1, skipped=True
                    )
                log.error(
                    "POISON EVENT: projection %s failed again on event %s: %s",
                    name,
                    nid,
                    poison.describe(exc),
                )
                continue
            slot.projection.committed()
            done += 1
            log.warning("projection %s re-applied poison event %s", name, nid)
        return done

    def catch_up(
        self,
        session: Session,
        *,
        upto: int | None = None,
        progress: Progress | None = None,
    ) -> int:
        """Applies batches until the head (or `upto`); returns ids advanced."""
        total = 0
        while not self._stop.is_set():
            advanced = self.run_batch(session, upto)
            if not advanced:
                break
            total += advanced
            if progress is not None:
                progress(self.position or 0, advanced)
        return total

    def reset(self, session: Session) -> None:
        """Empties the read models and rewinds their tracking rows, atomically."""
        for slot in self.slots:
            with session.transaction() as tx:
                tx.execute(
                    "INSERT INTO projection_tracking (name, position) "
                    "VALUES (%s, 0) ON CONFLICT (name) DO UPDATE SET position = 0",
                    (slot.name,),
                )
                slot.projection.reset(tx)
            self._forget(slot)

    def tick(self, session: Session) -> None:
        for slot in self.slots:
            projection = slot.projection
            if slot.position is not None and projection.wants_tick():
                with session.transaction() as tx:
                    projection.tick(tx)
                projection.committed()

    def acquire(self, session: Session, *, wait: bool = True) -> bool:
        """Takes every projection's advisory lock (PostgreSQL), all or none."""
        keys = [self.store.advisory_key(slot.name) for slot in self.slots]
        told = False
        while not self._stop.is_set():
            taken = []
            for key in keys:
                if not session.try_lock(key):
                    break
                taken.append(key)
            if len(taken) == len(keys):
                return True
            for key in taken:
                session.unlock(key)
            if not wait:
                return False
            if not told:
                log.info("projections %s run elsewhere; waiting", self.name)
                told = True
            self._stop.wait(self.lock_wait)
        return False

    # ----------------------------------------------------------------- thread
    def start(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self.isolate_failures = True
        self._thread = threading.Thread(
            target=self._run, name=f"projection-{self.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        backoff = 0.2
        recorder: Any = self.store.app.recorder
        listens = self.store.backend == "memory" and hasattr(recorder, "listen")
        if listens:
            recorder.listen(self._wake)
        self.store.add_waker(self.wake)
        try:
            while not self._stop.is_set():
                session: Session | None = None
                try:
                    session = self.store.session()
                    self.session_pid = session.pid
                    if not self.acquire(session):
                        break
                    session.listen(self.store.channel)
                    self.forget()
                    self._loop(session)
                    backoff = 0.2
                except CONNECTION_ERRORS as e:
                    log.warning(
                        "projections %s lost their connection (%s); reconnecting",
                        self.name,
                        e,
                    )
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                except Exception:
                    log.exception("projections %s failed; retrying", self.name)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
                finally:
                    self.forget()
                    if session is not None:
                        session.close()
        finally:
            self.store.remove_waker(self.wake)
            if listens:
                recorder.unlisten(self._wake)

    def _loop(self, session: Session) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            if self.run_batch(session):
                continue
            if time.monotonic() >= self._next_retry_look:
                self._next_retry_look = time.monotonic() + RETRY_LOOK_INTERVAL
                if self.retry_poisoned(session):
                    continue
            self.tick(session)
            session.wait(self._wake, self._next_wait())

    def _next_wait(self) -> float:
        paused = [s.paused_until for s in self.slots if s.paused_until]
        wait = self.poll_interval
        if paused:
            wait = min(wait, max(0.05, min(paused) - time.monotonic()))
        return wait

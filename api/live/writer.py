"""Group commit for live edits: the edits of one packet that arrive through
this process while a save is under way are decided together and saved in one
atomic save (`Workspace.edit_sections`), so a busy packet costs one load and
one insert per batch rather than per keystroke. Each edit is still decided
on its own, in arrival order, and answered on its own (ack, conflict, error).
At low rates a batch holds one edit and nothing waits.

A batch is taken once the packet's lock is held, not before: edits that
arrive while this process waits for another process's save join the save
that follows it, instead of waiting for one more round.

On PostgreSQL the batches of every packet waiting in the process are saved
together instead (api/live/group.py); a packet whose lock is held elsewhere
longer than a round waits for it (`group.WAIT_SECONDS`) is handed back here,
to wait for it alone.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from api import prometheus
from api.errors import DATABASE_ERRORS
from workspace.application import EditOutcome, EditRequest
from workspace.errors import QuireError

if TYPE_CHECKING:
    from api.live.hub import LiveHub

log = logging.getLogger(__name__)

#: At most this many edits in one save.
MAX_BATCH = 64

Result = EditOutcome | QuireError | Exception
Batch = list[tuple[EditRequest, "asyncio.Future[Result]"]]


class PacketWriter:
    """Queues one packet's live edits and saves them in batches, in order."""

    def __init__(self, hub: LiveHub, packet_id: str) -> None:
        self.hub = hub
        self.packet_id = packet_id
        #: Appended on the event loop, taken by the saving thread: guarded.
        self.pending: Batch = []
        self.guard = threading.Lock()
        self.draining = False
        self.task: asyncio.Task[None] | None = None

    def submit(self, request: EditRequest) -> asyncio.Future[Result]:
        """Queues an edit; the future holds its outcome (never raises)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        with self.guard:
            self.pending.append((request, future))
        if self.draining:
            pass  # its own drain takes it
        elif self.hub.group is not None:  # PostgreSQL: api/live/group.py
            self.hub.group.submit(self)
        else:
            self.drain_alone()
        return future

    def drain_alone(self) -> None:
        """Saves what is pending on its own, waiting for the packet's lock
        in a thread of its own, until nothing is pending (on the loop)."""
        if not self.draining:
            self.draining = True
            self.task = asyncio.get_running_loop().create_task(self._drain())

    def take(self) -> Batch:
        with self.guard:
            batch = self.pending[:MAX_BATCH]
            del self.pending[:MAX_BATCH]
        return batch

    async def _drain(self) -> None:
        try:
            while self.pending:
                try:
                    batch, results = await run_in_threadpool(self._save_next)
                except Exception as e:  # e.g. the lock's database is down
                    log_failure(e, "taking the lock of packet %s", self.packet_id)
                    batch = self.take()
                    results = [e] * len(batch)
                self.hub.wake()  # the embedded backends poll: read it now
                self.answer(batch, results)
        finally:
            self.draining = False
            self.hub.writer_idle(self)

    def answer(self, batch: Batch, results: list[Result]) -> None:
        """Hands each edit its outcome (on the event loop)."""
        prometheus.live_edits(results)
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    def save_alone(self, batch: Batch) -> list[Result]:
        """Saves a batch already taken under this packet's lock alone."""
        results: list[Result] | None = None
        try:
            with self.hub.packet_lock(self.packet_id):
                results = self._save(batch)
        except Exception as e:
            if results is None:  # the lock could not be taken
                log_failure(e, "taking the lock of packet %s", self.packet_id)
                return [e] * len(batch)
            log.warning(
                "releasing the lock of packet %s failed", self.packet_id, exc_info=True
            )
        return results

    def _save_next(
        self,
    ) -> tuple[Batch, list[Result]]:
        """Under the packet's lock: takes what is pending and saves it.

        Raises only when the lock could not be taken (nothing was taken);
        once a batch is taken, its outcomes are returned whatever happens
        when the lock is released.
        """
        batch: Batch = []
        results: list[Result] = []
        try:
            with self.hub.packet_lock(self.packet_id):
                batch = self.take()
                results = self._save(batch)
        except Exception:
            if not batch:
                raise
            log.warning(
                "releasing the lock of packet %s failed", self.packet_id, exc_info=True
            )
        return batch, results

    def _save(self, batch: Batch) -> list[Result]:
        try:
            requests = [request for request, _ in batch]
            return list(self.hub.services.app.edit_sections(self.packet_id, requests))
        except Exception as e:  # the whole batch failed (e.g. database)
            if not isinstance(e, QuireError):
                log_failure(e, "saving %d live edits", len(batch))
            return [e] * len(batch)


def log_failure(error: Exception, what: str, *args: object) -> None:
    """A database outage is a warning (each socket is told to retry); any
    other failure is logged with its traceback."""
    if isinstance(error, DATABASE_ERRORS):
        log.warning(
            what + " failed, database unavailable: %s: %s",
            *args,
            type(error).__name__,
            error,
        )
    else:
        log.exception(what + " failed", *args)

"""Group commit for live edits: the edits of one packet that arrive through
this process while a save is under way are decided together and saved in one
atomic save (`Workspace.edit_sections`), so a busy packet costs one load and
one insert per batch rather than per keystroke. Each edit is still decided
on its own, in arrival order, and answered on its own (ack, conflict, error).
At low rates a batch holds one edit and nothing waits.

A batch is taken once the packet's lock is held, not before: edits that
arrive while this process waits for another process's save join the save
that follows it, instead of waiting for one more round.
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


class PacketWriter:
    """Queues one packet's live edits and saves them in batches, in order."""

    def __init__(self, hub: LiveHub, packet_id: str) -> None:
        self.hub = hub
        self.packet_id = packet_id
        #: Appended on the event loop, taken by the saving thread: guarded.
        self.pending: list[tuple[EditRequest, asyncio.Future[Result]]] = []
        self.guard = threading.Lock()
        self.draining = False
        self.task: asyncio.Task[None] | None = None

    def submit(self, request: EditRequest) -> asyncio.Future[Result]:
        """Queues an edit; the future holds its outcome (never raises)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        with self.guard:
            self.pending.append((request, future))
        if not self.draining:
            self.draining = True
            self.task = loop.create_task(self._drain())
        return future

    def _take(self) -> list[tuple[EditRequest, asyncio.Future[Result]]]:
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
                    _log_failure(e, "taking the lock of packet %s", self.packet_id)
                    batch = self._take()
                    results = [e] * len(batch)
                self.hub.wake()  # the embedded backends poll: read it now
                prometheus.live_edits(results)
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self.draining = False
            self.hub.writer_idle(self)

    def _save_next(
        self,
    ) -> tuple[list[tuple[EditRequest, asyncio.Future[Result]]], list[Result]]:
        """Under the packet's lock: takes what is pending and saves it.

        Raises only when the lock could not be taken (nothing was taken);
        once a batch is taken, its outcomes are returned whatever happens
        when the lock is released.
        """
        batch: list[tuple[EditRequest, asyncio.Future[Result]]] = []
        results: list[Result] = []
        try:
            with self.hub.packet_lock(self.packet_id):
                batch = self._take()
                results = self._save(batch)
        except Exception:
            if not batch:
                raise
            log.warning(
                "releasing the lock of packet %s failed", self.packet_id, exc_info=True
            )
        return batch, results

    def _save(
        self, batch: list[tuple[EditRequest, asyncio.Future[Result]]]
    ) -> list[Result]:
        try:
            requests = [request for request, _ in batch]
            return list(self.hub.services.app.edit_sections(self.packet_id, requests))
        except Exception as e:  # the whole batch failed (e.g. database)
            if not isinstance(e, QuireError):
                _log_failure(e, "saving %d live edits", len(batch))
            return [e] * len(batch)


def _log_failure(error: Exception, what: str, *args: object) -> None:
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

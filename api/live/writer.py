"""Group commit for live edits: the edits of one packet that arrive through
this process while a save is under way are decided together and saved in one
atomic save (`Workspace.edit_sections`), so a busy packet costs one load and
one insert per batch rather than per keystroke. Each edit is still decided
on its own, in arrival order, and answered on its own (ack, conflict, error).
At low rates a batch holds one edit and nothing waits.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

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
        self.pending: list[tuple[EditRequest, asyncio.Future[Result]]] = []
        self.draining = False
        self.task: asyncio.Task[None] | None = None

    def submit(self, request: EditRequest) -> asyncio.Future[Result]:
        """Queues an edit; the future holds its outcome (never raises)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self.pending.append((request, future))
        if not self.draining:
            self.draining = True
            self.task = loop.create_task(self._drain())
        return future

    async def _drain(self) -> None:
        try:
            while self.pending:
                batch = self.pending[:MAX_BATCH]
                del self.pending[:MAX_BATCH]
                requests = [request for request, _ in batch]
                results: list[Result]
                try:
                    results = list(await run_in_threadpool(self._save, requests))
                except Exception as e:  # the whole batch failed (e.g. database)
                    if not isinstance(e, QuireError):
                        log.exception("saving %d live edits failed", len(batch))
                    results = [e] * len(batch)
                self.hub.wake()  # the embedded backends poll: read it now
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self.draining = False
            self.hub.writer_idle(self)

    def _save(self, requests: list[EditRequest]) -> list[EditOutcome | QuireError]:
        with self.hub.packet_lock(self.packet_id):
            return self.hub.services.app.edit_sections(self.packet_id, requests)

"""Group commit across packets (PostgreSQL): the live edits of every packet
that waits in this process are saved together, in one round trip that takes
their locks and reads what their cached copies lack, and one that inserts
and COMMITs (`Workspace.edit_packets`, workspace/pg_saves.py).

Each packet's batch is taken and decided as `PacketWriter` does it alone, in
arrival order, and each edit is answered on its own; only the save is shared.
Saved one packet at a time, each save costs two round trips, a COMMIT and the
thread hand-offs around them; with many busy packets that was most of a
server's CPU per edit (issue 18).

One round at a time. A round waits for the lock of the packet that has waited
longest (the anchor), holding nothing meanwhile, then tries the others' locks
without waiting: those another process holds come first in the next round.
So no two processes wait for each other, and every packet is saved in turn;
a round of one packet is `PacketWriter`'s save. The anchor is waited for at
most `WAIT_SECONDS`: a packet whose lock is held longer elsewhere is handed
to its own `PacketWriter`, which waits for it in a thread of its own (and
comes back to the group once its queue is empty), so it holds up no other
packet for longer than that.

When the save is refused as a whole (a version clash with a writer that took
no lock, or the batches too large together), nothing was saved, and each
batch is then saved on its own, which retries, or refuses only the batch at
fault. When the locks cannot be taken at all (the database is down), every
batch of the round is answered with the error, as each would have been.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool

from api import prometheus
from api.live.writer import Batch, PacketWriter, Result, log_failure
from workspace.pg_saves import LockBusy

if TYPE_CHECKING:
    from api.live.hub import LiveHub

log = logging.getLogger(__name__)

#: At most this many packets in one save.
MAX_PACKETS = 64
#: The longest a round waits for its anchor's lock.
WAIT_SECONDS = 0.1

Saved = list[tuple[PacketWriter, Batch, list[Result]]]


class GroupSaver:
    """Saves the waiting batches of all of a process's packets, together."""

    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        #: Writers with edits waiting, longest waiting first (loop only).
        self.ready: dict[str, PacketWriter] = {}
        self.task: asyncio.Task[None] | None = None

    def submit(self, writer: PacketWriter) -> None:
        """`writer` has edits waiting (called on the event loop)."""
        self.ready.setdefault(writer.packet_id, writer)
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            while self.ready:
                writers = list(itertools.islice(self.ready.values(), MAX_PACKETS))
                try:
                    saved = await run_in_threadpool(self._save_round, writers)
                except LockBusy:  # held long elsewhere: it waits on its own
                    del self.ready[writers[0].packet_id]
                    writers[0].drain_alone()
                    continue
                except Exception as e:  # e.g. the locks' database is down
                    log_failure(e, "taking the locks of %d packets", len(writers))
                    saved = [(w, b, [e] * len(b)) for w in writers if (b := w.take())]
                self.hub.wake()  # the embedded backends poll: read it now
                if saved:
                    prometheus.live_save(len(saved))
                for writer, batch, results in saved:
                    writer.answer(batch, results)
                self._requeue(writers, {id(w) for w, _, _ in saved})
        finally:
            self.task = None

    def _requeue(self, writers: list[PacketWriter], saved: set[int]) -> None:
        """After a round: those missed come first in the next; a saved packet
        with more waiting goes behind every other."""
        missed = {w.packet_id: w for w in writers if id(w) not in saved}
        for writer in writers:
            if id(writer) in saved:
                del self.ready[writer.packet_id]
                if writer.pending:
                    self.ready[writer.packet_id] = writer
                else:
                    self.hub.writer_idle(writer)
        if missed:
            rest = {k: w for k, w in self.ready.items() if k not in missed}
            self.ready = missed | rest

    def _save_round(self, writers: list[PacketWriter]) -> Saved:
        """Under the anchor's lock and those of the others that are free:
        takes their batches and saves them in one save. Raises only when the
        anchor's lock could not be taken (nothing was taken)."""
        anchor, others = writers[0], writers[1:]
        batches: list[tuple[PacketWriter, Batch]] = []
        results: list[list[Result]] | None = None
        app = self.hub.services.app
        try:
            with self.hub.packets_lock(
                anchor.packet_id, [w.packet_id for w in others], WAIT_SECONDS
            ) as free:
                held = [anchor] + [w for w, f in zip(others, free, strict=True) if f]
                batches = [(w, b) for w in held if (b := w.take())]
                try:
                    decided = app.edit_packets(
                        [(w.packet_id, [r for r, _ in b]) for w, b in batches]
                    )
                    if decided is not None:
                        results = [list[Result](d) for d in decided]
                except Exception as e:  # the whole save failed (e.g. database)
                    log_failure(e, "saving the live edits of %d packets", len(batches))
                    results = [[e] * len(b) for _, b in batches]
        except Exception:
            if not batches:
                raise
            log.warning("releasing the locks of a group save failed", exc_info=True)
        if results is None:  # refused as a whole: each batch on its own
            results = [w.save_alone(b) for w, b in batches]
        return [(w, b, r) for (w, b), r in zip(batches, results, strict=True)]

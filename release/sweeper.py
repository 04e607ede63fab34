"""The expiry sweeper: records lapses when their time comes.

A source or prerequisite whose `valid_until` has passed is recorded as
`SourceExpired` / `PrerequisiteLapsed` through the ordinary packet write, so
the application's consequences hook supersedes every release that depended on
it in the same save. The clock is the application's (injectable in tests).
Runs in `quire worker`, and in-process when serving the embedded default.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID

from release.background import BackgroundThread
from release.gate import is_past
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import Command, Context
from workspace.domain import Packet

log = logging.getLogger(__name__)

#: Lapses are recorded in this actor's name (an agent: it never signs).
SWEEPER = Principal("quire.sweeper", "Expiry sweeper", frozenset({"agent"}))


class ManualClock:
    """A clock that moves only when told to: inject it as `Workspace(clock=)`
    to make lapses happen on demand (tests, demos, what-if runs)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, by: timedelta) -> datetime:
        self.now += by
        return self.now


def due_lapses(packet: Packet, now: datetime) -> tuple[list[str], list[str]]:
    """(source ids, prerequisite ids) whose validity has passed unrecorded."""
    sources = [
        sid
        for sid, source in packet.sources.items()
        if source["status"] == "current" and is_past(source["valid_until"], now)
    ]
    prerequisites = [
        pid
        for pid, prerequisite in packet.prerequisites.items()
        if prerequisite["state"] == "satisfied"
        and is_past(prerequisite["valid_until"], now)
    ]
    return sources, prerequisites


def sweep_packet(app: Workspace, packet_id: UUID | str) -> tuple[Packet, int]:
    """Records what has lapsed in one packet; returns the packet as it now
    stands and how many lapses were recorded."""
    packet = app.get_packet(packet_id)
    if not any(due_lapses(packet, app.clock())):
        return packet, 0
    done = app.execute(packet_id, SWEEPER, RecordLapses())
    return done.packet, done.result


@dataclass(frozen=True)
class RecordLapses(Command):
    """The sweeper records every source and prerequisite whose `valid_until`
    has passed; the result is how many lapses it recorded."""

    def decide(self, packet: Packet, ctx: Context) -> int:
        sources, prerequisites = due_lapses(packet, ctx.now())
        meta = ctx.meta(reason="valid_until passed")
        for source_id in sources:
            packet.expire_source(meta, source_id)
        for prerequisite_id in prerequisites:
            packet.lapse_prerequisite(meta, prerequisite_id)
        return len(sources) + len(prerequisites)


def sweep(app: Workspace) -> int:
    """One pass over every packet; returns how many lapses were recorded."""
    return sum(sweep_packet(app, packet_id)[1] for packet_id in app.packet_ids())


class ExpirySweeper(BackgroundThread):
    """A background thread that sweeps every `interval` seconds."""

    thread_name = "quire-expiry-sweeper"

    def __init__(self, app: Workspace, interval: float) -> None:
        super().__init__()
        self.app = app
        self.interval = interval

    def _join_seconds(self) -> float:
        return self.interval + 5

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                count = sweep(self.app)
            except Exception:  # the next pass retries; a dead sweeper helps nobody
                log.exception("expiry sweep failed; retrying in %ss", self.interval)
            else:
                if count:
                    log.info("expiry sweep recorded %d lapses", count)
            self._stop.wait(self.interval)

    def __repr__(self) -> str:
        return f"ExpirySweeper(interval={self.interval})"

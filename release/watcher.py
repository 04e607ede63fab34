"""The source watcher: polls every watched source on its own interval.

A source cited with `watch: {poll_seconds, tolerance_seconds}` names a live
reference (`file://`, `https://`, or a plug-in's scheme: release/connectors).
The watcher reads it with a conditional request where the connector offers
one, computes the SHA-256 digest of what it read and, when that differs from
the source's digest, records a refresh by the service account
`source-watcher` through the ordinary packet write: a changed digest is
material (an agent never judges otherwise), so the application's
consequences supersede the releases resting on the source in the same save.

A failed read is recorded (`SourceFetchFailed`) without touching the digest:
on the first failure, when the error changes, and once when the failures
have lasted past the tolerance, which is when the gate starts holding
`SOURCE_UNREADABLE` (and the event re-gates open releases). The next good
read records `SourceFetchRecovered`.

Runs in `quire worker`, and in the serving process on the embedded SQLite
default (api/services.py), like the expiry sweeper. Timing is the monotonic
clock; the times recorded are the application's clock (injectable in tests).
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from release.background import BackgroundThread
from release.connectors import Fetched, FetchError, Limits, Validators, fetch
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands.base import Command, Context
from workspace.domain import Packet, iso
from workspace.errors import NotAllowedError, StateError

log = logging.getLogger(__name__)

WATCHER_ID = "source-watcher"
#: Refreshes and fetch failures are recorded in this service account's name.
SOURCE_WATCHER = Principal(WATCHER_ID, "Source watcher", frozenset({"agent"}))


def ensure_service_account(app: Workspace) -> None:
    """Creates the `source-watcher` user once (`quire db init`, or the
    watcher's first start); its token is never shown: it acts in-process."""
    if app.user_exists(WATCHER_ID):
        return
    with contextlib.suppress(StateError):  # another process created it first
        app.add_user(WATCHER_ID, "Source watcher", roles=["agent"], actor="system")


@dataclass(frozen=True)
class Outcome:
    """What one read of a watched source found."""

    kind: Literal["read", "unchanged", "failed"]
    at: datetime
    digest: str | None = None
    error_code: str = ""
    error: str = ""


def needs_record(source: dict[str, Any], outcome: Outcome) -> bool:
    """Whether `outcome` changes what the packet says of `source`."""
    if source["status"] == "withdrawn" or not source.get("watch"):
        return False
    fetch_state = source.get("fetch") or {}
    failing = fetch_state.get("state") == "failing"
    if outcome.kind == "read":
        return failing or outcome.digest != source["digest"]
    if outcome.kind == "unchanged":
        return failing
    if not failing or fetch_state.get("error_code") != outcome.error_code:
        return True
    return _beyond(source, outcome.at) and not fetch_state.get("beyond_tolerance")


def _failing_since(source: dict[str, Any], at: datetime) -> str:
    fetch_state = source.get("fetch") or {}
    if fetch_state.get("state") == "failing":
        return str(fetch_state["since"])
    return iso(at) or ""


def _beyond(source: dict[str, Any], at: datetime) -> bool:
    since = datetime.fromisoformat(_failing_since(source, at))
    return at - since >= timedelta(seconds=source["watch"]["tolerance_seconds"])


@dataclass(frozen=True)
class RecordFetch(Command):
    """What the watcher found, decided on fresh state (so two watchers, or
    a retry, record a change once). Only the `source-watcher` account may
    send it; no HTTP route builds it."""

    source_id: str
    outcome: Outcome

    def authorize(self, principal: Principal, packet: Packet) -> None:
        if principal.user_id != WATCHER_ID or not principal.is_agent:
            raise NotAllowedError(
                "ROLE_NOT_ALLOWED",
                "only the source watcher records what a watched source says",
                {"user": principal.user_id},
            )

    def decide(self, packet: Packet, ctx: Context) -> bool:
        source = packet.source(self.source_id)
        outcome = self.outcome
        if not needs_record(source, outcome):
            return False
        failing = (source.get("fetch") or {}).get("state") == "failing"
        if outcome.kind in ("read", "unchanged"):
            if failing:
                packet.record_fetch_recovery(ctx.meta(), self.source_id)
            if outcome.kind == "read" and outcome.digest != source["digest"]:
                packet.refresh_source(
                    ctx.meta(reason=f"the digest of {source['reference']} changed"),
                    self.source_id,
                    digest=outcome.digest or "",
                    material=True,
                )
            return True
        packet.record_fetch_failure(
            ctx.meta(reason="the watched source could not be read"),
            self.source_id,
            error_code=outcome.error_code,
            error=outcome.error,
            failing_since=_failing_since(source, outcome.at),
            beyond_tolerance=_beyond(source, outcome.at),
        )
        return True


@dataclass
class Watched:
    """The watcher's memory of one source (lost on restart: it reads again)."""

    packet_id: UUID
    source_id: str
    reference: str
    poll_seconds: int
    due: float = 0.0
    validators: Validators = field(default_factory=Validators)


def watched_sources(packet: Packet) -> list[tuple[str, dict[str, Any]]]:
    return [
        (sid, source)
        for sid, source in packet.sources.items()
        if source.get("watch") and source["status"] != "withdrawn"
    ]


def read(reference: str, limits: Limits, entry: Watched, at: datetime) -> Outcome:
    try:
        got = fetch(reference, limits, entry.validators)
    except FetchError as e:
        return Outcome("failed", at, error_code=e.code, error=e.message)
    except Exception as e:  # a plug-in's own failure is a failed read too
        return Outcome("failed", at, error_code="FETCH_FAILED", error=repr(e)[:300])
    if isinstance(got, Fetched):
        entry.validators = got.validators
        return Outcome("read", at, digest=got.digest)
    return Outcome("unchanged", at)


def poll(app: Workspace, limits: Limits, entry: Watched) -> bool:
    """Reads one source and records what changed; True when something was."""
    outcome = read(entry.reference, limits, entry, app.clock())
    packet = app.get_packet(entry.packet_id)
    source = packet.sources.get(entry.source_id)
    if source is None or not needs_record(source, outcome):
        return False
    # Created on the first read it records (and by `quire db init`), so a
    # process that watches nothing writes nothing.
    ensure_service_account(app)
    done = app.execute(
        entry.packet_id, SOURCE_WATCHER, RecordFetch(entry.source_id, outcome)
    )
    return bool(done.result)


class SourceWatcher(BackgroundThread):
    """A background thread polling every watched source when it is due."""

    thread_name = "quire-source-watcher"

    def __init__(self, app: Workspace, scan_seconds: float | None = None) -> None:
        super().__init__()
        self.app = app
        self.limits = Limits.from_settings(app.settings)
        self.scan_seconds = (
            app.settings.watch_scan_seconds if scan_seconds is None else scan_seconds
        )
        self.entries: dict[tuple[UUID, str], Watched] = {}
        self._scanned = float("-inf")

    def _join_seconds(self) -> float:
        return self.limits.timeout_seconds + 5

    def scan(self) -> None:
        """Finds the watched sources of every packet (new ones are due now)."""
        found: dict[tuple[UUID, str], Watched] = {}
        for packet_id in self.app.packet_ids():
            packet = self.app.get_packet(packet_id)
            for sid, source in watched_sources(packet):
                key = (packet.id, sid)
                entry = self.entries.get(key) or Watched(
                    packet.id, sid, source["reference"], source["watch"]["poll_seconds"]
                )
                found[key] = entry
        self.entries = found
        self._scanned = time.monotonic()

    def pass_once(self) -> int:
        """Polls every due source once; returns how many changes it recorded."""
        if time.monotonic() - self._scanned >= self.scan_seconds:
            self.scan()
        recorded = 0
        for entry in list(self.entries.values()):
            now = time.monotonic()
            if entry.due > now or self._stop.is_set():
                continue
            entry.due = now + entry.poll_seconds
            try:
                recorded += poll(self.app, self.limits, entry)
            except Exception:  # the next poll retries
                log.exception("recording a read of %s failed", entry.reference)
        return recorded

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                count = self.pass_once()
            except Exception:
                log.exception("source watch pass failed; retrying")
            else:
                if count:
                    log.info("source watcher recorded %d change(s)", count)
            due = [e.due for e in self.entries.values()]
            wait = min([*due, self._scanned + self.scan_seconds]) - time.monotonic()
            self._stop.wait(min(max(wait, 0.05), 1.0))

    def __repr__(self) -> str:
        return f"SourceWatcher(sources={len(self.entries)})"

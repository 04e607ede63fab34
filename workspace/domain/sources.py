"""Cited sources: events and commands."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from workspace.domain.base import (
    EntryEvent,
    Meta,
    PacketBase,
    copied,
    iso,
    require_text,
)
from workspace.errors import (
    InvalidInputError,
    StateError,
)

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class SourceEvent(EntryEvent, entries="sources", key="source_id", id_prefix="src"):
    """An event about one cited source (no TOPIC: the base of those below)."""

    source_id: str


class SourceCited(SourceEvent):
    TOPIC = "quire.packet.SourceCited"
    kind: str
    title: str
    reference: str
    digest: str
    precedence: int
    valid_until: str | None
    #: `{poll_seconds, tolerance_seconds}` of a live reference (absent before
    #: issue 16): the source watcher polls it (release/watcher.py).
    watch: dict[str, int] | None = None

    def fold(self, packet: Packet) -> None:
        source = self.add_entry(
            packet,
            "kind",
            "title",
            "reference",
            "digest",
            "precedence",
            "valid_until",
            status="current",
            cited_by=self.actor,
            refreshes=0,
        )
        packet.source_order.append(self.source_id)
        if self.watch is not None:
            source["watch"] = dict(self.watch)


class SourceRefreshed(SourceEvent):
    TOPIC = "quire.packet.SourceRefreshed"
    digest: str
    previous_digest: str
    material: bool
    valid_until: str | None

    def fold(self, packet: Packet) -> None:
        source = self.entry(packet)
        source["digest"] = self.digest
        source["valid_until"] = self.valid_until
        source["status"] = "current"
        source["refreshes"] += 1
        if self.material:  # drift since a cut is judged by the release gate
            source["material_version"] = self.originator_version
        elif self.digest != self.previous_digest:
            # The release owner judged a changed digest non-material: the
            # judgement and its reason are bound into later manifests.
            source.setdefault("non_material", []).append(
                {
                    **copied(self, "digest", "previous_digest", "reason"),
                    "judged_by": self.actor,
                    "at": iso(self.timestamp),
                    "version": self.originator_version,
                }
            )


class SourceWithdrawn(SourceEvent):
    TOPIC = "quire.packet.SourceWithdrawn"
    sets = {"status": "withdrawn"}


class SourceExpired(SourceEvent):
    TOPIC = "quire.packet.SourceExpired"
    counts_as_work = False
    sets = {"status": "expired"}


class SourceFetchFailed(SourceEvent):
    """The source watcher could not read a watched source; the digest stays.
    Recorded on the first failure, when the error changes, and once when the
    failures have lasted past the source's tolerance (`beyond_tolerance`)."""

    TOPIC = "quire.packet.SourceFetchFailed"
    error_code: str
    error: str
    failing_since: str
    beyond_tolerance: bool = False

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        source = self.entry(packet)
        previous = source.get("fetch") or {}
        source["fetch"] = {
            "state": "failing",
            "since": self.failing_since,
            **copied(self, "error_code", "error"),
            "last_failure_at": iso(self.timestamp),
            "beyond_tolerance": self.beyond_tolerance,
            "failures_recorded": previous.get("failures_recorded", 0) + 1
            if previous.get("state") == "failing"
            else 1,
        }


class SourceFetchRecovered(SourceEvent):
    """A watched source that was failing (or never read) was read again."""

    TOPIC = "quire.packet.SourceFetchRecovered"
    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        source = self.entry(packet)
        previous = source.get("fetch") or {}
        source["fetch"] = {"state": "ok", "read_at": iso(self.timestamp)}
        if previous.get("state") == "failing":
            source["fetch"]["recovered_from"] = previous.get("error_code")


WATCH_POLL_MIN = 1
WATCH_POLL_MAX = 7 * 24 * 3600


def check_watch(watch: object) -> dict[str, int]:
    """`{poll_seconds, tolerance_seconds?}` (the tolerance defaults to three
    polls): whole seconds, at least 1, at most a week (a tolerance up to 30
    days)."""
    known = {"poll_seconds", "tolerance_seconds"}
    if not isinstance(watch, dict) or set(watch) - known:
        raise InvalidInputError(
            "WATCH_INVALID", "watch is {poll_seconds, tolerance_seconds?}"
        )
    poll = watch.get("poll_seconds")
    tolerance = watch.get("tolerance_seconds")
    if tolerance is None and isinstance(poll, int):
        tolerance = 3 * poll
    for name, value, top in (
        ("poll_seconds", poll, WATCH_POLL_MAX),
        ("tolerance_seconds", tolerance, 30 * 24 * 3600),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError("WATCH_INVALID", f"{name} must be an integer")
        if not WATCH_POLL_MIN <= value <= top:
            raise InvalidInputError(
                "WATCH_INVALID",
                f"{name} must be between {WATCH_POLL_MIN} and {top}",
                {name: value},
            )
    assert isinstance(poll, int) and isinstance(tolerance, int)
    return {"poll_seconds": poll, "tolerance_seconds": tolerance}


class SourceCommands(PacketBase):
    """The packet's sources commands (a mixin of `Packet`)."""

    def cite_source(
        self,
        meta: Meta,
        *,
        kind: str,
        title: str,
        reference: str,
        digest: str,
        precedence: int,
        valid_until: datetime | None,
        watch: dict[str, int] | None = None,
    ) -> str:
        if isinstance(precedence, bool) or not isinstance(precedence, int):
            raise InvalidInputError("PRECEDENCE_INVALID", "precedence must be an int")
        return self._add_entry(
            SourceCited,
            meta,
            kind=require_text("SOURCE_KIND_EMPTY", "kind", kind, 100),
            title=require_text("TITLE_EMPTY", "title", title),
            reference=require_text("REFERENCE_EMPTY", "reference", reference, 2000),
            digest=require_text("DIGEST_EMPTY", "digest", digest, 200),
            precedence=precedence,
            valid_until=iso(valid_until),
            watch=None if watch is None else check_watch(watch),
        )

    def refresh_source(
        self,
        meta: Meta,
        source_id: str,
        *,
        digest: str,
        material: bool,
        valid_until: datetime | None = None,
    ) -> None:
        source = self._cited_source(source_id)
        self._trigger(
            SourceRefreshed,
            meta,
            source_id=source_id,
            digest=require_text("DIGEST_EMPTY", "digest", digest, 200),
            previous_digest=source["digest"],
            material=bool(material),
            valid_until=iso(valid_until)
            if valid_until is not None
            else source["valid_until"],
        )

    def withdraw_source(self, meta: Meta, source_id: str) -> None:
        self._cited_source(source_id)
        self._trigger(SourceWithdrawn, meta, source_id=source_id)

    def _cited_source(self, source_id: str) -> dict[str, Any]:
        """A source not withdrawn (409 `SOURCE_WITHDRAWN`)."""
        source = self.source(source_id)
        if source["status"] == "withdrawn":
            raise StateError("SOURCE_WITHDRAWN", f"{source_id} was withdrawn")
        return source

    def expire_source(self, meta: Meta, source_id: str) -> None:
        self._trigger(SourceExpired, meta, source_id=source_id)

    def record_fetch_failure(
        self,
        meta: Meta,
        source_id: str,
        *,
        error_code: str,
        error: str,
        failing_since: str,
        beyond_tolerance: bool,
    ) -> None:
        self.source(source_id)
        self._trigger(
            SourceFetchFailed,
            meta,
            source_id=source_id,
            error_code=error_code,
            error=error[:500],
            failing_since=failing_since,
            beyond_tolerance=beyond_tolerance,
        )

    def record_fetch_recovery(self, meta: Meta, source_id: str) -> None:
        self.source(source_id)
        self._trigger(SourceFetchRecovered, meta, source_id=source_id)

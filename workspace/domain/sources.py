"""Cited sources: events and commands."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from workspace.domain.base import (
    Meta,
    PacketBase,
    PacketEvent,
    iso,
    require_text,
)
from workspace.errors import (
    InvalidInputError,
    StateError,
)

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class SourceCited(PacketEvent):
    TOPIC = "quire.packet.SourceCited"
    class_version = 1
    source_id: str
    kind: str
    title: str
    reference: str
    digest: str
    precedence: int
    valid_until: str | None

    def fold(self, packet: Packet) -> None:
        packet.counters["source"] = packet.counters.get("source", 0) + 1
        packet.sources[self.source_id] = {
            "id": self.source_id,
            "kind": self.kind,
            "title": self.title,
            "reference": self.reference,
            "digest": self.digest,
            "precedence": self.precedence,
            "valid_until": self.valid_until,
            "status": "current",
            "cited_by": self.actor,
            "refreshes": 0,
        }
        packet.source_order.append(self.source_id)


class SourceRefreshed(PacketEvent):
    TOPIC = "quire.packet.SourceRefreshed"
    class_version = 1
    source_id: str
    digest: str
    previous_digest: str
    material: bool
    valid_until: str | None

    def fold(self, packet: Packet) -> None:
        source = packet.sources[self.source_id]
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
                    "digest": self.digest,
                    "previous_digest": self.previous_digest,
                    "reason": self.reason,
                    "judged_by": self.actor,
                    "at": iso(self.timestamp),
                    "version": self.originator_version,
                }
            )


class SourceWithdrawn(PacketEvent):
    TOPIC = "quire.packet.SourceWithdrawn"
    class_version = 1
    source_id: str

    def fold(self, packet: Packet) -> None:
        packet.sources[self.source_id]["status"] = "withdrawn"


class SourceExpired(PacketEvent):
    TOPIC = "quire.packet.SourceExpired"
    class_version = 1
    source_id: str

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        packet.sources[self.source_id]["status"] = "expired"


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
    ) -> str:
        if isinstance(precedence, bool) or not isinstance(precedence, int):
            raise InvalidInputError("PRECEDENCE_INVALID", "precedence must be an int")
        source_id = self._next_id("source", "src")
        self._trigger(
            SourceCited,
            meta,
            source_id=source_id,
            kind=require_text("SOURCE_KIND_EMPTY", "kind", kind, 100),
            title=require_text("TITLE_EMPTY", "title", title),
            reference=require_text("REFERENCE_EMPTY", "reference", reference, 2000),
            digest=require_text("DIGEST_EMPTY", "digest", digest, 200),
            precedence=precedence,
            valid_until=iso(valid_until),
        )
        return source_id

    def refresh_source(
        self,
        meta: Meta,
        source_id: str,
        *,
        digest: str,
        material: bool,
        valid_until: datetime | None = None,
    ) -> None:
        source = self.source(source_id)
        if source["status"] == "withdrawn":
            raise StateError("SOURCE_WITHDRAWN", f"{source_id} was withdrawn")
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
        source = self.source(source_id)
        if source["status"] == "withdrawn":
            raise StateError("SOURCE_WITHDRAWN", f"{source_id} was withdrawn")
        self._trigger(SourceWithdrawn, meta, source_id=source_id)

    def expire_source(self, meta: Meta, source_id: str) -> None:
        self._trigger(SourceExpired, meta, source_id=source_id)

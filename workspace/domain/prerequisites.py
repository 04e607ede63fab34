"""Prerequisites: events and commands."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from workspace.domain.base import (
    TEXT_FIELD_MAX,
    Meta,
    PacketBase,
    PacketEvent,
    iso,
    require_text,
)

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class PrerequisiteDeclared(PacketEvent):
    TOPIC = "quire.packet.PrerequisiteDeclared"
    class_version = 1
    prerequisite_id: str
    title: str
    satisfied: bool
    valid_until: str | None

    def fold(self, packet: Packet) -> None:
        packet.counters["prerequisite"] = packet.counters.get("prerequisite", 0) + 1
        packet.prerequisites[self.prerequisite_id] = {
            "id": self.prerequisite_id,
            "title": self.title,
            "state": "satisfied" if self.satisfied else "unmet",
            "valid_until": self.valid_until,
            "evidence": None,
        }


class PrerequisiteSatisfied(PacketEvent):
    TOPIC = "quire.packet.PrerequisiteSatisfied"
    class_version = 1
    prerequisite_id: str
    evidence: str
    valid_until: str | None

    def fold(self, packet: Packet) -> None:
        prerequisite = packet.prerequisites[self.prerequisite_id]
        prerequisite["state"] = "satisfied"
        prerequisite["evidence"] = self.evidence
        prerequisite["valid_until"] = self.valid_until


class PrerequisiteLapsed(PacketEvent):
    TOPIC = "quire.packet.PrerequisiteLapsed"
    class_version = 1
    prerequisite_id: str

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        packet.prerequisites[self.prerequisite_id]["state"] = "lapsed"


class PrerequisiteCommands(PacketBase):
    """The packet's prerequisites commands (a mixin of `Packet`)."""

    def declare_prerequisite(
        self,
        meta: Meta,
        *,
        title: str,
        satisfied: bool,
        valid_until: datetime | None,
    ) -> str:
        prerequisite_id = self._next_id("prerequisite", "pre")
        self._trigger(
            PrerequisiteDeclared,
            meta,
            prerequisite_id=prerequisite_id,
            title=require_text("TITLE_EMPTY", "title", title),
            satisfied=bool(satisfied),
            valid_until=iso(valid_until),
        )
        return prerequisite_id

    def satisfy_prerequisite(
        self,
        meta: Meta,
        prerequisite_id: str,
        *,
        evidence: str,
        valid_until: datetime | None,
    ) -> None:
        self.prerequisite(prerequisite_id)
        self._trigger(
            PrerequisiteSatisfied,
            meta,
            prerequisite_id=prerequisite_id,
            evidence=require_text(
                "EVIDENCE_EMPTY", "evidence", evidence, TEXT_FIELD_MAX
            ),
            valid_until=iso(valid_until),
        )

    def lapse_prerequisite(self, meta: Meta, prerequisite_id: str) -> None:
        self._trigger(PrerequisiteLapsed, meta, prerequisite_id=prerequisite_id)

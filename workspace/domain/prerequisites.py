"""Prerequisites: events and commands."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from workspace.domain.base import (
    TEXT_FIELD_MAX,
    EntryEvent,
    Meta,
    PacketBase,
    iso,
    require_text,
)

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class PrerequisiteEvent(
    EntryEvent, entries="prerequisites", key="prerequisite_id", id_prefix="pre"
):
    """An event about one prerequisite (no TOPIC: the base of those below)."""

    prerequisite_id: str


class PrerequisiteDeclared(PrerequisiteEvent):
    TOPIC = "quire.packet.PrerequisiteDeclared"
    title: str
    satisfied: bool
    valid_until: str | None

    def fold(self, packet: Packet) -> None:
        self.add_entry(
            packet,
            "title",
            state="satisfied" if self.satisfied else "unmet",
            valid_until=self.valid_until,
            evidence=None,
        )


class PrerequisiteSatisfied(PrerequisiteEvent):
    TOPIC = "quire.packet.PrerequisiteSatisfied"
    evidence: str
    valid_until: str | None

    sets = {"state": "satisfied"}
    copies = ("evidence", "valid_until")


class PrerequisiteLapsed(PrerequisiteEvent):
    TOPIC = "quire.packet.PrerequisiteLapsed"
    counts_as_work = False
    sets = {"state": "lapsed"}


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
        return self._add_entry(
            PrerequisiteDeclared,
            meta,
            title=require_text("TITLE_EMPTY", "title", title),
            satisfied=bool(satisfied),
            valid_until=iso(valid_until),
        )

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

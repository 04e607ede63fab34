"""Sections and their live text edits: events and commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.base import (
    EntryEvent,
    Meta,
    PacketBase,
    _check_text,
    _ops,
    require_text,
)
from workspace.errors import (
    InvalidInputError,
)
from workspace.rebase import Op, apply_ops

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class SectionEvent(EntryEvent, entries="sections", key="section_id", id_prefix="sec"):
    """An event about one section (no TOPIC: the base of those below)."""

    section_id: str


class SectionAdded(SectionEvent):
    TOPIC = "quire.packet.SectionAdded"
    heading: str
    text: str
    position: int

    def fold(self, packet: Packet) -> None:
        self.add_entry(
            packet, "heading", "text", last_edit_version=self.originator_version
        )
        packet.section_order.insert(self.position, self.section_id)


class SectionRetitled(SectionEvent):
    TOPIC = "quire.packet.SectionRetitled"
    heading: str

    copies = ("heading",)


class SectionMoved(SectionEvent):
    TOPIC = "quire.packet.SectionMoved"
    position: int

    def fold(self, packet: Packet) -> None:
        packet.section_order.remove(self.section_id)
        packet.section_order.insert(self.position, self.section_id)


class SectionRemoved(SectionEvent):
    TOPIC = "quire.packet.SectionRemoved"

    def fold(self, packet: Packet) -> None:
        packet.section_order.remove(self.section_id)
        self.entry(packet)["removed"] = True


class SectionTextEdited(SectionEvent):
    """Ops are stored as applied: already rebased onto the text just before."""

    TOPIC = "quire.packet.SectionTextEdited"
    base_version: int
    ops: list[dict[str, Any]]
    suggestion_id: str | None
    #: Commitments the edit introduces (a human's edit is flagged, never
    #: refused: workspace/boundary_edits.py; absent before issue 16).
    boundary_flags: list[dict[str, str]] | None = None

    def fold(self, packet: Packet) -> None:
        section = self.entry(packet)
        section["text"] = apply_ops(section["text"], _ops(self.ops))
        section["last_edit_version"] = self.originator_version
        if self.suggestion_id is not None:
            suggestion = packet.suggestions[self.suggestion_id]
            suggestion["state"] = "accepted"
            suggestion["accepted_by"] = self.actor
            if suggestion.get("boundary_flags") and self.reason:
                # Accepted over its boundary flags: who, and why.
                suggestion["override"] = {"by": self.actor, "reason": self.reason}
        packet.remember_client(self, {"version": self.originator_version})


class SectionCommands(PacketBase):
    """The packet's sections commands (a mixin of `Packet`)."""

    def add_section(
        self,
        meta: Meta,
        *,
        heading: str,
        text: str,
        max_bytes: int,
        position: int | None = None,
    ) -> str:
        heading = require_text("HEADING_EMPTY", "heading", heading)
        _check_text(text, max_bytes)
        if position is None:
            position = len(self.section_order)
        if not 0 <= position <= len(self.section_order):
            raise InvalidInputError(
                "POSITION_OUT_OF_RANGE",
                f"position must be between 0 and {len(self.section_order)}",
            )
        return self._add_entry(
            SectionAdded, meta, heading=heading, text=text, position=position
        )

    def retitle_section(self, meta: Meta, section_id: str, heading: str) -> None:
        self.section(section_id)
        self._trigger(
            SectionRetitled,
            meta,
            section_id=section_id,
            heading=require_text("HEADING_EMPTY", "heading", heading),
        )

    def move_section(self, meta: Meta, section_id: str, position: int) -> None:
        self.section(section_id)
        if not 0 <= position < len(self.section_order):
            raise InvalidInputError(
                "POSITION_OUT_OF_RANGE",
                f"position must be between 0 and {len(self.section_order) - 1}",
            )
        self._trigger(SectionMoved, meta, section_id=section_id, position=position)

    def remove_section(self, meta: Meta, section_id: str) -> None:
        self.section(section_id)
        self._trigger(SectionRemoved, meta, section_id=section_id)

    def edit_section(
        self,
        meta: Meta,
        *,
        section_id: str,
        base_version: int,
        ops: list[Op],
        max_bytes: int,
        suggestion_id: str | None = None,
        boundary_flags: list[dict[str, str]] | None = None,
    ) -> None:
        """Applies ops already rebased onto the section's current text."""
        section = self.section(section_id)
        _check_text(apply_ops(section["text"], ops), max_bytes)
        self._trigger(
            SectionTextEdited,
            meta,
            section_id=section_id,
            base_version=base_version,
            ops=[dict(op) for op in ops],
            suggestion_id=suggestion_id,
            boundary_flags=boundary_flags or None,
        )

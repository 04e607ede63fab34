"""Revisions: the content a revision hashes, and cutting one."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.content import modules
from workspace.domain.base import (
    Meta,
    PacketBase,
    PacketEvent,
    iso,
    require_text,
)
from workspace.errors import (
    InvalidInputError,
)
from workspace.hashing import content_hash
from workspace.revision_texts import compact, index_of

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class RevisionCut(PacketEvent):
    """An exact, immutable cut; carries its content so readers need no fold.

    Version 2 stores each section text once: an unchanged one refers to the
    revision holding it, a large one is compressed (`workspace/revision_texts.py`;
    `expand` gives the content the hash covers). Version 1 events stored every
    text in full; their content reads the same way."""

    TOPIC = "quire.packet.RevisionCut"
    class_version = 2
    number: int
    label: str | None
    content_hash: str
    content: dict[str, Any]

    counts_as_work = False

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Version 1's full content is a valid version 2 content (no refs)."""

    def fold(self, packet: Packet) -> None:
        packet.revisions.append(
            {
                "number": self.number,
                "label": self.label,
                "content_hash": self.content_hash,
                "version": self.originator_version,
                "cut_by": self.actor,
                "cut_at": iso(self.timestamp),
                "contributors": list(packet.contributors),
                "source_digests": {
                    s["id"]: s["digest"] for s in self.content["sources"]
                },
                "authors": sorted(set(packet.contributors) | {self.actor}),
                "texts": index_of(self.content, self.number, packet.revisions),
            }
        )
        packet.contributors = []


class RevisionCommands(PacketBase):
    """The packet's revisions commands (a mixin of `Packet`)."""

    def content(self) -> dict[str, Any]:
        """What a revision's hash covers (see ARCHITECTURE.md, 'Content hash'):
        kind, title and every registered content module's part
        (`workspace/content/`: sections, sources, prerequisites, ...); a
        module whose part is None is left out. Not included: objections,
        conflicts, suggestions, releases, members; the release manifest
        carries objection state."""
        content: dict[str, Any] = {"kind": self.kind, "title": self.title}
        for module in modules():
            part = module.content(self)
            if part is not None:
                content[module.key] = part
        return content

    def cut_revision(self, meta: Meta, label: str | None) -> int:
        if label is not None:
            label = require_text("LABEL_EMPTY", "label", label, 200)
            if any(r["label"] == label for r in self.revisions):
                raise InvalidInputError(
                    "LABEL_TAKEN", f"a revision is already labelled {label!r}"
                )
        content = self.content()
        number = len(self.revisions) + 1
        previous = self.revisions[-1].get("texts", {}) if self.revisions else {}
        stored, _ = compact(content, number, previous)
        self._trigger(
            RevisionCut,
            meta,
            number=number,
            label=label,
            content_hash=content_hash(content),
            content=stored,
        )
        return number

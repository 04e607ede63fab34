"""Section commands, and the human answers to agents' suggestions and to edit
conflicts (live text edits are batched: `Workspace.edit_sections`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workspace.commands.base import Context, PacketCall


@dataclass(frozen=True)
class AddSection(PacketCall, action="edit", method="add_section"):
    """Adds a section (at `position`, or last); the result is its id."""

    heading: str
    text: str
    position: int | None = None

    def arguments(self, ctx: Context) -> dict[str, Any]:
        return {**super().arguments(ctx), "max_bytes": ctx.settings.section_max_bytes}


@dataclass(frozen=True)
class _SectionEdit(PacketCall, action="edit"):
    """An edit of one section (its heading, place or existence)."""

    section_id: str


@dataclass(frozen=True)
class RetitleSection(_SectionEdit, method="retitle_section"):
    heading: str


@dataclass(frozen=True)
class MoveSection(_SectionEdit, method="move_section"):
    position: int


@dataclass(frozen=True)
class RemoveSection(_SectionEdit, method="remove_section"):
    pass


@dataclass(frozen=True)
class RejectSuggestion(
    PacketCall, action="accept_suggestion", method="reject_suggestion"
):
    """Rejects an agent's suggestion, keeping the reason and category."""

    suggestion_id: str
    reason: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class ResolveConflict(PacketCall, action="resolve_conflict", method="resolve_conflict"):
    conflict_id: str
    resolution: str

"""Section commands, and the human answers to agents' suggestions and to edit
conflicts (live text edits are batched: `Workspace.edit_sections`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workspace.commands.base import Context, PacketCall


@dataclass(frozen=True)
class AddSection(PacketCall):
    """Adds a section (at `position`, or last); the result is its id."""

    action = "edit"
    method = "add_section"
    heading: str
    text: str
    position: int | None = None

    def arguments(self, ctx: Context) -> dict[str, Any]:
        return {**super().arguments(ctx), "max_bytes": ctx.settings.section_max_bytes}


@dataclass(frozen=True)
class RetitleSection(PacketCall):
    action = "edit"
    method = "retitle_section"
    section_id: str
    heading: str


@dataclass(frozen=True)
class MoveSection(PacketCall):
    action = "edit"
    method = "move_section"
    section_id: str
    position: int


@dataclass(frozen=True)
class RemoveSection(PacketCall):
    action = "edit"
    method = "remove_section"
    section_id: str


@dataclass(frozen=True)
class RejectSuggestion(PacketCall):
    """Rejects an agent's suggestion, keeping the reason and category."""

    action = "accept_suggestion"
    method = "reject_suggestion"
    meta_fields = ("reason",)
    suggestion_id: str
    reason: str | None = None
    category: str | None = None


@dataclass(frozen=True)
class ResolveConflict(PacketCall):
    action = "resolve_conflict"
    method = "resolve_conflict"
    conflict_id: str
    resolution: str

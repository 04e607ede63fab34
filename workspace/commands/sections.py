"""Section commands, and the human answers to agents' suggestions and to edit
conflicts (live text edits are batched: `Workspace.edit_sections`)."""

from __future__ import annotations

from dataclasses import dataclass

from workspace.commands.base import Command, Context
from workspace.domain import Packet


@dataclass(frozen=True)
class AddSection(Command):
    action = "edit"
    heading: str
    text: str
    position: int | None = None

    def decide(self, packet: Packet, ctx: Context) -> str:
        return packet.add_section(
            ctx.meta(),
            heading=self.heading,
            text=self.text,
            max_bytes=ctx.settings.section_max_bytes,
            position=self.position,
        )


@dataclass(frozen=True)
class RetitleSection(Command):
    action = "edit"
    section_id: str
    heading: str

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.retitle_section(ctx.meta(), self.section_id, self.heading)


@dataclass(frozen=True)
class MoveSection(Command):
    action = "edit"
    section_id: str
    position: int

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.move_section(ctx.meta(), self.section_id, self.position)


@dataclass(frozen=True)
class RemoveSection(Command):
    action = "edit"
    section_id: str

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.remove_section(ctx.meta(), self.section_id)


@dataclass(frozen=True)
class RejectSuggestion(Command):
    """Rejects an agent's suggestion, keeping the reason and category."""

    action = "accept_suggestion"
    suggestion_id: str
    reason: str | None = None
    category: str | None = None

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.reject_suggestion(
            ctx.meta(reason=self.reason), self.suggestion_id, self.category
        )


@dataclass(frozen=True)
class ResolveConflict(Command):
    action = "resolve_conflict"
    conflict_id: str
    resolution: str

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.resolve_conflict(ctx.meta(), self.conflict_id, self.resolution)

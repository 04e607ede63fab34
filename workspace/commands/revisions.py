"""Cutting a revision."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workspace.commands.base import Command, Context
from workspace.domain import Packet


@dataclass(frozen=True)
class CutRevision(Command, action="cut_revision"):
    """The result is the new revision's record (number, label, hash...)."""

    label: str | None = None

    def decide(self, packet: Packet, ctx: Context) -> dict[str, Any]:
        return packet.revision(packet.cut_revision(ctx.meta(), self.label))

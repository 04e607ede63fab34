"""Prerequisite commands: declare, satisfy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from workspace.commands.base import Command, Context
from workspace.domain import Packet


@dataclass(frozen=True)
class DeclarePrerequisite(Command):
    action = "declare_prerequisite"
    title: str
    satisfied: bool
    valid_until: datetime | None = None

    def decide(self, packet: Packet, ctx: Context) -> str:
        return packet.declare_prerequisite(
            ctx.meta(),
            title=self.title,
            satisfied=self.satisfied,
            valid_until=self.valid_until,
        )


@dataclass(frozen=True)
class SatisfyPrerequisite(Command):
    action = "satisfy_prerequisite"
    prerequisite_id: str
    evidence: str
    valid_until: datetime | None = None

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.satisfy_prerequisite(
            ctx.meta(),
            self.prerequisite_id,
            evidence=self.evidence,
            valid_until=self.valid_until,
        )

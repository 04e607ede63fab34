"""Worksheet commands: create one, set its facts, add an interpretation.

Only the packet's human authors (and the release owner) edit worksheets (the
role table's "edit"); agents may not set facts (403 AGENT_NOT_ALLOWED).
Facts and rules are checked by the calculator's parser (422 with its codes)
before anything is triggered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workspace.commands.base import Command, Context
from workspace.domain import Packet
from workspace.domain import worksheets as ws


@dataclass(frozen=True)
class _WorksheetEdit(Command, action="edit"):
    """Every worksheet command needs the role table's `edit`."""


@dataclass(frozen=True)
class CreateWorksheet(_WorksheetEdit):
    title: str
    facts: Any
    cites: Any

    def decide(self, packet: Packet, ctx: Context) -> str:
        return ws.create_worksheet(
            packet,
            ctx.meta(),
            title=self.title,
            facts=self.facts,
            cites=self.cites,
            max_windows=ctx.settings.calc_max_windows,
        )


@dataclass(frozen=True)
class SetWorksheetFacts(_WorksheetEdit):
    """New facts, set against the cited sources' current digests."""

    worksheet_id: str
    facts: Any

    def decide(self, packet: Packet, ctx: Context) -> None:
        facts = ws.prepare_facts(
            packet, self.worksheet_id, self.facts, ctx.settings.calc_max_windows
        )
        ws.update_facts(packet, ctx.meta(), self.worksheet_id, facts)


@dataclass(frozen=True)
class AddInterpretation(_WorksheetEdit):
    worksheet_id: str
    name: str
    rules: Any
    objection_id: str | None = None

    def decide(self, packet: Packet, ctx: Context) -> str:
        return ws.add_interpretation(
            packet,
            ctx.meta(),
            self.worksheet_id,
            name=self.name,
            rules=self.rules,
            objection_id=self.objection_id,
        )

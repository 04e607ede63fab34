"""Source commands: cite, refresh (material unless the owner judges it not),
withdraw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workspace import policy
from workspace.commands.base import Command, Context, PacketCall
from workspace.domain import TEXT_FIELD_MAX, Packet, require_text
from workspace.domain import worksheets as ws
from workspace.errors import NotAllowedError, UnprocessableError


@dataclass(frozen=True)
class CiteSource(PacketCall, action="cite_source", method="cite_source"):
    """Cites a source (the result is its id)."""

    kind: str
    title: str
    reference: str
    digest: str
    precedence: int
    valid_until: datetime | None = None
    #: `{poll_seconds, tolerance_seconds?}`: watched by the source watcher
    #: (the reference is checked against the connectors by the caller).
    watch: dict[str, Any] | None = None


@dataclass(frozen=True)
class RefreshSource(Command, action="refresh_source"):
    """A changed digest is material (drift) unless the release owner, and
    only they, judges it otherwise, with a reason (403
    MATERIALITY_NOT_ALLOWED for anyone else, agents included).

    `worksheet_facts` (`{worksheet_id: facts}`) carries corrected facts of
    worksheets citing this source, checked first and recorded in the same
    save, against the new digest; only human authors send them (an agent's
    refresh with facts is 403 AGENT_NOT_ALLOWED)."""

    source_id: str
    digest: str
    material: bool | None = None
    reason: str | None = None
    valid_until: datetime | None = None
    worksheet_facts: Any = None

    def decide(self, packet: Packet, ctx: Context) -> None:
        corrected = self._worksheet_facts(packet, ctx)
        changed = self.digest != packet.source(self.source_id)["digest"]
        judged = changed if self.material is None else bool(self.material)
        if changed and not judged:
            if not policy.is_owner(ctx.principal, packet):
                raise NotAllowedError(
                    "MATERIALITY_NOT_ALLOWED",
                    "a changed digest is material; only the release owner "
                    "may judge it non-material",
                    {"source_id": self.source_id, "user": ctx.principal.user_id},
                )
            require_text("REASON_EMPTY", "reason", self.reason, TEXT_FIELD_MAX)
        packet.refresh_source(
            ctx.meta(reason=self.reason),
            self.source_id,
            digest=self.digest,
            material=judged,
            valid_until=self.valid_until,
        )
        for worksheet_id, facts in corrected.items():
            ws.update_facts(
                packet,
                ctx.meta(reason=self.reason),
                worksheet_id,
                facts,
                source_id=self.source_id,
            )

    def _worksheet_facts(self, packet: Packet, ctx: Context) -> dict[str, Any]:
        if self.worksheet_facts is None:
            return {}
        policy.require(ctx.principal, "edit", packet)
        if not isinstance(self.worksheet_facts, dict):
            raise UnprocessableError(
                "WORKSHEET_FACTS_INVALID", "worksheet_facts: {worksheet_id: facts}"
            )
        packet.source(self.source_id)
        checked: dict[str, Any] = {}
        for worksheet_id, facts in self.worksheet_facts.items():
            cites = ws.worksheet(packet, worksheet_id)["cites"].values()
            if not any(c["source_id"] == self.source_id for c in cites):
                raise UnprocessableError(
                    "WORKSHEET_DOES_NOT_CITE_SOURCE",
                    f"worksheet {worksheet_id} cites no facts from {self.source_id}",
                    {"worksheet_id": worksheet_id, "source_id": self.source_id},
                )
            checked[worksheet_id] = ws.prepare_facts(
                packet, worksheet_id, facts, ctx.settings.calc_max_windows
            )
        return checked


@dataclass(frozen=True)
class WithdrawSource(PacketCall, action="cite_source", method="withdraw_source"):
    source_id: str
    reason: str | None = None

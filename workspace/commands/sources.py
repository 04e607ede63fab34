"""Source commands: cite, refresh (material unless the owner judges it not),
withdraw."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from workspace import policy
from workspace.commands.base import Command, Context
from workspace.domain import TEXT_FIELD_MAX, Packet, require_text
from workspace.errors import NotAllowedError


@dataclass(frozen=True)
class CiteSource(Command):
    action = "cite_source"
    kind: str
    title: str
    reference: str
    digest: str
    precedence: int
    valid_until: datetime | None = None
    #: `{poll_seconds, tolerance_seconds?}`: watched by the source watcher
    #: (the reference is checked against the connectors by the caller).
    watch: dict[str, Any] | None = None

    def decide(self, packet: Packet, ctx: Context) -> str:
        return packet.cite_source(
            ctx.meta(),
            kind=self.kind,
            title=self.title,
            reference=self.reference,
            digest=self.digest,
            precedence=self.precedence,
            valid_until=self.valid_until,
            watch=self.watch,
        )


@dataclass(frozen=True)
class RefreshSource(Command):
    """A changed digest is material (drift) unless the release owner, and
    only they, judges it otherwise, with a reason (403
    MATERIALITY_NOT_ALLOWED for anyone else, agents included)."""

    action = "refresh_source"
    source_id: str
    digest: str
    material: bool | None = None
    reason: str | None = None
    valid_until: datetime | None = None

    def decide(self, packet: Packet, ctx: Context) -> None:
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


@dataclass(frozen=True)
class WithdrawSource(Command):
    action = "cite_source"
    source_id: str
    reason: str | None = None

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.withdraw_source(ctx.meta(reason=self.reason), self.source_id)

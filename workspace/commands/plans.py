"""Recovery-plan commands: set (replace) the plan of a `recovery-plan` packet."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workspace.commands.base import Command, Context
from workspace.content.plan import RECOVERY_PLAN_KIND, RecoveryPlanSet
from workspace.domain import Packet
from workspace.errors import NotFoundError, QuireError, StateError
from workspace.recovery_plan import parse_plan, remediation_approvers


def is_human_user(ctx: Context, user_id: str) -> bool:
    """Whether `user_id` names a Quire user who is not an agent (agents never
    approve a remediation decision)."""
    try:
        user = ctx.app.get_user(user_id)
    except (NotFoundError, QuireError):
        return False
    return "agent" not in user.roles


@dataclass(frozen=True)
class SetRecoveryPlan(Command, action="edit"):
    """Replaces the packet's plan (human co-authors and the release owner).
    Bad input is 422 with the parser's codes (`PLAN_INVALID`, `UNKNOWN_FIELD`,
    `PERCENT_OUT_OF_RANGE`), refused before the packet is loaded; a packet of
    another kind is 409 `NOT_A_RECOVERY_PLAN`. The approvers who are human
    Quire users now are recorded with the plan (the gate's
    REMEDIATION_APPROVER_MISSING reads that record)."""

    plan: dict[str, Any]

    def prepare(self, ctx: Context) -> None:
        parse_plan(self.plan)

    def decide(self, packet: Packet, ctx: Context) -> dict[str, Any]:
        if packet.kind != RECOVERY_PLAN_KIND:
            raise StateError(
                "NOT_A_RECOVERY_PLAN",
                f"only a packet of kind {RECOVERY_PLAN_KIND!r} holds a recovery "
                f"plan; this one is {packet.kind!r}",
                {"kind": packet.kind},
            )
        plan = parse_plan(self.plan)
        known = [a for a in remediation_approvers(plan) if is_human_user(ctx, a)]
        packet.trigger_event(
            RecoveryPlanSet, plan=plan, approvers_known=known, **ctx.meta().fields()
        )
        return plan

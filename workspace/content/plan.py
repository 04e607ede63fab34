"""Recovery plans (seed 004) as packet content: the plan's five tables are
hashed (only when the packet has a plan), bound by revisions and diffed per
table; the gate holds a release while the plan breaks one of the seed's
rules (`workspace/recovery_plan.py`: `check_plan`), each hold naming the
table and row at fault; a manifest binds the plan's hash and the checks.

"Is a Quire user" (for `REMEDIATION_APPROVER_MISSING`) is recorded when the
plan is set: `RecoveryPlanSet.approvers_known` lists the remediation
approvers who were human Quire users at that moment. The gate therefore
stays a pure function of the packet's events (replay gives the same holds),
and a plan naming someone added to Quire later is fixed by setting the plan
again.
"""

from __future__ import annotations

import difflib
import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workspace.content.base import ContentModule, Hold
from workspace.content.registry import register
from workspace.domain.base import PacketEvent
from workspace.hashing import content_hash
from workspace.recovery_plan import PARTS, Check, check_plan, remediation_approvers

if TYPE_CHECKING:
    from workspace.domain.packet import Packet

#: The packet kind whose content is a recovery plan.
RECOVERY_PLAN_KIND = "recovery-plan"


class RecoveryPlanSet(PacketEvent):
    """The whole plan, replaced (as `parse_plan` returns it), with the
    remediation approvers who were human Quire users when it was set."""

    TOPIC = "quire.packet.RecoveryPlanSet"
    class_version = 1
    plan: dict[str, Any]
    approvers_known: list[str]

    def fold(self, packet: Packet) -> None:
        state = packet.part("plan")
        state["plan"] = self.plan
        state["approvers_known"] = list(self.approvers_known)
        state["set_by"] = self.actor
        state["version"] = self.originator_version


def plan_state(packet: Any) -> dict[str, Any] | None:
    """The plan's state (`plan`, `approvers_known`, ...), or None. A read:
    never creates `packet.parts` (see `PacketBase.part`)."""
    found: dict[str, Any] | None = vars(packet).get("parts", {}).get("plan")
    return found if found else None


def current_plan(packet: Any) -> dict[str, Any] | None:
    state = plan_state(packet)
    return None if state is None else dict(state["plan"])


def plan_checks(packet: Any, plan: dict[str, Any] | None = None) -> list[Check]:
    """Every rule `plan` (default: the packet's plan) breaks; approvers count
    as Quire users when they were when the plan was set."""
    state = plan_state(packet)
    plan = plan if plan is not None else (state or {}).get("plan")
    if plan is None:
        return []
    known = set((state or {}).get("approvers_known", []))
    return check_plan(plan, lambda user_id: user_id in known)


def plan_approvers(packet: Any) -> list[str]:
    """The plan's named remediation approvers, once each, in the plan's
    order (for the release's named signers); [] without a plan."""
    plan = current_plan(packet)
    return [] if plan is None else remediation_approvers(plan)


def _row_diff(old: list[Any], new: list[Any]) -> dict[str, Any]:
    """Rows added and removed between two versions of one table, with their
    positions (rows have no ids: a changed row is one removed, one added)."""
    a = [json.dumps(r, sort_keys=True) for r in old]
    b = [json.dumps(r, sort_keys=True) for r in new]
    added: list[dict[str, Any]] = []
    removed: list[dict[str, Any]] = []
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag in ("delete", "replace"):
            removed += [{"row": i, "value": old[i]} for i in range(i1, i2)]
        if tag in ("insert", "replace"):
            added += [{"row": j, "value": new[j]} for j in range(j1, j2)]
    return {
        "change": "changed" if added or removed else "unchanged",
        "added": added,
        "removed": removed,
    }


class RecoveryPlan(ContentModule):
    name = "plan"
    order = 60
    #: Any difference between the packet's plan and the revision's is
    #: REVISION_STALE (`part: "plan"`).
    dependency = True

    def content(self, packet: Any) -> dict[str, Any] | None:
        return current_plan(packet)

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        """The packet's plan (a revision whose plan differs is also held
        REVISION_STALE), one hold per rule broken, naming table and row."""
        return [
            Hold(c.code, c.detail, {"part": c.part, "row": c.row})
            for c in plan_checks(packet)
        ]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        plan = content.get(self.key)
        if plan is None:
            return {}
        return {
            "plan": {
                "content_hash": content_hash(plan),
                "checks": [c.as_dict() for c in plan_checks(packet, plan)],
                "remediation_approvers": remediation_approvers(plan),
            }
        }

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        before, after = old.get(self.key), new.get(self.key)
        if before is None and after is None:
            return None
        return {
            part: _row_diff(
                (before or {}).get(part, []),
                (after or {}).get(part, []),
            )
            for part in PARTS
        }


PLAN = register(RecoveryPlan())

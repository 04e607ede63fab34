"""The release layer's application: the workspace plus intake lanes
(`release/lanes_app.py`), release and lane reads (`release/reads.py`) and the
release commands (`release/commands.py`, run by `Workspace.execute`).

`ReleaseApp.consequences` is the single place where a change to something an
active release depends on supersedes that release, in the same atomic save as
the change (the workspace's `update_packet` calls it before saving).
"""

from __future__ import annotations

from typing import Any, NoReturn
from uuid import UUID

from release.commands import RecordRefusal
from release.impact import supersessions_for
from release.lanes_app import LaneChange
from release.outbox import OutboxSaves
from release.reads import ReleaseReads
from release.regate import follow_up
from release.signatures import void_stale_signatures
from workspace import policy
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.domain import Packet
from workspace.errors import InvalidInputError, OutOfScopeError

__all__ = ["OUT_OF_SCOPE", "LaneChange", "ReleaseApp"]

#: Requests Quire never carries out (invariant 9): refused, recorded, explained.
OUT_OF_SCOPE: dict[str, str] = {
    "approve_credit": "Quire does not approve service credits",
    "recommend_concession": "Quire does not recommend concessions",
    "contact_customer": "Quire does not contact customers",
    "change_billing": "Quire does not change billing records",
    "adjudicate_entitlement": "Quire does not adjudicate entitlement",
    "assign_engineer": "Quire does not assign engineers or promise specialists",
    "change_account_status": "Quire does not change account status",
    "classify_incident": "Quire does not classify incidents",
    "run_diagnostics": "Quire does not trigger live diagnostics",
}


class ReleaseApp(OutboxSaves, ReleaseReads, Workspace):
    """The workspace plus intake lanes and the release gate."""

    name = "Quire"  # the library would otherwise name it after the subclass

    # ------------------------------------------------------- consequences
    def consequences(self, packet: Packet, principal: Principal) -> list[Any]:
        """Supersedes, in the same save, every active release that a pending
        change (material refresh, withdrawal, lapse, residual reopened)
        depended on."""
        others = super().consequences(packet, principal)
        meta = self.meta(principal)
        for event in list(packet.pending_events):
            for found in supersessions_for(packet, event):
                packet.supersede_release(
                    meta, found.release_id, cause=found.cause, trigger=found.trigger
                )
        # Signatures collected on a manifest that no longer holds are void
        # (several named signers: release/signatures.py).
        void_stale_signatures(
            packet, meta, lane_of=self.find_lane, content_of=self.content_of
        )
        # An owner change supersedes what the former owner signed; then every
        # open release whose reasons changed is re-gated (release/regate.py).
        follow_up(packet, meta, lane_of=self.find_lane, content_of=self.content_of)
        return others

    def content_of(self, packet: Packet, number: int) -> dict[str, Any]:
        """A revision's exact stored content."""
        return self.revision_content(packet, number)[1]

    # ------------------------------------------------------- out of scope
    def refuse_out_of_scope(
        self,
        packet_id: UUID | str,
        principal: Principal,
        action: str,
        detail: str | None = None,
    ) -> NoReturn:
        """Invariant 9: refuses, records the refusal, and says why."""
        if action not in OUT_OF_SCOPE:
            raise InvalidInputError(
                "ACTION_UNKNOWN",
                f"no action {action!r}",
                {"out_of_scope": sorted(OUT_OF_SCOPE)},
            )
        message = (
            f"{OUT_OF_SCOPE[action]}: the workflow stops at the intake lane; "
            "this belongs to a separate downstream workflow"
        )
        packet = self.get_packet(packet_id)
        if policy.can_read(principal, packet):
            refusal = RecordRefusal(action, "OUT_OF_SCOPE", message, reason=detail)
            self.execute(packet_id, principal, refusal)
        raise OutOfScopeError("OUT_OF_SCOPE", message, {"action": action})

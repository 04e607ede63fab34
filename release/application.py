"""Release commands on top of the workspace: lanes, requests, residuals,
approvals, supersession, lane reads.

`ReleaseApp.consequences` is the single place where a change to something an
active release depends on supersedes that release, in the same atomic save as
the change (the workspace's `update_packet` calls it before saving).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import IntegrityError

from release import gate
from release.commands import (
    AcceptResidual,
    CancelRelease,
    HoldRelease,
    LiftReleaseHold,
    RequestRelease,
)
from release.errors import ReleaseHeldError, ReleaseIntegrityError
from release.impact import impact, supersessions_for
from release.lanes import Lane, lane_aggregate_id
from release.manifest import build_manifest, manifest_hash, non_material_refreshes
from release.regate import follow_up, open_holds
from release.signatures import sign, signing_view, void_stale_signatures
from release.signers import is_multi, required_signers, signed_view
from release.sweeper import sweep_packet
from workspace import policy
from workspace.accounts import Principal
from workspace.application import MAX_ATTEMPTS, Workspace
from workspace.commands import Executed
from workspace.domain import Meta, Packet
from workspace.errors import (
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    OutOfScopeError,
    QuireError,
    StateError,
    VersionClashError,
)
from workspace.hashing import content_hash

log = logging.getLogger(__name__)

T = TypeVar("T")

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


@dataclass(frozen=True)
class LaneChange:
    audience_version: int
    superseded: list[dict[str, str]]


class ReleaseApp(Workspace):
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
            packet, meta, lane_of=self.find_lane, content_of=self._content
        )
        # An owner change supersedes what the former owner signed; then every
        # open release whose reasons changed is re-gated (release/regate.py).
        follow_up(packet, meta, lane_of=self.find_lane, content_of=self._content)
        return others

    def content_of(self, packet: Packet, number: int) -> dict[str, Any]:
        """A revision's exact stored content."""
        return self.revision_content(packet, number)[1]

    _content = content_of

    # --------------------------------------------------------------- lanes
    def find_lane(self, lane_id: str) -> Lane | None:
        try:
            lane: Any = self.repository.get(lane_aggregate_id(lane_id))
        except AggregateNotFoundError:
            return None
        return lane if isinstance(lane, Lane) else None

    def get_lane(self, lane_id: str) -> Lane:
        lane = self.find_lane(lane_id)
        if lane is None:
            raise NotFoundError(
                "LANE_NOT_FOUND", f"no intake lane {lane_id!r}", {"lane_id": lane_id}
            )
        return lane

    def lanes(self) -> list[Lane]:
        """Every lane, in order of creation."""
        return [
            self.repository.get(lane_id)
            for lane_id in self.originator_ids(Lane.Created.TOPIC)
        ]

    def create_lane(
        self,
        admin: Principal,
        *,
        lane_id: str,
        title: str,
        members: list[str],
        accepts_kinds: list[str],
        policy: dict[str, Any] | None = None,
    ) -> Lane:
        self._require_admin(admin)
        lane = Lane.create(
            actor=admin.user_id,
            at=self.clock(),
            lane_id=lane_id,
            title=title,
            members=members,
            accepts_kinds=accepts_kinds,
            policy=policy,
        )
        self._require_users(lane.members)
        try:
            self.save(lane)
        except IntegrityError:
            raise StateError(
                "LANE_EXISTS", f"lane {lane_id!r} already exists", {"lane_id": lane_id}
            ) from None
        return lane

    def change_lane_members(
        self, admin: Principal, lane_id: str, members: list[str]
    ) -> LaneChange:
        """A new audience supersedes every active release delivered to the
        lane, in one save of the lane and those packets."""
        self._require_admin(admin)
        for _ in range(MAX_ATTEMPTS):
            lane = self.get_lane(lane_id)
            at = self.clock()
            if not lane.change_members(actor=admin.user_id, at=at, members=members):
                return LaneChange(lane.audience_version, [])
            self._require_users(lane.members)
            trigger = {
                "event": Lane.MembersChanged.TOPIC,
                "lane_id": lane.lane_id,
                "audience_version": lane.audience_version,
                "version": lane.version,
            }
            meta = self.meta(admin, reason="lane audience changed")
            packets: dict[str, Packet] = {}
            superseded: list[dict[str, str]] = []
            for delivery in lane.deliveries:
                pid = delivery["packet_id"]
                packet = packets.get(pid) or self.get_packet(pid)
                if packet.releases[delivery["release_id"]]["status"] != "released":
                    continue
                packet.supersede_release(
                    meta,
                    delivery["release_id"],
                    cause="LANE_AUDIENCE_CHANGED",
                    trigger=trigger,
                )
                packets[pid] = packet
                superseded.append(
                    {"packet_id": pid, "release_id": delivery["release_id"]}
                )
            try:
                self.save(lane, *packets.values())
            except IntegrityError:
                continue
            return LaneChange(lane.audience_version, superseded)
        raise VersionClashError("VERSION_CLASH", "too many concurrent writers")

    def change_lane_kinds(
        self, admin: Principal, lane_id: str, accepts_kinds: list[str]
    ) -> None:
        self._require_admin(admin)
        lane = self.get_lane(lane_id)
        lane.change_kinds(
            actor=admin.user_id, at=self.clock(), accepts_kinds=accepts_kinds
        )
        try:
            self.save(lane)
        except IntegrityError:
            raise VersionClashError(
                "VERSION_CLASH", "the lane changed meanwhile; try again"
            ) from None

    # ------------------------------------------------------------ releases
    def request_release(
        self,
        packet_id: UUID | str,
        principal: Principal,
        *,
        revision: int,
        lane_id: str,
        content_hash: str | None = None,
        require_known: bool = False,
    ) -> dict[str, Any]:
        """`RequestRelease` (release/commands.py), answered with the release."""
        command = RequestRelease(revision, lane_id, content_hash, require_known)
        return self._view(self.execute(packet_id, principal, command))

    def accept_residual(
        self,
        packet_id: UUID | str,
        principal: Principal,
        release_id: str,
        objection_id: str,
        rationale: str,
    ) -> dict[str, Any]:
        command = AcceptResidual(release_id, objection_id, rationale)
        return self._view(self.execute(packet_id, principal, command))

    def hold_release(
        self,
        packet_id: UUID | str,
        principal: Principal,
        release_id: str,
        reason: str,
    ) -> dict[str, Any]:
        command = HoldRelease(release_id, reason)
        return self._view(self.execute(packet_id, principal, command))

    def lift_release_hold(
        self, packet_id: UUID | str, principal: Principal, release_id: str
    ) -> dict[str, Any]:
        command = LiftReleaseHold(release_id)
        return self._view(self.execute(packet_id, principal, command))

    def cancel_release(
        self,
        packet_id: UUID | str,
        principal: Principal,
        release_id: str,
        reason: str,
    ) -> dict[str, Any]:
        command = CancelRelease(release_id, reason)
        return self._view(self.execute(packet_id, principal, command))

    def _view(self, done: Executed[str]) -> dict[str, Any]:
        return self.release_view(done.packet, done.result)

    def _regate(self, packet: Packet, meta: Meta, release_id: str) -> None:
        """Re-evaluates an open release and records what holds it, if anything."""
        holds = open_holds(
            packet,
            release_id,
            lane_of=self.find_lane,
            content_of=self._content,
            now=self.clock(),
        )
        packet.record_gate(meta, release_id, holds)

    def approve_release(
        self,
        packet_id: UUID | str,
        principal: Principal,
        release_id: str,
        *,
        content_hash: str,
        meaning: str,
        passphrase: str,
        scope: str | dict[str, Any] | None = None,
        rollback: bool = False,
    ) -> dict[str, Any]:
        """Signs one exact revision for one lane, or records why it is held.

        Anyone but the named release owner is refused before anything is
        written (403; the API records the refusal in the audit log), so a
        refused attempt never changes the release. The signer re-authenticates
        (failures are recorded on the user; five in a row lock signing). The
        approval, its manifest, the lane's delivery and any replaced release's
        supersession land in one save.
        """
        packet = self.get_packet(packet_id)
        _require_member(principal, packet, "approve a release")
        packet.release(release_id)
        _require_signer(principal, packet)
        signer = self._signer(principal, packet, release_id, passphrase)

        def decide(p: Packet) -> tuple[list[dict[str, Any]], list[Any]]:
            release = p.release(release_id)
            if release["status"] not in ("pending", "held"):
                raise StateError(
                    "RELEASE_NOT_OPEN",
                    f"{release_id} is {release['status']}; request a new release",
                    {"release_id": release_id, "status": release["status"]},
                )
            lane = self.find_lane(release["lane_id"])
            meta = self.meta(principal)
            holds = [
                h.as_dict()
                for h in gate.evaluate(
                    p,
                    revision=release["revision"],
                    lane=lane,
                    lane_id=release["lane_id"],
                    now=meta.at,
                    release_id=release_id,
                    content_hash=content_hash,
                    signer=signer,
                    content=self._content(p, release["revision"])
                    if gate.revision_record(p, release["revision"])
                    else None,
                    rollback=rollback,
                )
            ]
            if is_multi(p):  # several named signers: release/signatures.py
                return sign(
                    self,
                    p,
                    lane,
                    principal,
                    release_id,
                    holds,
                    meaning=meaning,
                    scope=scope,
                    rollback=rollback,
                    meta=meta,
                )
            if holds or lane is None:
                p.record_gate(meta, release_id, holds)
                return holds, []
            self._approve(
                p, lane, principal, release_id, meaning, scope, meta.at, rollback
            )
            return [], [lane]

        _, (holds, _) = self.update_packet(
            packet_id, principal, None, decide, others=lambda decided: decided[1]
        )
        if holds:
            raise ReleaseHeldError(release_id, holds)
        return self.release_view(self.get_packet(packet_id), release_id)

    def _approve(
        self,
        packet: Packet,
        lane: Lane,
        principal: Principal,
        release_id: str,
        meaning: str,
        scope: str | dict[str, Any] | None,
        at: Any,
        rollback: bool = False,
    ) -> None:
        release = packet.release(release_id)
        _, content = self.revision_content(packet, release["revision"])
        manifest = build_manifest(
            packet,
            release_id=release_id,
            content=content,
            lane=lane,
            signer_id=principal.user_id,
            signer_name=principal.name,
            meaning=meaning,
            signed_at=at,
            scope=scope,
            rollback=rollback,
        )
        self.approve_with_manifest(
            packet, lane, principal, release_id, meaning, manifest
        )

    def approve_with_manifest(
        self,
        packet: Packet,
        lane: Lane,
        principal: Principal,
        release_id: str,
        meaning: str,
        manifest: dict[str, Any],
    ) -> None:
        """Approves with a built manifest: the replaced release superseded
        and the lane's delivery, in the caller's save."""
        release = packet.release(release_id)
        revision = packet.revision(release["revision"])
        signed = manifest_hash(manifest)
        meta = self.meta(principal)
        packet.approve_release(
            meta, release_id, meaning=meaning, manifest=manifest, manifest_hash=signed
        )
        for other in list(packet.releases.values()):
            if other["id"] == release_id or other["lane_id"] != lane.lane_id:
                continue
            if other["status"] == "released":
                packet.supersede_release(
                    meta,
                    other["id"],
                    cause="REPLACED_BY_NEW_RELEASE",
                    trigger={
                        "event": Packet.ReleaseApproved.TOPIC,
                        "release_id": release_id,
                        "version": release["approved_version"],
                    },
                    successor_release_id=release_id,
                )
            elif other["status"] == "superseded" and not other["successor_release_id"]:
                packet.link_successor(meta, other["id"], release_id)
        lane.deliver(
            actor=principal.user_id,
            at=meta.at,
            packet_id=str(packet.id),
            release_id=release_id,
            revision=revision["number"],
            label=revision["label"],
            content_hash=revision["content_hash"],
            manifest_hash=signed,
        )

    def _signer(
        self, principal: Principal, packet: Packet, release_id: str, passphrase: str
    ) -> gate.Signer:
        """Re-authenticates the named owner or a named signer (only they may
        burn an attempt)."""
        if principal.is_agent or principal.user_id not in required_signers(packet):
            return gate.Signer(principal.user_id, principal.is_agent, False)
        ok = self.check_signing_passphrase(
            principal.user_id,
            passphrase,
            packet_id=str(packet.id),
            release_id=release_id,
        )
        locked = not ok and self.get_user(principal.user_id).signing_locked
        return gate.Signer(principal.user_id, False, ok, signing_locked=locked)

    # --------------------------------------------------------------- reads
    def release_view(self, packet: Packet, release_id: str) -> dict[str, Any]:
        release = packet.release(release_id)
        revision = gate.revision_record(packet, release["revision"])
        return {
            "release_id": release_id,
            "packet_id": str(packet.id),
            "revision": release["revision"],
            "label": revision["label"] if revision else None,
            "content_hash": release["content_hash"],
            "lane_id": release["lane_id"],
            "status": release["status"],
            "hold_reasons": list(release["hold_reasons"]),
            "owner_hold": release.get("owner_hold"),
            "cancellation": release.get("cancellation"),
            "decision": release.get("decision"),
            "residuals": list(release["residuals"].values()),
            "manifest_hash": release["manifest_hash"],
            "approved_by": release["approved_by"],
            "approved_at": release["approved_at"],
            "supersession": _supersession(release),
            "predecessor_release_id": release["predecessor_release_id"],
            "version": packet.version,
            **signing_view(packet, release),
        }

    def release_manifest(
        self, packet_id: UUID | str, principal: Principal, release_id: str
    ) -> dict[str, Any]:
        """A release's signed manifest, for packet readers and for members
        of the lane it was delivered to (reads by both kinds are recorded)."""
        packet = self._current(packet_id)
        release = packet.release(release_id)
        if not policy.can_read(principal, packet):
            lane = self.find_lane(release["lane_id"])
            if (
                lane is None
                or not lane.is_member(principal.user_id)
                or release["manifest"] is None
            ):
                error = NotAllowedError(
                    "ROLE_NOT_ALLOWED",
                    "only packet members, auditors and the lane it was "
                    "released to may read this manifest",
                )
                self._refused_read(
                    principal, "release_manifest", error, packet_id=str(packet.id)
                )
                raise error
        if release["manifest"] is None:
            raise NotFoundError(
                "MANIFEST_NOT_FOUND",
                f"{release_id} is {release['status']}; it has no signed manifest",
                {"release_id": release_id, "status": release["status"]},
            )
        self._check_integrity(packet, release)
        if principal.is_auditor or not policy.is_member(principal, packet):
            self.record_view(
                principal,
                "release_manifest",
                packet_id=str(packet.id),
                detail={"release_id": release_id},
            )
        return {
            "release_id": release_id,
            "manifest": release["manifest"],
            "manifest_hash": release["manifest_hash"],
            "status": release["status"],
            "supersession": _supersession(release),
            "predecessor_release_id": release["predecessor_release_id"],
            "signatures": signed_view(release),
        }

    def impact(
        self,
        packet_id: UUID | str,
        principal: Principal,
        *,
        source_id: str | None = None,
        prerequisite_id: str | None = None,
        objection_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Which active releases the change would supersede, before making it."""
        if source_id is None and prerequisite_id is None and objection_id is None:
            raise InvalidInputError(
                "IMPACT_QUESTION_EMPTY",
                "name a source_id, a prerequisite_id or an objection_id",
            )
        packet = self.read_packet(principal, packet_id)
        return impact(
            packet,
            source_id=source_id,
            prerequisite_id=prerequisite_id,
            objection_id=objection_id,
        )

    # ---------------------------------------------------------- lane reads
    def lane_inbox(self, principal: Principal, lane_id: str) -> list[dict[str, Any]]:
        lane = self._lane_for_member(principal, lane_id, "lane_inbox")
        items: list[dict[str, Any]] = []
        packets: dict[str, Packet] = {}
        for delivery in lane.deliveries:
            pid = delivery["packet_id"]
            if pid not in packets:
                packets[pid] = self._current(pid)
            release = packets[pid].releases[delivery["release_id"]]
            items.append(
                {
                    "release_id": delivery["release_id"],
                    "packet_id": pid,
                    "ref": f"{pid}:{delivery['release_id']}",
                    "title": packets[pid].title,
                    "kind": packets[pid].kind,
                    "revision": delivery["revision"],
                    "label": delivery["label"],
                    "content_hash": delivery["content_hash"],
                    "manifest_hash": delivery["manifest_hash"],
                    "status": release["status"],
                    "released_at": delivery["released_at"],
                    "supersession": _supersession(release),
                    "acknowledged": any(
                        a["by"] == principal.user_id
                        for a in release["acknowledgements"]
                    ),
                    "decision": release.get("decision"),
                }
            )
        self.record_view(
            principal, "lane_inbox", detail={"lane_id": lane_id, "items": len(items)}
        )
        return items

    def lane_release(
        self,
        principal: Principal,
        lane_id: str,
        release_ref: str,
        packet_id: str | None = None,
    ) -> dict[str, Any]:
        """Exactly the released content and its manifest, hash checked on read."""
        lane = self._lane_for_member(principal, lane_id, "lane_release")
        delivery = lane.delivery(release_ref, packet_id)
        packet = self._current(delivery["packet_id"])
        release = packet.release(delivery["release_id"])
        content = self._check_integrity(packet, release)
        self.record_view(
            principal,
            "lane_release",
            packet_id=delivery["packet_id"],
            detail={
                "lane_id": lane_id,
                "release_id": release["id"],
                "revision": release["revision"],
                "content_hash": release["content_hash"],
                "manifest_hash": release["manifest_hash"],
            },
        )
        return {
            "release_id": release["id"],
            "packet_id": delivery["packet_id"],
            "lane_id": lane_id,
            "revision": release["revision"],
            "label": delivery["label"],
            "content_hash": release["content_hash"],
            "content": content,
            "manifest": release["manifest"],
            "manifest_hash": release["manifest_hash"],
            "status": release["status"],
            "supersession": _supersession(release),
            "predecessor_release_id": release["predecessor_release_id"],
            "acknowledgements": list(release["acknowledgements"]),
            "decision": release.get("decision"),
            "signatures": signed_view(release),
            # the owner's judgements on the bound sources, made before or
            # after the approval: the lane sees them all
            "non_material_refreshes": non_material_refreshes(
                packet, {s["source_id"] for s in release["manifest"]["sources"]}
            ),
        }

    def acknowledge_release(
        self,
        principal: Principal,
        lane_id: str,
        release_ref: str,
        packet_id: str | None = None,
    ) -> dict[str, Any]:
        """A lane member acknowledges receipt (recorded once per member)."""
        lane = self._lane_for_member(principal, lane_id, None)
        delivery = lane.delivery(release_ref, packet_id)
        rid = delivery["release_id"]
        packet, _ = self.update_packet(
            delivery["packet_id"],
            principal,
            None,
            lambda p: p.acknowledge_release(self.meta(principal), rid),
        )
        release = packet.release(rid)
        return {
            "release_id": rid,
            "packet_id": delivery["packet_id"],
            "status": release["status"],
            "acknowledgements": list(release["acknowledgements"]),
            "version": packet.version,
        }

    def decide_release(
        self,
        principal: Principal,
        lane_id: str,
        release_ref: str,
        *,
        decision: str,
        reason_category: str | None = None,
        reason: str | None = None,
        packet_id: str | None = None,
    ) -> dict[str, Any]:
        """A lane member accepts a release, or returns it with a reason
        category; an event on the release, seen by its owner and co-authors."""
        lane = self._lane_for_member(principal, lane_id, None)
        delivery = lane.delivery(release_ref, packet_id)
        rid = delivery["release_id"]
        packet, _ = self.update_packet(
            delivery["packet_id"],
            principal,
            None,
            lambda p: p.decide_release(
                self.meta(principal, reason=reason), rid, decision, reason_category
            ),
        )
        release = packet.release(rid)
        return {
            "release_id": rid,
            "packet_id": delivery["packet_id"],
            "status": release["status"],
            "decision": release["decision"],
            "version": packet.version,
        }

    def acknowledge_packet_release(
        self, principal: Principal, packet_id: UUID | str, release_id: str
    ) -> dict[str, Any]:
        lane_id = self.get_packet(packet_id).release(release_id)["lane_id"]
        return self.acknowledge_release(principal, lane_id, release_id, str(packet_id))

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
            self.update_packet(
                packet_id,
                principal,
                None,
                lambda p: p.record_refusal(
                    self.meta(principal, reason=detail),
                    request=action,
                    code="OUT_OF_SCOPE",
                    detail=message,
                ),
            )
        raise OutOfScopeError("OUT_OF_SCOPE", message, {"action": action})

    # ------------------------------------------------------------ helpers
    def _current(self, packet_id: UUID | str) -> Packet:
        """The packet with any due lapse recorded first, so nobody reads a
        release as active after what it depended on has expired."""
        packet, _ = sweep_packet(self, packet_id)
        return packet

    def _check_integrity(
        self, packet: Packet, release: dict[str, Any]
    ) -> dict[str, Any]:
        _, content = self.revision_content(packet, release["revision"])
        manifest = release["manifest"]
        if manifest is None:
            raise NotFoundError("RELEASE_NOT_FOUND", f"{release['id']} not released")
        computed = content_hash(content)
        if not (
            computed == release["content_hash"] == manifest["revision"]["content_hash"]
            and manifest_hash(manifest) == release["manifest_hash"]
        ):
            log.error("release %s of %s fails its hash check", release["id"], packet.id)
            raise ReleaseIntegrityError(
                "RELEASE_CONTENT_CORRUPT",
                "the stored content does not match the approved hash",
                {"release_id": release["id"], "computed": computed},
            )
        return content

    def _lane_for_member(
        self, principal: Principal, lane_id: str, read: str | None
    ) -> Lane:
        """The lane, if the principal is a member; a refused read is recorded
        (refused writes are recorded by the API for every route)."""
        lane = self.get_lane(lane_id)
        if not lane.is_member(principal.user_id):
            error = NotAllowedError(
                "LANE_MEMBERS_ONLY",
                f"only members of lane {lane_id} see what is released to it",
                {"lane_id": lane_id},
            )
            if read is not None:
                self._refused_read(principal, read, error)
            raise error
        return lane

    def _require_admin(self, principal: Principal) -> None:
        if not principal.is_admin:
            raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins manage intake lanes")

    def _require_users(self, user_ids: list[str]) -> None:
        for user_id in user_ids:
            if not self.user_exists(user_id):
                raise InvalidInputError(
                    "USER_UNKNOWN", f"no user {user_id!r}", {"user_id": user_id}
                )

    def _refused_read(
        self,
        principal: Principal,
        what: str,
        error: QuireError,
        packet_id: str | None = None,
    ) -> None:
        self.record_refusal(
            principal, what, error.code, error.message, packet_id=packet_id
        )


def _require_member(principal: Principal, packet: Packet, what: str) -> None:
    """Packet members may try (the gate says why they may not sign); auditors,
    lane members and outsiders may not even try."""
    if not policy.is_member(principal, packet) or principal.is_auditor:
        raise NotAllowedError(
            "ROLE_NOT_ALLOWED",
            f"only the packet's members may {what}; only its release owner signs",
            {"user": principal.user_id},
        )


def _require_signer(principal: Principal, packet: Packet) -> None:
    """Only the named release owner (a human), or a named signer, may even
    attempt to sign."""
    if principal.is_agent or principal.user_id not in required_signers(packet):
        raise NotAllowedError(
            "ROLE_NOT_ALLOWED",
            f"only the named release owner ({packet.release_owner}) "
            + ("and the named signers sign" if is_multi(packet) else "signs")
            + "; agents never do",
            {
                "user": principal.user_id,
                "release_owner": packet.release_owner,
                "reason": "SIGNER_IS_AGENT"
                if principal.is_agent
                else "SIGNER_NOT_RELEASE_OWNER",
            },
        )


def _supersession(release: dict[str, Any]) -> dict[str, Any] | None:
    if release["supersession"] is None:
        return None
    return {
        "cause": release["supersession"]["cause"],
        "trigger": release["supersession"]["trigger"],
        "at": release["supersession"]["at"],
        "successor_release_id": release["successor_release_id"],
    }

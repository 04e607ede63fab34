"""What approving a release needs besides the gate: who may even try, the
signer's re-authentication, and the approval itself (the signed manifest,
the supersession of the lane's former release, the delivery to the lane).
`ApproveRelease` (release/commands.py) puts them together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from release import gate
from release.lanes import Lane
from release.manifest import manifest_hash
from release.signers import is_multi, required_signers
from workspace import policy
from workspace.accounts import Principal
from workspace.domain import Packet
from workspace.errors import NotAllowedError

if TYPE_CHECKING:
    from release.application import ReleaseApp


def require_member(principal: Principal, packet: Packet, what: str) -> None:
    """Packet members may try (the gate says why they may not sign); auditors,
    lane members and outsiders may not even try."""
    if not policy.is_member(principal, packet) or principal.is_auditor:
        raise NotAllowedError(
            "ROLE_NOT_ALLOWED",
            f"only the packet's members may {what}; only its release owner signs",
            {"user": principal.user_id},
        )


def require_signer(principal: Principal, packet: Packet) -> None:
    """Only the named release owner (a human), or a named signer
    (release/signers.py), may even attempt to sign."""
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


def signer(
    app: ReleaseApp,
    principal: Principal,
    packet: Packet,
    release_id: str,
    passphrase: str,
) -> gate.Signer:
    """Re-authenticates the named owner or a named signer (only they may
    burn an attempt)."""
    if principal.is_agent or principal.user_id not in required_signers(packet):
        return gate.Signer(principal.user_id, principal.is_agent, False)
    ok = app.check_signing_passphrase(
        principal.user_id,
        passphrase,
        packet_id=str(packet.id),
        release_id=release_id,
    )
    locked = not ok and app.get_user(principal.user_id).signing_locked
    return gate.Signer(principal.user_id, False, ok, signing_locked=locked)


def approve(
    app: ReleaseApp,
    packet: Packet,
    lane: Lane,
    principal: Principal,
    release_id: str,
    meaning: str,
    manifest: dict[str, Any],
) -> None:
    """Signs the release with its manifest (the one signer's, or the bound
    one plus every signature: release/signatures.py): the lane's former
    release superseded (or linked) and the delivery to the lane; all
    pending, for one save."""
    release = packet.release(release_id)
    revision = packet.revision(release["revision"])
    signed = manifest_hash(manifest)
    meta = app.meta(principal)
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

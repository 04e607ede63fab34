"""The release gate: pure functions over packet state, a lane and the clock.

`evaluate` returns every hold reason at once, each with a stable code from
DESIGN.md and a detail naming the objection, source or prerequisite. It reads
only the event-sourced packet and lane it is given, never a read model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from release.lanes import DEFAULT_POLICY, Lane
from release.signers import SIGNATURE_MISSING, required_signers, signature_holds
from workspace.content import Hold, is_past, modules
from workspace.content.base import REVISION_STALE
from workspace.content.prerequisites import PREREQUISITE_LAPSED, PREREQUISITE_UNMET
from workspace.content.sources import SOURCE_DRIFTED_SINCE_CUT, SOURCE_EXPIRED
from workspace.domain import Packet

__all__ = ["Hold", "is_past"]  # re-exported: they live in workspace/content/

#: Bound into every manifest: which rules the gate applied.
GATE_POLICY_VERSION = "quire.gate/2"

REVISION_UNKNOWN = "REVISION_UNKNOWN"
CONTENT_HASH_MISMATCH = "CONTENT_HASH_MISMATCH"
SIGNER_NOT_RELEASE_OWNER = "SIGNER_NOT_RELEASE_OWNER"
SIGNER_IS_AGENT = "SIGNER_IS_AGENT"
SIGNER_AUTHORED_REVISION = "SIGNER_AUTHORED_REVISION"
REAUTHENTICATION_FAILED = "REAUTHENTICATION_FAILED"
OBJECTION_OPEN = "OBJECTION_OPEN"
LANE_UNKNOWN = "LANE_UNKNOWN"
LANE_REJECTS_KIND = "LANE_REJECTS_KIND"
RELEASE_ALREADY_ACTIVE = "RELEASE_ALREADY_ACTIVE"
HELD_BY_RELEASE_OWNER = "HELD_BY_RELEASE_OWNER"
REVISION_OLDER_THAN_RELEASED = "REVISION_OLDER_THAN_RELEASED"

#: Supersession cause: the packet's release owner changed (wave 2).
RELEASE_OWNER_CHANGED = "RELEASE_OWNER_CHANGED"

HOLD_CODES = (
    REVISION_UNKNOWN,
    CONTENT_HASH_MISMATCH,
    SIGNER_NOT_RELEASE_OWNER,
    SIGNER_IS_AGENT,
    SIGNER_AUTHORED_REVISION,
    REAUTHENTICATION_FAILED,
    OBJECTION_OPEN,
    SOURCE_DRIFTED_SINCE_CUT,
    SOURCE_EXPIRED,
    PREREQUISITE_UNMET,
    PREREQUISITE_LAPSED,
    LANE_UNKNOWN,
    LANE_REJECTS_KIND,
    RELEASE_ALREADY_ACTIVE,
    HELD_BY_RELEASE_OWNER,
    REVISION_STALE,
    REVISION_OLDER_THAN_RELEASED,
    SIGNATURE_MISSING,
)


@dataclass(frozen=True)
class Signer:
    """Who is signing, and whether they re-authenticated at this moment."""

    user_id: str
    is_agent: bool
    reauthenticated: bool
    signing_locked: bool = False


def objection_is_open_for(objection: dict[str, Any], release_id: str | None) -> bool:
    """Open, or accepted as residual for some other release than this one."""
    if objection["state"] == "open":
        return True
    return objection["state"] == "residual" and (
        release_id is None or release_id not in objection.get("residual_for", [])
    )


def accepted_residuals(packet: Packet, release_id: str) -> list[dict[str, Any]]:
    """The residual acceptances that still stand for this release: made for
    it, not reopened since, and by the packet's current release owner."""
    release = packet.release(release_id)
    return [
        release["residuals"][oid]
        for oid in sorted(release["residuals"])
        if not objection_is_open_for(packet.objections[oid], release_id)
        and release["residuals"][oid]["accepted_by"] == packet.release_owner
    ]


def _accepted_by_former_owner(
    packet: Packet, objection_id: str, release_id: str | None
) -> str | None:
    """Who accepted this residual for the release, if no longer the owner."""
    if release_id is None:
        return None
    accepted = packet.release(release_id)["residuals"].get(objection_id)
    if accepted is None or accepted["accepted_by"] == packet.release_owner:
        return None
    return str(accepted["accepted_by"])


def evaluate(
    packet: Packet,
    *,
    revision: int,
    lane: Lane | None,
    lane_id: str,
    now: datetime,
    release_id: str | None = None,
    content_hash: str | None = None,
    signer: Signer | None = None,
    content: dict[str, Any] | None = None,
    rollback: bool = False,
) -> list[Hold]:
    """Every reason the release of `revision` to `lane` is held, in a stable order.

    Without a signer (at request) the signer checks are made for the packet's
    named release owner, so a separation-of-duties clash shows up early.
    After the release-level checks, every registered content module
    (`workspace/content/`) adds its own holds. `content` is the revision's
    own stored content: each module's part must still say what it says
    (`REVISION_STALE`). `rollback` is the owner's explicit consent to replace
    a newer release in the lane with this older revision.
    """
    holds: list[Hold] = []
    record = revision_record(packet, revision)
    if record is None:
        holds.append(
            Hold(
                REVISION_UNKNOWN,
                f"packet has no revision {revision!r} (it has {len(packet.revisions)})",
                {"revision": revision},
            )
        )
    elif content_hash is not None and content_hash != record["content_hash"]:
        holds.append(
            Hold(
                CONTENT_HASH_MISMATCH,
                f"revision {revision} is {record['content_hash']}, "
                f"not the {content_hash} shown",
                {"revision": revision, "expected": record["content_hash"]},
            )
        )
    holds.extend(_signer_holds(packet, record, lane, signer))
    holds.extend(_objection_holds(packet, release_id))
    for module in modules():
        holds.extend(module.holds(packet, record, now))
    if record is not None and content is not None:
        holds.extend(stale_holds(packet, record, content))
    holds.extend(_lane_holds(packet, lane, lane_id))
    if record is not None:
        holds.extend(
            _lane_release_holds(packet, revision, lane_id, release_id, rollback)
        )
    holds.extend(_owner_holds(packet, release_id))
    # several named signers: who has not signed yet (release/signers.py)
    holds.extend(signature_holds(packet, release_id))
    return holds


def _owner_holds(packet: Packet, release_id: str | None) -> list[Hold]:
    """The release owner's own hold on this release, until they lift it."""
    hold = packet.release(release_id).get("owner_hold") if release_id else None
    if not hold:
        return []
    return [
        Hold(
            HELD_BY_RELEASE_OWNER,
            f"held by {hold['by']}: {hold['reason']}",
            {"held_by": hold["by"], "held_at": hold["at"]},
        )
    ]


def revision_record(packet: Packet, number: int) -> dict[str, Any] | None:
    if isinstance(number, bool) or not isinstance(number, int):
        return None
    if 1 <= number <= len(packet.revisions):
        return packet.revisions[number - 1]
    return None


def _signer_holds(
    packet: Packet,
    record: dict[str, Any] | None,
    lane: Lane | None,
    signer: Signer | None,
) -> list[Hold]:
    """With several named signers (release/signers.py) each of them may
    sign, and separation of duties is checked for every one of them."""
    holds: list[Hold] = []
    required = required_signers(packet)
    user_id = signer.user_id if signer else packet.release_owner
    if signer is not None:
        if signer.user_id not in required:
            holds.append(
                Hold(
                    SIGNER_NOT_RELEASE_OWNER,
                    f"{signer.user_id} is not the named release owner "
                    f"({packet.release_owner})"
                    + (" nor a named signer" if len(required) > 1 else ""),
                    {"signer": signer.user_id, "release_owner": packet.release_owner},
                )
            )
        if signer.is_agent:
            holds.append(
                Hold(
                    SIGNER_IS_AGENT, f"{signer.user_id} is an agent; agents never sign"
                )
            )
    policy = lane.policy if lane is not None else DEFAULT_POLICY
    checked = [user_id]
    if len(required) > 1:
        checked += [u for u in required if u != user_id]
    if record is not None and not policy.get("signer_may_have_authored", False):
        holds.extend(
            Hold(
                SIGNER_AUTHORED_REVISION,
                f"{who} authored revision {record['number']}; the lane's "
                "policy forbids signing one's own revision",
                {"signer": who, "revision": record["number"]},
            )
            for who in checked
            if who in record["authors"]
        )
    if (
        signer is not None
        and signer.user_id in required
        and not signer.is_agent
        and not signer.reauthenticated
    ):
        detail = (
            "signing is locked after five failed re-authentications; "
            "an admin must unlock it"
            if signer.signing_locked
            else "the signing passphrase did not match"
        )
        holds.append(Hold(REAUTHENTICATION_FAILED, detail, {"signer": signer.user_id}))
    return holds


def _objection_holds(packet: Packet, release_id: str | None) -> list[Hold]:
    holds: list[Hold] = []
    for oid, objection in packet.objections.items():
        former = _accepted_by_former_owner(packet, oid, release_id)
        if objection_is_open_for(objection, release_id):
            detail = f"objection {oid} is open: {_excerpt(objection['text'])}"
        elif former is not None:
            detail = (
                f"objection {oid} was accepted as residual by {former}, who is "
                f"no longer the release owner: {_excerpt(objection['text'])}"
            )
        else:
            continue
        holds.append(Hold(OBJECTION_OPEN, detail, {"objection_id": oid}))
    return holds


def stale_holds(
    packet: Packet, record: dict[str, Any], content: dict[str, Any]
) -> list[Hold]:
    """Where the packet's content no longer says what the revision says: each
    registered content module compares its part (`ContentModule.stale`)."""
    return [
        hold
        for module in modules()
        for hold in module.stale(packet, record, content, module.content(packet))
    ]


def _lane_release_holds(
    packet: Packet, revision: int, lane_id: str, release_id: str | None, rollback: bool
) -> list[Hold]:
    """The packet's other active releases to this lane: one of this revision
    (RELEASE_ALREADY_ACTIVE), then, unless it is the release owner's
    rollback, those of a later revision (REVISION_OLDER_THAN_RELEASED)."""
    others = [
        other
        for other in packet.active_releases()
        if other["id"] != release_id and other["lane_id"] == lane_id
    ]
    holds = [
        Hold(
            RELEASE_ALREADY_ACTIVE,
            f"revision {revision} is already released to {lane_id} as {other['id']}",
            {"release_id": other["id"]},
        )
        for other in others
        if other["revision"] == revision
    ]
    if not rollback:
        holds.extend(
            Hold(
                REVISION_OLDER_THAN_RELEASED,
                f"revision {other['revision']} is released to {lane_id} as "
                f"{other['id']}; releasing the older revision {revision} replaces "
                "it only with the release owner's explicit rollback",
                {"release_id": other["id"], "released_revision": other["revision"]},
            )
            for other in others
            if other["revision"] > revision
        )
    return holds


def _lane_holds(packet: Packet, lane: Lane | None, lane_id: str) -> list[Hold]:
    if lane is None:
        return [Hold(LANE_UNKNOWN, f"no intake lane {lane_id!r}", {"lane_id": lane_id})]
    if packet.kind not in lane.accepts_kinds:
        return [
            Hold(
                LANE_REJECTS_KIND,
                f"lane {lane.lane_id} accepts {', '.join(lane.accepts_kinds)}, "
                f"not {packet.kind}",
                {"lane_id": lane.lane_id, "kind": packet.kind},
            )
        ]
    return []


def _excerpt(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."

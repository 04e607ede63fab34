"""Keeping open releases' hold reasons current, in the same save as a change.

`ReleaseApp.consequences` calls `follow_up` after a command has decided: it
supersedes active releases signed by someone who is no longer the release
owner (`RELEASE_OWNER_CHANGED`), then re-evaluates every open release that the
command did not gate itself, recording `ReleaseHeld` / `ReleaseCleared` only
when the list of reasons differs from the stored one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from release import gate
from release.lanes import Lane
from workspace.domain import Meta, Packet

#: Events after which an open release's reasons may differ. Section edits,
#: suggestions, conflicts and acknowledgements never change them.
TRIGGERS: tuple[type[Packet.Event], ...] = (
    Packet.MembersChanged,
    Packet.SourceCited,
    Packet.SourceRefreshed,
    Packet.SourceWithdrawn,
    Packet.SourceExpired,
    Packet.SourceFetchFailed,  # SOURCE_UNREADABLE
    Packet.SourceFetchRecovered,
    Packet.PrerequisiteDeclared,
    Packet.PrerequisiteSatisfied,
    Packet.PrerequisiteLapsed,
    Packet.ObjectionRaised,
    Packet.ObjectionResolved,
    Packet.ObjectionWithdrawn,
    Packet.ObjectionReopened,
    Packet.ResidualAccepted,
    Packet.ReleaseApproved,
    Packet.ReleaseSuperseded,
)

#: Events by which a command has already gated a release itself.
GATED: tuple[type[Packet.Event], ...] = (
    Packet.ReleaseRequested,
    Packet.ReleaseHeld,
    Packet.ReleaseCleared,
    Packet.ReleaseCancelled,
)

ContentOf = Callable[[Packet, int], dict[str, Any]]
LaneOf = Callable[[str], Lane | None]


def open_holds(
    packet: Packet,
    release_id: str,
    *,
    lane_of: LaneOf,
    content_of: ContentOf,
    now: datetime,
) -> list[dict[str, Any]]:
    """What holds an open release now (no signer: the named owner's checks)."""
    release = packet.release(release_id)
    known = gate.revision_record(packet, release["revision"]) is not None
    return [
        h.as_dict()
        for h in gate.evaluate(
            packet,
            revision=release["revision"],
            lane=lane_of(release["lane_id"]),
            lane_id=release["lane_id"],
            now=now,
            release_id=release_id,
            content=content_of(packet, release["revision"]) if known else None,
        )
    ]


def follow_up(
    packet: Packet,
    meta: Meta,
    *,
    lane_of: LaneOf,
    content_of: ContentOf,
) -> None:
    pending = list(packet.pending_events)
    owner_changes = [e for e in pending if isinstance(e, Packet.MembersChanged)]
    if owner_changes:
        for release in packet.active_releases():
            # several signers: the owner the manifest was bound for
            manifest = release["manifest"]
            signer = manifest.get("release_owner", manifest["signer"]["user_id"])
            if signer != packet.release_owner:
                packet.supersede_release(
                    meta,
                    release["id"],
                    cause=gate.RELEASE_OWNER_CHANGED,
                    trigger={
                        "event": Packet.MembersChanged.TOPIC,
                        "version": owner_changes[-1].originator_version,
                        "release_owner": packet.release_owner,
                        "signed_by": signer,
                    },
                )
    # Other events that may change a release's reasons say so themselves
    # (`PacketEvent.regates`: content modules' events, signer changes).
    if not any(
        isinstance(e, TRIGGERS) or getattr(e, "regates", False) for e in pending
    ):
        return
    gated = {e.release_id for e in pending if isinstance(e, GATED)}  # type: ignore[attr-defined]
    cache: dict[int, dict[str, Any]] = {}

    def content(p: Packet, number: int) -> dict[str, Any]:
        if number not in cache:
            cache[number] = content_of(p, number)
        return cache[number]

    for release in list(packet.releases.values()):
        if release["status"] not in ("pending", "held") or release["id"] in gated:
            continue
        holds = open_holds(
            packet, release["id"], lane_of=lane_of, content_of=content, now=meta.at
        )
        if holds != release["hold_reasons"] or (
            not holds and release["status"] == "held"
        ):
            packet.record_gate(meta, release["id"], holds)

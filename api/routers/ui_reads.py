"""Reads the web UI needs that no other route answers (issue 15).

`GET /v1/packets/{id}/releases/{rid}/preview`: what the release owner is
about to sign, before signing: the bound revision's exact content and the
manifest as it would be built now (meaning, scope and time are the signer's
to give, so they are blank here and the draft has no hash), and, for the
release owner or a named signer, how many signing re-authentications have
failed in a row (signing locks after five). Anyone who may read the packet may read it;
nothing is written.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from api.deps import CurrentUser
from api.routers.lanes import ReleaseAppDep
from release.manifest import build_manifest
from release.signers import required_signers
from workspace.accounts import SIGNING_LOCK_AFTER

router = APIRouter(prefix="/v1/packets/{packet_id}", tags=["ui"])


@router.get("/releases/{release_id}/preview")
def release_preview(
    packet_id: str, release_id: str, user: CurrentUser, app: ReleaseAppDep
) -> dict[str, Any]:
    """The content and the draft manifest of one release, before signing."""
    packet = app.read_packet(user, packet_id)
    release = packet.release(release_id)
    content = app.content_of(packet, release["revision"])
    lane = app.find_lane(release["lane_id"])
    manifest = (
        build_manifest(
            packet,
            release_id=release_id,
            content=content,
            lane=lane,
            signer_id=user.user_id,
            signer_name=user.name,
            meaning="",
            signed_at=datetime.now(UTC),
        )
        if lane is not None
        else None
    )
    signing = None
    # the owner, or any named signer (release/signers.py)
    if user.user_id in required_signers(packet) and not user.is_agent:
        account = app.get_user(user.user_id)
        signing = {
            "failed_attempts": account.failed_signings,
            "locked": account.signing_locked,
            "lock_after": SIGNING_LOCK_AFTER,
        }
    return {
        "release_id": release_id,
        "status": release["status"],
        "revision": release["revision"],
        "content_hash": release["content_hash"],
        "content": content,
        "manifest": manifest,
        "signing": signing,
    }

"""Reads the web UI needs that no other route answers (issue 15).

`GET /v1/packets/{id}/releases/{rid}/preview`: what the release owner is
about to sign, before signing: the bound revision's exact content and the
manifest as it would be built now (meaning, scope and time are the signer's
to give, so they are blank here and the draft has no hash), and, for the
release owner or a named signer, how many signing re-authentications have
failed in a row (signing locks after five). Anyone who may read the packet may read it;
nothing is written.

`GET /v1/packets/{id}/audit/export` (auditors): the packet's verifiable
history as JSON Lines, exactly what `quire audit export ID` writes (the
packet's events recomputed and checked against the audit log and its signed
checkpoints first). `POST /v1/audit/verify {lines, public_key?}` (auditors):
the offline verdict of `quire audit verify` on an export's lines; nothing is
read from the database and nothing is written.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import Field

from api.deps import CurrentUser, ReleaseAppDep
from api.outcomes import OnPacketDep
from api.schemas import Input
from projections.audit import AuditLog
from projections.audit_bundle import verify_bundle
from projections.audit_export import export_packet
from projections.checkpoints import load_or_create_private_key, raw_key
from projections.runner import bring_up_to_date
from projections.store import read_models_for
from release.manifest import build_manifest
from release.signers import required_signers
from workspace.accounts import SIGNING_LOCK_AFTER, Principal
from workspace.errors import InvalidInputError, NotAllowedError, StateError

router = APIRouter(tags=["ui"])

PACKET = "/v1/packets/{packet_id}"
EXPORT_LINES_MAX = 200_000


@router.get(PACKET + "/releases/{release_id}/preview")
def release_preview(
    release_id: str, on: OnPacketDep, app: ReleaseAppDep
) -> dict[str, Any]:
    """The content and the draft manifest of one release, before signing."""
    user = on.user
    packet = on.read()
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


def _auditor(user: Principal, what: str) -> None:
    if not user.is_auditor:
        raise NotAllowedError(
            "ROLE_NOT_ALLOWED", f"{what} is for auditors", {"user": user.user_id}
        )


@router.get(PACKET + "/audit/export", response_model=None)
def audit_export(on: OnPacketDep) -> Response:
    """The packet's history with inclusion proofs, as `quire audit export`."""
    _auditor(on.user, "the audit export")
    packet = on.read()
    pid = str(packet.id)
    store = read_models_for(on.svc)
    if not bring_up_to_date(store, [AuditLog.name]):
        raise StateError("AUDIT_LOG_BEHIND", "the audit log did not catch up; retry")
    key = load_or_create_private_key(on.svc.settings.signing_key_path)
    buffer = io.StringIO()
    session = store.session()
    try:
        summary = export_packet(store, session, pid, key, buffer)
    finally:
        session.close()
    on.record_read(packet, "audit_export", {"events": summary.events})
    return Response(
        buffer.getvalue(),
        media_type="application/x-ndjson",
        headers={
            "Content-Disposition": f'attachment; filename="quire-audit-{pid}.jsonl"'
        },
    )


class VerifyIn(Input):
    lines: Annotated[list[str], Field(max_length=EXPORT_LINES_MAX)]
    public_key: str | None = None


def _pinned(value: str) -> bytes:
    """The log's raw Ed25519 key, as hex or base64 of 32 bytes."""
    raw = raw_key(value.strip())
    if raw is None:
        raise InvalidInputError(
            "KEY_INVALID", "public_key: expected 32 bytes as hex or base64"
        )
    return raw


@router.post("/v1/audit/verify", openapi_extra={"x-writes-nothing": True})
def audit_verify(body: VerifyIn, user: CurrentUser) -> dict[str, Any]:
    """The verdict of `quire audit verify` on an export's lines."""
    _auditor(user, "verifying an export")
    pinned = _pinned(body.public_key) if body.public_key else None
    verdict = verify_bundle(body.lines, pinned)
    return {
        "ok": verdict.ok,
        "message": verdict.message,
        "line": verdict.line,
        "events": verdict.events,
        "pinned": pinned is not None,
    }

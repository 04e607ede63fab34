"""The manifest an approval signs, and its hash.

The manifest is plain JSON (no floats) so its RFC 8785 form, and so its hash,
is the same wherever it is recomputed: an auditor re-hashes the stored manifest
and compares it with `manifest_hash`, and compares the revision hash in it with
the hash of the content a lane member was shown.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from release.gate import GATE_POLICY_VERSION, accepted_residuals
from release.lanes import Lane
from workspace.content import modules
from workspace.content.sources import non_material_refreshes
from workspace.domain import Packet, iso
from workspace.hashing import content_hash

__all__ = ["non_material_refreshes"]  # re-exported from workspace/content/

MANIFEST_VERSION = 2


def build_manifest(
    packet: Packet,
    *,
    release_id: str,
    content: dict[str, Any],
    lane: Lane,
    signer_id: str,
    signer_name: str,
    meaning: str,
    signed_at: datetime,
    scope: str | dict[str, Any] | None = None,
    rollback: bool = False,
) -> dict[str, Any]:
    """What the release owner signs for one release (DESIGN.md, 'Manifest').

    The release-level parts, then every registered content module's part of
    the bound revision's content (sections as the scope, sources with the
    release owner's non-material judgements, prerequisites, ...): exactly
    that content, since the gate holds `REVISION_STALE` when the packet says
    otherwise.
    """
    release = packet.release(release_id)
    revision = packet.revision(release["revision"])
    statement = scope if isinstance(scope, str) else None
    declared = dict(scope) if isinstance(scope, dict) else None
    manifest: dict[str, Any] = {
        "manifest_version": MANIFEST_VERSION,
        "gate_policy_version": GATE_POLICY_VERSION,
        "packet": {"id": str(packet.id), "kind": packet.kind, "title": packet.title},
        "release_id": release_id,
        "revision": {
            "number": revision["number"],
            "label": revision["label"],
            "content_hash": revision["content_hash"],
        },
        "lane": {
            "id": lane.lane_id,
            "title": lane.title,
            "audience_version": lane.audience_version,
            "policy": dict(lane.policy),
        },
        "signer": {"user_id": signer_id, "name": signer_name},
        "meaning": meaning,
        "signed_at": iso(signed_at),
        "rollback": bool(rollback),
        "scope": {"statement": statement, "declared": declared},
        "residual_objections": [
            {
                "objection_id": r["objection_id"],
                "text_hash": r["text_hash"],
                "rationale": r["rationale"],
                "accepted_by": r["accepted_by"],
            }
            for r in accepted_residuals(packet, release_id)
        ],
    }
    for module in modules():
        for key, part in module.manifest(packet, content).items():
            if isinstance(part, dict) and isinstance(manifest.get(key), dict):
                manifest[key] = {**manifest[key], **part}
            else:
                manifest[key] = part
    return manifest


def manifest_hash(manifest: dict[str, Any]) -> str:
    """'sha256:<hex>' of the manifest's RFC 8785 canonical JSON."""
    return content_hash(manifest)


def dependencies(manifest: dict[str, Any]) -> dict[str, list[str]]:
    """What an approved release depends on, by kind, from its manifest."""
    return {
        "sources": [s["source_id"] for s in manifest["sources"]],
        "prerequisites": [p["prerequisite_id"] for p in manifest["prerequisites"]],
        "residuals": [r["objection_id"] for r in manifest["residual_objections"]],
    }

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
from workspace.domain import Packet, iso
from workspace.hashing import content_hash

MANIFEST_VERSION = 1


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
    scope: str | None = None,
) -> dict[str, Any]:
    """What the release owner signs for one release (DESIGN.md, 'Manifest')."""
    release = packet.release(release_id)
    revision = packet.revision(release["revision"])
    return {
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
        "scope": {
            "statement": scope,
            "sections": [
                {"id": s["id"], "heading": s["heading"]} for s in content["sections"]
            ],
        },
        "residual_objections": [
            {
                "objection_id": r["objection_id"],
                "text_hash": r["text_hash"],
                "rationale": r["rationale"],
                "accepted_by": r["accepted_by"],
            }
            for r in accepted_residuals(packet, release_id)
        ],
        "sources": [
            {
                "source_id": s["id"],
                "kind": s["kind"],
                "title": s["title"],
                "precedence": s["precedence"],
                "digest": s["digest"],
                "valid_until": packet.sources[s["id"]]["valid_until"],
            }
            for s in sorted(
                content["sources"], key=lambda s: (s["precedence"], s["id"])
            )
        ],
        "prerequisites": [
            {
                "prerequisite_id": p["id"],
                "title": p["title"],
                "state": p["state"],
                "valid_until": p["valid_until"],
            }
            for p in packet.prerequisites.values()
        ],
    }


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

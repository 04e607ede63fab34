"""Who must sign a release (issue 13 item 4): pure functions over the packet.

The release owner always signs. Besides them, the packet may name signers
(`SignersNamed`), and may say that a recovery plan's remediation approvers
sign too. With nobody but the owner required, a release is approved exactly
as before (one signature, the owner's, the manifest as it always was): the
rules here only add `SIGNATURE_MISSING` when several people must sign.
"""

from __future__ import annotations

from typing import Any

from workspace.content import Hold
from workspace.content.plan import plan_approvers

SIGNATURE_MISSING = "SIGNATURE_MISSING"


def named(packet: Any) -> dict[str, Any]:
    """The packet's signer state (a read: never creates `packet.parts`)."""
    found: dict[str, Any] = vars(packet).get("parts", {}).get("signers") or {}
    return found


def required_signers(packet: Any) -> list[str]:
    """Everyone who must sign, once each: the owner first, then the named
    signers, then (if the owner said so) the plan's remediation approvers."""
    state = named(packet)
    wanted = [packet.release_owner, *state.get("named", [])]
    if state.get("plan_approvers"):
        wanted += plan_approvers(packet)
    seen: list[str] = []
    for user_id in wanted:
        if user_id not in seen:
            seen.append(user_id)
    return seen


def is_multi(packet: Any) -> bool:
    """Whether anyone besides the release owner must sign."""
    return len(required_signers(packet)) > 1


def signatures(release: dict[str, Any]) -> list[dict[str, Any]]:
    """The signatures collected on an open release (void ones excluded)."""
    return list(release.get("signatures") or [])


def missing_signers(packet: Any, release: dict[str, Any]) -> list[str]:
    signed = {s["signer"] for s in signatures(release)}
    return [u for u in required_signers(packet) if u not in signed]


def signature_holds(packet: Any, release_id: str | None) -> list[Hold]:
    """`SIGNATURE_MISSING`, naming who has not signed yet (several signers
    only; an open release; at request time everyone is missing)."""
    if not is_multi(packet):
        return []
    release = packet.releases.get(release_id) if release_id else None
    missing = (
        required_signers(packet)
        if release is None
        else missing_signers(packet, release)
    )
    if not missing:
        return []
    return [
        Hold(
            SIGNATURE_MISSING,
            f"waiting for {', '.join(missing)} to sign the same manifest",
            {"missing": missing, "required": required_signers(packet)},
        )
    ]


def signed_view(release: dict[str, Any]) -> list[dict[str, Any]]:
    """Every signature of a release, as the manifest and the lane view list
    them: the approved manifest's `signatures`, or its one signer."""
    manifest = release.get("manifest")
    if manifest is None:
        return [_public(s) for s in signatures(release)]
    if "signatures" in manifest:
        return [_public(s) for s in manifest["signatures"]]
    return [
        {
            "signer": manifest["signer"]["user_id"],
            "name": manifest["signer"]["name"],
            "meaning": manifest["meaning"],
            "signed_at": manifest["signed_at"],
        }
    ]


def signed_by(manifest: dict[str, Any]) -> list[str]:
    """Who signed an approved manifest."""
    if "signatures" in manifest:
        return [s["signer"] for s in manifest["signatures"]]
    return [manifest["signer"]["user_id"]]


def _public(signature: dict[str, Any]) -> dict[str, Any]:
    return {
        "signer": signature["signer"],
        "name": signature["name"],
        "meaning": signature["meaning"],
        "signed_at": signature["signed_at"],
    }

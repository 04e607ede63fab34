"""Several named signers (issue 13 item 4): naming them, signing one bound
manifest, voiding what was collected when the manifest no longer holds, and
the reads (who has signed, who has not, what awaits me).

With nobody but the release owner required (release/signers.py) none of
this runs: `ApproveRelease` (release/commands.py) approves as it always did.

With several signers, every signer calls the same approve route. The first
valid signature builds the manifest and binds it on the release
(`ReleaseSigned` carries it); each later signer signs that manifest (their
`content_hash` must match the bound revision, their `scope` may only repeat
the bound one). The release stays held `SIGNATURE_MISSING`, naming who is
missing, until the last signature, which approves it with a manifest that is
the bound one plus `signatures` (each naming `manifest_hash`, the hash of the
bound manifest, also stored as `signed_manifest_hash`).

Whatever the bound manifest rests on may change before the last signature:
`void_stale_signatures` runs in the same save as every change (from
`ReleaseApp.consequences`) and voids every signature collected
(`SignaturesVoided`) when the gate now holds the release for anything but a
missing signature, when the set of signers changed, or when the manifest
rebuilt from today's state hashes differently; signing starts again on a
fresh manifest. A later signer also re-checks the bound manifest first
(a lane's audience changes outside the packet's save).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from release.approval import approve
from release.lanes import Lane
from release.manifest import build_manifest, manifest_hash
from release.regate import open_holds
from release.signers import (
    SIGNATURE_MISSING,
    missing_signers,
    named,
    required_signers,
    signature_holds,
    signatures,
    signed_view,
)
from workspace import policy
from workspace.accounts import Principal
from workspace.commands.base import Command, Context
from workspace.domain import Meta, Packet, iso, parse_time, require_text
from workspace.domain.signatures import ReleaseSigned, SignaturesVoided, SignersNamed
from workspace.errors import StateError, UnprocessableError

if TYPE_CHECKING:
    from release.application import ReleaseApp

#: At most this many named signers on one packet.
SIGNERS_MAX = 20

LaneOf = Callable[[str], Lane | None]
ContentOf = Callable[[Packet, int], dict[str, Any]]


# ------------------------------------------------------------- naming
@dataclass(frozen=True)
class NameSigners(Command, action="release_owner"):
    """The release owner names who must sign besides themselves (an empty
    list: the owner alone again). Refused with 422 and nothing written: an
    unknown user (`SIGNER_UNKNOWN`), an agent (`SIGNER_IS_AGENT`), someone
    listed twice (`SIGNER_DUPLICATE`; the owner listed once is fine: the
    owner always signs), someone who is not a packet member
    (`SIGNER_NOT_MEMBER`: a signer must be able to read what they sign).
    `plan_approvers`: a recovery plan's remediation approvers sign too."""

    signers: list[str]
    plan_approvers: bool = False

    def prepare(self, ctx: Context) -> None:
        if len(self.signers) > SIGNERS_MAX:
            raise UnprocessableError(
                "SIGNERS_TOO_MANY",
                f"at most {SIGNERS_MAX} named signers",
                {"limit": SIGNERS_MAX},
            )
        seen: set[str] = set()
        for user_id in self.signers:
            if user_id in seen:
                raise UnprocessableError(
                    "SIGNER_DUPLICATE",
                    f"{user_id!r} is listed twice; each signer signs once",
                    {"signer": user_id},
                )
            seen.add(user_id)
            if not ctx.app.user_exists(user_id):
                raise UnprocessableError(
                    "SIGNER_UNKNOWN", f"no user {user_id!r}", {"signer": user_id}
                )
            if ctx.app.get_user(user_id).principal().is_agent:
                raise UnprocessableError(
                    "SIGNER_IS_AGENT",
                    f"{user_id} is an agent; agents never sign",
                    {"signer": user_id},
                )

    def decide(self, packet: Packet, ctx: Context) -> list[str]:
        for user_id in self.signers:
            if user_id != packet.release_owner and user_id not in (
                *packet.authors,
                *packet.reviewers,
            ):
                raise UnprocessableError(
                    "SIGNER_NOT_MEMBER",
                    f"{user_id} is not a member of this packet",
                    {"signer": user_id},
                )
        state = named(packet)
        if list(self.signers) != state.get("named", []) or bool(
            self.plan_approvers
        ) != bool(state.get("plan_approvers")):
            packet.trigger_event(
                SignersNamed,
                signers=list(self.signers),
                plan_approvers=bool(self.plan_approvers),
                **ctx.meta().fields(),
            )
        return required_signers(packet)


# ------------------------------------------------------------- signing
def bound_body(
    packet: Packet,
    lane: Lane,
    release_id: str,
    content: dict[str, Any],
    *,
    signer: tuple[str, str],
    meaning: str,
    signed_at: datetime,
    scope: str | dict[str, Any] | None,
    rollback: bool,
) -> dict[str, Any]:
    """The manifest every signer signs: the usual one (its `signer`,
    `meaning` and `signed_at` are the first signature's, the one that bound
    it) plus who owns the release and who must sign."""
    body = build_manifest(
        packet,
        release_id=release_id,
        content=content,
        lane=lane,
        signer_id=signer[0],
        signer_name=signer[1],
        meaning=meaning,
        signed_at=signed_at,
        scope=scope,
        rollback=rollback,
    )
    body["release_owner"] = packet.release_owner
    body["signers_required"] = required_signers(packet)
    return body


def _scope_of(body: dict[str, Any]) -> str | dict[str, Any] | None:
    scope = body["scope"]
    statement: str | None = scope["statement"]
    declared: dict[str, Any] | None = scope["declared"]
    return statement if statement is not None else declared


def rebuilt(
    packet: Packet, lane: Lane | None, release: dict[str, Any], content_of: ContentOf
) -> str | None:
    """The hash of the bound manifest rebuilt from today's state (None: it
    cannot be rebuilt, the lane is gone)."""
    bound = release["signing_manifest"]
    if lane is None:
        return None
    at = parse_time(bound["signed_at"])
    assert at is not None
    body = bound_body(
        packet,
        lane,
        release["id"],
        content_of(packet, release["revision"]),
        signer=(bound["signer"]["user_id"], bound["signer"]["name"]),
        meaning=bound["meaning"],
        signed_at=at,
        scope=_scope_of(bound),
        rollback=bound["rollback"],
    )
    return manifest_hash(body)


def void_reason(
    packet: Packet,
    release: dict[str, Any],
    *,
    lane_of: LaneOf,
    content_of: ContentOf,
    now: datetime,
) -> tuple[str, dict[str, Any]] | None:
    """Why the signatures collected on an open release no longer stand, if
    they do not: (cause, trigger)."""
    bound = release["signing_manifest"]
    if bound["signers_required"] != required_signers(packet):
        return "SIGNERS_CHANGED", {
            "signers_required": required_signers(packet),
            "signed_for": bound["signers_required"],
        }
    holds = [
        h
        for h in open_holds(
            packet, release["id"], lane_of=lane_of, content_of=content_of, now=now
        )
        if h["code"] != SIGNATURE_MISSING
    ]
    if holds:
        return str(holds[0]["code"]), {"hold_reasons": holds}
    fresh = rebuilt(packet, lane_of(release["lane_id"]), release, content_of)
    if fresh != release["signing_manifest_hash"]:
        return "MANIFEST_CHANGED", {
            "signed_manifest_hash": release["signing_manifest_hash"],
            "manifest_hash_now": fresh,
        }
    return None


def void(
    packet: Packet, meta: Meta, release_id: str, cause: str, trigger: dict[str, Any]
) -> None:
    packet.trigger_event(
        SignaturesVoided,
        release_id=release_id,
        cause=cause,
        trigger=trigger,
        **meta.fields(),
    )


def void_stale_signatures(
    packet: Packet, meta: Meta, *, lane_of: LaneOf, content_of: ContentOf
) -> None:
    """In the same save as any change: voids the signatures of every open
    release whose bound manifest no longer holds, and re-gates it."""
    for release in list(packet.releases.values()):
        if release["status"] not in ("pending", "held") or not signatures(release):
            continue
        found = void_reason(
            packet, release, lane_of=lane_of, content_of=content_of, now=meta.at
        )
        if found is None:
            continue
        cause, trigger = found
        void(packet, meta, release["id"], cause, trigger)
        holds = open_holds(
            packet, release["id"], lane_of=lane_of, content_of=content_of, now=meta.at
        )
        packet.record_gate(meta, release["id"], holds)


def sign(
    app: ReleaseApp,
    packet: Packet,
    lane: Lane | None,
    principal: Principal,
    release_id: str,
    holds: list[dict[str, Any]],
    *,
    meaning: str,
    scope: str | dict[str, Any] | None,
    rollback: bool,
    meta: Meta,
) -> tuple[list[dict[str, Any]], list[Any]]:
    """One named signer's valid approval of a release that needs several:
    recorded, and the last one approves (`approve` in
    release/approval.py). Held for anything but missing signatures: nothing
    but the gate's record written.
    Returns (holds that refuse it, other aggregates to save)."""
    if lane is None or any(h["code"] != SIGNATURE_MISSING for h in holds):
        packet.record_gate(meta, release_id, holds)
        return holds, []
    release = packet.release(release_id)
    if principal.user_id in {s["signer"] for s in signatures(release)}:
        raise StateError(
            "SIGNATURE_ALREADY_RECORDED",
            f"{principal.user_id} has already signed {release_id}",
            {"release_id": release_id, "signer": principal.user_id},
        )
    meaning = require_text("MEANING_EMPTY", "meaning", meaning, 2000)
    content_of = app.content_of
    if release.get("signing_manifest") is not None and rebuilt(
        packet, lane, release, content_of
    ) != release.get("signing_manifest_hash"):
        void(
            packet,
            meta,
            release_id,
            "MANIFEST_CHANGED",
            {"at_signature_of": principal.user_id},
        )
    bound = packet.release(release_id).get("signing_manifest")
    if bound is None:
        body = bound_body(
            packet,
            lane,
            release_id,
            content_of(packet, release["revision"]),
            signer=(principal.user_id, principal.name),
            meaning=meaning,
            signed_at=meta.at,
            scope=scope,
            rollback=rollback,
        )
        new: dict[str, Any] | None = body
    else:
        if scope is not None and scope != _scope_of(bound):
            raise UnprocessableError(
                "SCOPE_NOT_BOUND",
                "the manifest being signed binds another scope; sign it as it "
                "is (omit scope) or wait for it to be voided",
                {"release_id": release_id, "scope": bound["scope"]},
            )
        body, new = bound, None
    signed = manifest_hash(body)
    packet.trigger_event(
        ReleaseSigned,
        release_id=release_id,
        signer=principal.user_id,
        name=principal.name,
        manifest_hash=signed,
        meaning=meaning,
        signed_at=iso(meta.at),
        manifest=new,
        **meta.fields(),
    )
    release = packet.release(release_id)
    if missing_signers(packet, release):
        packet.record_gate(
            meta, release_id, [h.as_dict() for h in signature_holds(packet, release_id)]
        )
        return [], []
    final = {
        **body,
        "signed_manifest_hash": signed,
        "signatures": [dict(s) for s in signatures(release)],
    }
    approve(app, packet, lane, principal, release_id, meaning, final)
    return [], [lane]


# ---------------------------------------------------------------- reads
def signing_view(packet: Packet, release: dict[str, Any]) -> dict[str, Any]:
    """What the release view adds: every signature, who must sign, who has
    not signed yet, and the manifest being signed (its hash)."""
    is_open = release["status"] in ("pending", "held")
    manifest = release.get("manifest")
    if is_open:
        required = required_signers(packet)
        missing = missing_signers(packet, release) if len(required) > 1 else []
    else:
        required = list(
            (manifest or {}).get("signers_required")
            or ([manifest["signer"]["user_id"]] if manifest else [])
        )
        missing = []
    return {
        "signatures": signed_view(release),
        "signers_required": required,
        "signatures_missing": missing,
        "signing_manifest_hash": release.get("signing_manifest_hash")
        if is_open
        else None,
        "voided_signatures": len(release.get("voided_signatures", [])),
    }


def awaiting(packets: Iterable[Packet], principal: Principal) -> list[dict[str, Any]]:
    """Open releases where `principal` must sign and has not yet (issue 14's
    queue), oldest request first."""
    items: list[dict[str, Any]] = []
    for packet in packets:
        if principal.is_agent or not policy.can_read(principal, packet):
            continue
        required = required_signers(packet)
        if principal.user_id not in required:
            continue
        for release in packet.releases.values():
            if release["status"] not in ("pending", "held"):
                continue
            missing = missing_signers(packet, release)
            if principal.user_id not in missing:
                continue
            items.append(
                {
                    "packet_id": str(packet.id),
                    "title": packet.title,
                    "kind": packet.kind,
                    "release_id": release["id"],
                    "revision": release["revision"],
                    "content_hash": release["content_hash"],
                    "lane_id": release["lane_id"],
                    "status": release["status"],
                    "hold_reasons": list(release["hold_reasons"]),
                    "signing_manifest_hash": release.get("signing_manifest_hash"),
                    "signatures": signed_view(release),
                    "signers_required": required,
                    "signatures_missing": missing,
                    "requested_at": release["requested_at"],
                }
            )
    items.sort(key=lambda i: (i["requested_at"], i["packet_id"], i["release_id"]))
    return items

"""Several named signers (issue 13 item 4): the events. The rules (who must
sign, the gate's `SIGNATURE_MISSING`, signing, voiding) live in
release/signers.py and release/signatures.py.

Module-level `PacketEvent` subclasses (no mixin on `Packet`): the packet's
list lives under `packet.part("signers")`; a release's collected signatures
under the release's own `signatures` (absent from releases that never had
one: read with `.get`). None of them count as authoring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from workspace.domain.base import PacketEvent, iso
from workspace.domain.releases import ReleaseEvent

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class SignersNamed(PacketEvent):
    """The release owner names who must sign besides themselves (the owner
    always signs); `plan_approvers`: the recovery plan's remediation
    approvers sign too (read from the plan at the time of signing)."""

    TOPIC = "quire.packet.SignersNamed"
    signers: list[str]
    plan_approvers: bool

    counts_as_work = False
    regates: ClassVar[bool] = True  # the required set changed: re-gate

    def fold(self, packet: Packet) -> None:
        state = packet.part("signers")
        state["named"] = list(self.signers)
        state["plan_approvers"] = bool(self.plan_approvers)
        state["named_by"] = self.actor
        state["at"] = iso(self.timestamp)
        state["version"] = self.originator_version


class ReleaseSigned(ReleaseEvent):
    """One named signer signed `manifest_hash` (the manifest bound on the
    release by the first signature, carried by that event as `manifest`)."""

    TOPIC = "quire.packet.ReleaseSigned"
    signer: str
    name: str
    manifest_hash: str
    meaning: str
    signed_at: str
    manifest: dict[str, Any] | None

    def fold(self, packet: Packet) -> None:
        release = self.entry(packet)
        if self.manifest is not None:
            release["signing_manifest"] = self.manifest
            release["signing_manifest_hash"] = self.manifest_hash
            release["signatures"] = []
        release.setdefault("signatures", []).append(
            {
                "signer": self.signer,
                "name": self.name,
                "meaning": self.meaning,
                "signed_at": self.signed_at,
                "manifest_hash": self.manifest_hash,
            }
        )


class SignaturesVoided(ReleaseEvent):
    """Something the bound manifest rests on changed before the last
    signature: every signature collected for the release is void, and
    signing starts again on a fresh manifest."""

    TOPIC = "quire.packet.SignaturesVoided"
    cause: str
    trigger: dict[str, Any]

    def fold(self, packet: Packet) -> None:
        release = self.entry(packet)
        release.setdefault("voided_signatures", []).append(
            {
                "cause": self.cause,
                "trigger": dict(self.trigger),
                "at": iso(self.timestamp),
                "manifest_hash": release.get("signing_manifest_hash"),
                "signatures": list(release.get("signatures", [])),
            }
        )
        release["signatures"] = []
        release["signing_manifest"] = None
        release["signing_manifest_hash"] = None

"""Which active releases depend on what, and which a change would supersede.

One rule set serves both directions: `supersessions_for(event)` finds the
releases a just-made change supersedes (the application records them in the
same save), and `impact(...)` answers the same question before the change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from release.manifest import dependencies
from workspace.domain import Packet


@dataclass(frozen=True)
class Supersession:
    release_id: str
    cause: str
    trigger: dict[str, Any]


def depending_on(packet: Packet, kind: str, dependency_id: str) -> list[dict[str, Any]]:
    """Active releases whose manifest lists `dependency_id` among `kind`
    ('sources', 'prerequisites' or 'residuals')."""
    return [
        release
        for release in packet.active_releases()
        if dependency_id in dependencies(release["manifest"])[kind]
    ]


def supersessions_for(packet: Packet, event: Any) -> list[Supersession]:
    """The active releases `event` (already applied to `packet`) supersedes."""
    trigger: dict[str, Any] = {
        "event": type(event).TOPIC,
        "version": event.originator_version,
    }
    subject: dict[str, Any]
    if isinstance(event, Packet.SourceRefreshed) and event.material:
        kind, cause, key = "sources", "SOURCE_DRIFT", "source_id"
        subject = {"digest": event.digest, "previous_digest": event.previous_digest}
    elif isinstance(event, Packet.SourceWithdrawn):
        kind, cause, key, subject = "sources", "SOURCE_DRIFT", "source_id", {}
    elif isinstance(event, Packet.SourceExpired):
        kind, cause, key, subject = "sources", "SOURCE_EXPIRED", "source_id", {}
    elif isinstance(event, Packet.PrerequisiteLapsed):
        kind, cause, key = "prerequisites", "PREREQUISITE_LAPSED", "prerequisite_id"
        subject = {}
    elif isinstance(event, Packet.ObjectionReopened):
        kind, cause, key = "residuals", "RESIDUAL_REOPENED", "objection_id"
        subject = {}
    else:
        return []
    dependency_id = getattr(event, key)
    trigger = {**trigger, key: dependency_id, **subject}
    return [
        Supersession(release["id"], cause, trigger)
        for release in depending_on(packet, kind, dependency_id)
    ]


def impact(
    packet: Packet,
    *,
    source_id: str | None = None,
    prerequisite_id: str | None = None,
    objection_id: str | None = None,
) -> list[dict[str, Any]]:
    """Active releases that a material refresh of `source_id`, a lapse of
    `prerequisite_id` or a reopening of `objection_id` would supersede."""
    questions = [
        ("sources", "source_id", source_id, "SOURCE_DRIFT"),
        ("prerequisites", "prerequisite_id", prerequisite_id, "PREREQUISITE_LAPSED"),
        ("residuals", "objection_id", objection_id, "RESIDUAL_REOPENED"),
    ]
    if source_id is not None:
        packet.source(source_id)
    if prerequisite_id is not None:
        packet.prerequisite(prerequisite_id)
    if objection_id is not None:
        packet.objection(objection_id)
    found: list[dict[str, Any]] = []
    for kind, key, dependency_id, cause in questions:
        if dependency_id is None:
            continue
        for release in depending_on(packet, kind, dependency_id):
            found.append(
                {
                    "release_id": release["id"],
                    "lane_id": release["lane_id"],
                    "revision": release["revision"],
                    "label": release["manifest"]["revision"]["label"],
                    "cause": cause,
                    "because": {key: dependency_id},
                }
            )
    return found

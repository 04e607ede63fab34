"""The Packet aggregate: one governed packet and every event that changes it.

Events are stored schema. Each has a stable `TOPIC` (registered explicitly, so a
class may be renamed or moved without breaking stored history) and a
`class_version` (bump it and add an `upcast_vN_vN+1` when its fields change).

Event `apply` methods only fold state; they never validate, because they are
replayed. Every guard lives in the command methods, which run once.

State is plain JSON (dicts, lists, strings, numbers) so that snapshots
round-trip exactly and `state()` can be compared between a live aggregate and
one rebuilt from stored events.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from eventsourcing.domain import Aggregate

from workspace.errors import (
    InvalidInputError,
    NotFoundError,
    StateError,
    TooLargeError,
    UnprocessableError,
)
from workspace.hashing import content_hash, sha256_hex
from workspace.rebase import Op, apply_ops

ActorKind = Literal["human", "agent"]

#: How many recent (client_id, client_seq) results a packet remembers per
#: (user, client id), so that a resent edit is applied once and answered with
#: its first result.
CLIENT_RESULTS_KEPT = 64
#: ...and how many (user, client id) pairs it remembers (the least recently
#: used go first).
CLIENTS_KEPT = 256

TITLE_MAX = 300

#: Why an approved release stops being active (DESIGN.md; extend, never rename).
SUPERSESSION_CAUSES = (
    "SOURCE_DRIFT",
    "SOURCE_EXPIRED",
    "PREREQUISITE_LAPSED",
    "RESIDUAL_REOPENED",
    "LANE_AUDIENCE_CHANGED",
    "REPLACED_BY_NEW_RELEASE",
    "HELD_BY_RELEASE_OWNER",
    "RELEASE_OWNER_CHANGED",
)
TEXT_FIELD_MAX = 20_000

#: What a lane decides on a release delivered to it (API.md v2), and why it
#: may return one.
LANE_DECISIONS = ("accepted", "returned")
RETURN_CATEGORIES = (
    "narrower_scope",
    "fresher_support",
    "audience_mistake",
    "hidden_drift",
    "other",
)

#: Why a human rejects an agent's suggestion (shared/API.md, v2 additions).
REJECTION_CATEGORIES = (
    "concession_recommendation",
    "customer_communication",
    "billing_execution",
    "entitlement_adjudication",
    "staffing_commitment",
    "incident_classification",
    "live_diagnostics",
    "factual_error",
    "other",
)


def client_key(user_id: str, client_id: str) -> str:
    """The key of one user's client in `Packet.client_results`. User ids have
    no spaces (`accounts.validate_user_id`), so the first space splits it."""
    return f"{user_id} {client_id}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Meta:
    """Who did it, when, why, and from which client: carried by every event."""

    actor: str
    actor_kind: ActorKind = "human"
    reason: str | None = None
    client_id: str | None = None
    client_seq: int | None = None
    at: datetime = field(default_factory=utcnow)

    def fields(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "reason": self.reason,
            "client_id": self.client_id,
            "client_seq": self.client_seq,
            "timestamp": self.at,
        }


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)


#: Characters no store keeps: PostgreSQL refuses NUL in text (and a refused
#: event stalls every read model behind it), and a lone UTF-16 surrogate has
#: no UTF-8 encoding. Stable codes, refused at the edge and again here.
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_fault(value: str) -> str | None:
    """`TEXT_HAS_NUL` or `TEXT_HAS_SURROGATE` when `value` holds one, else None."""
    if "\x00" in value:
        return "TEXT_HAS_NUL"
    if _SURROGATE.search(value):
        return "TEXT_HAS_SURROGATE"
    return None


def require_text(code: str, what: str, value: object, limit: int = TITLE_MAX) -> str:
    """A non-empty, stripped string of at most `limit` characters.

    `code` names the empty case (`HEADING_EMPTY`); the same field over its
    limit is `..._TOO_LONG` (`HEADING_TOO_LONG`), with the limit and length.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(code, f"{what} must be a non-empty string")
    if len(value) > limit:
        raise InvalidInputError(
            code.removesuffix("_EMPTY") + "_TOO_LONG",
            f"{what} is longer than {limit} characters",
            {"limit": limit, "length": len(value)},
        )
    fault = text_fault(value)
    if fault is not None:
        raise InvalidInputError(fault, f"{what} holds a character no store keeps")
    return value.strip()


class Packet(Aggregate):
    """One governed packet: sections, sources, prerequisites, objections,
    revisions (and, from the release layer, releases)."""

    TOPIC = "quire.packet"

    # Declared for type checkers; assigned by Opened.apply.
    kind: str
    title: str
    release_owner: str
    authors: list[str]
    reviewers: list[str]
    sections: dict[str, dict[str, Any]]
    section_order: list[str]
    sources: dict[str, dict[str, Any]]
    source_order: list[str]
    prerequisites: dict[str, dict[str, Any]]
    objections: dict[str, dict[str, Any]]
    conflicts: dict[str, dict[str, Any]]
    suggestions: dict[str, dict[str, Any]]
    revisions: list[dict[str, Any]]
    releases: dict[str, dict[str, Any]]
    refusals: list[dict[str, Any]]
    client_results: dict[str, dict[str, Any]]
    counters: dict[str, int]
    contributors: list[str]

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Opened.fold, so snapshots and replays agree."""

    class Event(Aggregate.Event):
        actor: str
        actor_kind: str
        reason: str | None
        client_id: str | None
        client_seq: int | None

        def apply(self, aggregate: Any) -> None:
            self.fold(aggregate)
            if self.actor not in aggregate.contributors and self.counts_as_work:
                aggregate.contributors.append(self.actor)

        counts_as_work: ClassVar[bool] = True

        def fold(self, packet: Packet) -> None:
            """Evolves the packet's state; overridden by each event."""

    class Created(Event, Aggregate.Created):
        TOPIC = "quire.packet.Created"

    # ----------------------------------------------------------------- opening
    class Opened(Created):
        TOPIC = "quire.packet.Opened"
        class_version = 1
        kind: str
        title: str
        release_owner: str
        authors: list[str]
        reviewers: list[str]

        def fold(self, packet: Packet) -> None:
            packet.kind = self.kind
            packet.title = self.title
            packet.release_owner = self.release_owner
            packet.authors = list(self.authors)
            packet.reviewers = list(self.reviewers)
            packet.sections = {}
            packet.section_order = []
            packet.sources = {}
            packet.source_order = []
            packet.prerequisites = {}
            packet.objections = {}
            packet.conflicts = {}
            packet.suggestions = {}
            packet.revisions = []
            packet.releases = {}
            packet.refusals = []
            packet.client_results = {}
            packet.counters = {}
            packet.contributors = []

    class MembersChanged(Event):
        TOPIC = "quire.packet.MembersChanged"
        class_version = 1
        counts_as_work = False  # membership is not content
        release_owner: str
        authors: list[str]
        reviewers: list[str]

        def fold(self, packet: Packet) -> None:
            packet.release_owner = self.release_owner
            packet.authors = list(self.authors)
            packet.reviewers = list(self.reviewers)

    class Retitled(Event):
        TOPIC = "quire.packet.Retitled"
        class_version = 1
        title: str

        def fold(self, packet: Packet) -> None:
            packet.title = self.title

    # ---------------------------------------------------------------- sections
    class SectionAdded(Event):
        TOPIC = "quire.packet.SectionAdded"
        class_version = 1
        section_id: str
        heading: str
        text: str
        position: int

        def fold(self, packet: Packet) -> None:
            packet.counters["section"] = packet.counters.get("section", 0) + 1
            packet.sections[self.section_id] = {
                "id": self.section_id,
                "heading": self.heading,
                "text": self.text,
                "last_edit_version": self.originator_version,
            }
            packet.section_order.insert(self.position, self.section_id)

    class SectionRetitled(Event):
        TOPIC = "quire.packet.SectionRetitled"
        class_version = 1
        section_id: str
        heading: str

        def fold(self, packet: Packet) -> None:
            packet.sections[self.section_id]["heading"] = self.heading

    class SectionMoved(Event):
        TOPIC = "quire.packet.SectionMoved"
        class_version = 1
        section_id: str
        position: int

        def fold(self, packet: Packet) -> None:
            packet.section_order.remove(self.section_id)
            packet.section_order.insert(self.position, self.section_id)

    class SectionRemoved(Event):
        TOPIC = "quire.packet.SectionRemoved"
        class_version = 1
        section_id: str

        def fold(self, packet: Packet) -> None:
            packet.section_order.remove(self.section_id)
            packet.sections[self.section_id]["removed"] = True

    class SectionTextEdited(Event):
        """Ops are stored as applied: already rebased onto the text just before."""

        TOPIC = "quire.packet.SectionTextEdited"
        class_version = 1
        section_id: str
        base_version: int
        ops: list[dict[str, Any]]
        suggestion_id: str | None

        def fold(self, packet: Packet) -> None:
            section = packet.sections[self.section_id]
            section["text"] = apply_ops(section["text"], _ops(self.ops))
            section["last_edit_version"] = self.originator_version
            if self.suggestion_id is not None:
                packet.suggestions[self.suggestion_id]["state"] = "accepted"
                packet.suggestions[self.suggestion_id]["accepted_by"] = self.actor
            packet.remember_client(self, {"version": self.originator_version})

    class EditConflictRecorded(Event):
        """A true overlap: the losing ops are kept, never dropped or blended."""

        TOPIC = "quire.packet.EditConflictRecorded"
        class_version = 1
        conflict_id: str
        section_id: str
        base_version: int
        ops: list[dict[str, Any]]
        against_version: int

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.counters["conflict"] = packet.counters.get("conflict", 0) + 1
            packet.conflicts[self.conflict_id] = {
                "id": self.conflict_id,
                "section_id": self.section_id,
                "base_version": self.base_version,
                "ops": list(self.ops),
                "against_version": self.against_version,
                "raised_by": self.actor,
                "client_id": self.client_id,
                "client_seq": self.client_seq,
                "state": "open",
                "resolution": None,
            }
            packet.remember_client(
                self,
                {
                    "conflict_id": self.conflict_id,
                    "version": self.originator_version,
                },
            )

    class EditConflictResolved(Event):
        TOPIC = "quire.packet.EditConflictResolved"
        class_version = 1
        conflict_id: str
        resolution: str

        def fold(self, packet: Packet) -> None:
            packet.conflicts[self.conflict_id]["state"] = "resolved"
            packet.conflicts[self.conflict_id]["resolution"] = self.resolution

    class SuggestionProposed(Event):
        """An agent's edit waits for a human to accept it."""

        TOPIC = "quire.packet.SuggestionProposed"
        class_version = 1
        suggestion_id: str
        section_id: str
        base_version: int
        ops: list[dict[str, Any]]

        def fold(self, packet: Packet) -> None:
            packet.counters["suggestion"] = packet.counters.get("suggestion", 0) + 1
            packet.suggestions[self.suggestion_id] = {
                "id": self.suggestion_id,
                "section_id": self.section_id,
                "base_version": self.base_version,
                "ops": list(self.ops),
                "proposed_by": self.actor,
                "state": "proposed",
                "accepted_by": None,
            }
            packet.remember_client(
                self,
                {
                    "suggestion_id": self.suggestion_id,
                    "version": self.originator_version,
                },
            )

    class SuggestionRejected(Event):
        """The reason is the event's own (Meta.reason); `category` says what
        kind of boundary or error the suggestion crossed (absent before v2)."""

        TOPIC = "quire.packet.SuggestionRejected"
        class_version = 1
        suggestion_id: str
        category: str | None = None

        counts_as_work = False  # rejecting changes no content

        def fold(self, packet: Packet) -> None:
            suggestion = packet.suggestions[self.suggestion_id]
            suggestion["state"] = "rejected"
            suggestion["rejection"] = {
                "by": self.actor,
                "reason": self.reason,
                "category": self.category,
            }

    # ----------------------------------------------------------------- sources
    class SourceCited(Event):
        TOPIC = "quire.packet.SourceCited"
        class_version = 1
        source_id: str
        kind: str
        title: str
        reference: str
        digest: str
        precedence: int
        valid_until: str | None

        def fold(self, packet: Packet) -> None:
            packet.counters["source"] = packet.counters.get("source", 0) + 1
            packet.sources[self.source_id] = {
                "id": self.source_id,
                "kind": self.kind,
                "title": self.title,
                "reference": self.reference,
                "digest": self.digest,
                "precedence": self.precedence,
                "valid_until": self.valid_until,
                "status": "current",
                "cited_by": self.actor,
                "refreshes": 0,
            }
            packet.source_order.append(self.source_id)

    class SourceRefreshed(Event):
        TOPIC = "quire.packet.SourceRefreshed"
        class_version = 1
        source_id: str
        digest: str
        previous_digest: str
        material: bool
        valid_until: str | None

        def fold(self, packet: Packet) -> None:
            source = packet.sources[self.source_id]
            source["digest"] = self.digest
            source["valid_until"] = self.valid_until
            source["status"] = "current"
            source["refreshes"] += 1
            if self.material:  # drift since a cut is judged by the release gate
                source["material_version"] = self.originator_version
            elif self.digest != self.previous_digest:
                # The release owner judged a changed digest non-material: the
                # judgement and its reason are bound into later manifests.
                source.setdefault("non_material", []).append(
                    {
                        "digest": self.digest,
                        "previous_digest": self.previous_digest,
                        "reason": self.reason,
                        "judged_by": self.actor,
                        "at": iso(self.timestamp),
                        "version": self.originator_version,
                    }
                )

    class SourceWithdrawn(Event):
        TOPIC = "quire.packet.SourceWithdrawn"
        class_version = 1
        source_id: str

        def fold(self, packet: Packet) -> None:
            packet.sources[self.source_id]["status"] = "withdrawn"

    class SourceExpired(Event):
        TOPIC = "quire.packet.SourceExpired"
        class_version = 1
        source_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.sources[self.source_id]["status"] = "expired"

    # ----------------------------------------------------------- prerequisites
    class PrerequisiteDeclared(Event):
        TOPIC = "quire.packet.PrerequisiteDeclared"
        class_version = 1
        prerequisite_id: str
        title: str
        satisfied: bool
        valid_until: str | None

        def fold(self, packet: Packet) -> None:
            packet.counters["prerequisite"] = packet.counters.get("prerequisite", 0) + 1
            packet.prerequisites[self.prerequisite_id] = {
                "id": self.prerequisite_id,
                "title": self.title,
                "state": "satisfied" if self.satisfied else "unmet",
                "valid_until": self.valid_until,
                "evidence": None,
            }

    class PrerequisiteSatisfied(Event):
        TOPIC = "quire.packet.PrerequisiteSatisfied"
        class_version = 1
        prerequisite_id: str
        evidence: str
        valid_until: str | None

        def fold(self, packet: Packet) -> None:
            prerequisite = packet.prerequisites[self.prerequisite_id]
            prerequisite["state"] = "satisfied"
            prerequisite["evidence"] = self.evidence
            prerequisite["valid_until"] = self.valid_until

    class PrerequisiteLapsed(Event):
        TOPIC = "quire.packet.PrerequisiteLapsed"
        class_version = 1
        prerequisite_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.prerequisites[self.prerequisite_id]["state"] = "lapsed"

    # -------------------------------------------------------------- objections
    class ObjectionRaised(Event):
        TOPIC = "quire.packet.ObjectionRaised"
        class_version = 1
        counts_as_work = False  # objection work is not authorship
        objection_id: str
        target: dict[str, str]
        text: str

        def fold(self, packet: Packet) -> None:
            packet.counters["objection"] = packet.counters.get("objection", 0) + 1
            packet.objections[self.objection_id] = {
                "id": self.objection_id,
                "target": dict(self.target),
                "text": self.text,
                "raised_by": self.actor,
                "state": "open",
                "answers": [],
                "resolution": None,
            }

    class ObjectionAnswered(Event):
        TOPIC = "quire.packet.ObjectionAnswered"
        class_version = 1
        counts_as_work = False  # objection work is not authorship
        objection_id: str
        answer: str

        def fold(self, packet: Packet) -> None:
            packet.objections[self.objection_id]["answers"].append(
                {"by": self.actor, "text": self.answer}
            )

    class ObjectionResolved(Event):
        TOPIC = "quire.packet.ObjectionResolved"
        class_version = 1
        counts_as_work = False  # objection work is not authorship
        objection_id: str
        resolution: str

        def fold(self, packet: Packet) -> None:
            objection = packet.objections[self.objection_id]
            objection["state"] = "resolved"
            objection["resolution"] = self.resolution

    class ObjectionWithdrawn(Event):
        TOPIC = "quire.packet.ObjectionWithdrawn"
        class_version = 1
        counts_as_work = False  # objection work is not authorship
        objection_id: str

        def fold(self, packet: Packet) -> None:
            packet.objections[self.objection_id]["state"] = "withdrawn"

    class ObjectionReopened(Event):
        TOPIC = "quire.packet.ObjectionReopened"
        class_version = 1
        counts_as_work = False  # objection work is not authorship
        objection_id: str

        def fold(self, packet: Packet) -> None:
            objection = packet.objections[self.objection_id]
            objection["state"] = "open"
            objection["resolution"] = None

    # --------------------------------------------------------------- revisions
    class RevisionCut(Event):
        """An exact, immutable cut; carries its content so readers need no fold."""

        TOPIC = "quire.packet.RevisionCut"
        class_version = 1
        number: int
        label: str | None
        content_hash: str
        content: dict[str, Any]

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.revisions.append(
                {
                    "number": self.number,
                    "label": self.label,
                    "content_hash": self.content_hash,
                    "version": self.originator_version,
                    "cut_by": self.actor,
                    "cut_at": iso(self.timestamp),
                    "contributors": list(packet.contributors),
                    "source_digests": {
                        s["id"]: s["digest"] for s in self.content["sources"]
                    },
                    "authors": sorted(set(packet.contributors) | {self.actor}),
                }
            )
            packet.contributors = []

    class RequestRefused(Event):
        """A request Quire must never carry out (invariant 9), kept on record."""

        TOPIC = "quire.packet.RequestRefused"
        class_version = 1
        request: str
        code: str
        detail: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.refusals.append(
                {
                    "request": self.request,
                    "code": self.code,
                    "detail": self.detail,
                    "by": self.actor,
                    "at": iso(self.timestamp),
                }
            )

    # ---- releases ---------------------------------------------------------
    # Written by the release layer (release/); the schema is shared with the
    # projections (notes/release_events.md): add fields, never rename. None of
    # these count as authoring, so accepting a residual or signing never makes
    # the release owner an author of the next revision.
    class ReleaseRequested(Event):
        TOPIC = "quire.packet.ReleaseRequested"
        class_version = 1
        release_id: str
        revision: int
        content_hash: str
        lane_id: str
        status: str
        hold_reasons: list[dict[str, Any]]

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.counters["release"] = packet.counters.get("release", 0) + 1
            packet.releases[self.release_id] = {
                "id": self.release_id,
                "revision": self.revision,
                "content_hash": self.content_hash,
                "lane_id": self.lane_id,
                "status": self.status,
                "hold_reasons": [dict(h) for h in self.hold_reasons],
                "requested_by": self.actor,
                "requested_at": iso(self.timestamp),
                "residuals": {},
                "meaning": None,
                "manifest": None,
                "manifest_hash": None,
                "approved_by": None,
                "approved_at": None,
                "approved_version": None,
                "supersession": None,
                "successor_release_id": None,
                "predecessor_release_id": None,
                "acknowledgements": [],
                "owner_hold": None,  # absent from releases requested before it
            }

    class ReleaseHeld(Event):
        """The gate re-evaluated a release (e.g. at an approval attempt) and held it."""

        TOPIC = "quire.packet.ReleaseHeld"
        class_version = 1
        release_id: str
        hold_reasons: list[dict[str, Any]]

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            release = packet.releases[self.release_id]
            release["status"] = "held"
            release["hold_reasons"] = [dict(h) for h in self.hold_reasons]

    class ReleaseCleared(Event):
        """The gate re-evaluated a held release and nothing holds it any more."""

        TOPIC = "quire.packet.ReleaseCleared"
        class_version = 1
        release_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            release = packet.releases[self.release_id]
            release["status"] = "pending"
            release["hold_reasons"] = []

    class ReleaseHoldPlaced(Event):
        """The release owner holds an open release, with a reason; the gate
        then holds it (`HELD_BY_RELEASE_OWNER`) until the owner lifts it."""

        TOPIC = "quire.packet.ReleaseHoldPlaced"
        class_version = 1
        release_id: str  # the reason is the event's own (Meta.reason)

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.releases[self.release_id]["owner_hold"] = {
                "reason": self.reason,
                "by": self.actor,
                "at": iso(self.timestamp),
            }

    class ReleaseHoldLifted(Event):
        TOPIC = "quire.packet.ReleaseHoldLifted"
        class_version = 1
        release_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.releases[self.release_id]["owner_hold"] = None

    class ReleaseCancelled(Event):
        """A pending or held request withdrawn for good (reason: Meta.reason)."""

        TOPIC = "quire.packet.ReleaseCancelled"
        class_version = 1
        release_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            release = packet.releases[self.release_id]
            release["status"] = "cancelled"
            release["cancellation"] = {
                "by": self.actor,
                "reason": self.reason,
                "at": iso(self.timestamp),
            }

    class ResidualAccepted(Event):
        TOPIC = "quire.packet.ResidualAccepted"
        class_version = 1
        release_id: str
        objection_id: str
        rationale: str
        text_hash: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.releases[self.release_id]["residuals"][self.objection_id] = {
                "objection_id": self.objection_id,
                "rationale": self.rationale,
                "text_hash": self.text_hash,
                "accepted_by": self.actor,
                "accepted_at": iso(self.timestamp),
            }
            objection = packet.objections[self.objection_id]
            if objection["state"] == "residual":
                objection["residual_for"].append(self.release_id)
            else:  # open: acceptances from before a reopening no longer count
                objection["residual_for"] = [self.release_id]
            objection["state"] = "residual"

    class ReleaseApproved(Event):
        TOPIC = "quire.packet.ReleaseApproved"
        class_version = 1
        release_id: str
        revision: int
        content_hash: str
        lane_id: str
        meaning: str
        manifest: dict[str, Any]
        manifest_hash: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            release = packet.releases[self.release_id]
            release["status"] = "released"
            release["hold_reasons"] = []
            release["meaning"] = self.meaning
            release["manifest"] = self.manifest
            release["manifest_hash"] = self.manifest_hash
            release["approved_by"] = self.actor
            release["approved_at"] = iso(self.timestamp)
            release["approved_version"] = self.originator_version

    class ReleaseSuperseded(Event):
        TOPIC = "quire.packet.ReleaseSuperseded"
        class_version = 1
        release_id: str
        cause: str
        trigger: dict[str, Any]
        successor_release_id: str | None

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            release = packet.releases[self.release_id]
            release["status"] = "superseded"
            release["supersession"] = {
                "cause": self.cause,
                "trigger": dict(self.trigger),
                "by": self.actor,
                "at": iso(self.timestamp),
                "version": self.originator_version,
            }
            if self.successor_release_id is not None:
                packet.link_releases(self.release_id, self.successor_release_id)

    class ReleaseSucceeded(Event):
        TOPIC = "quire.packet.ReleaseSucceeded"
        class_version = 1
        release_id: str
        successor_release_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.link_releases(self.release_id, self.successor_release_id)

    class ReleaseAcknowledged(Event):
        TOPIC = "quire.packet.ReleaseAcknowledged"
        class_version = 1
        release_id: str
        lane_id: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.releases[self.release_id]["acknowledgements"].append(
                {"by": self.actor, "lane_id": self.lane_id, "at": iso(self.timestamp)}
            )

    class ReleaseDecided(Event):
        """The lane decides on a release delivered to it: accepted, or returned
        with a reason category (the reason text is the event's own)."""

        TOPIC = "quire.packet.ReleaseDecided"
        class_version = 1
        release_id: str
        lane_id: str
        decision: str
        reason_category: str | None

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            release = packet.releases[self.release_id]
            # Releases folded before lanes decided have no such key.
            release["decision"] = {
                "decision": self.decision,
                "reason_category": self.reason_category,
                "reason": self.reason,
                "by": self.actor,
                "lane_id": self.lane_id,
                "at": iso(self.timestamp),
                "version": self.originator_version,
            }

    # ---- end of releases --------------------------------------------------

    # ============================================================== commands
    @classmethod
    def open(
        cls,
        meta: Meta,
        *,
        kind: str,
        title: str,
        release_owner: str,
        authors: list[str],
        reviewers: list[str],
    ) -> Packet:
        kind = require_text("KIND_EMPTY", "kind", kind, 100)
        title = require_text("TITLE_EMPTY", "title", title)
        owner = require_text("RELEASE_OWNER_EMPTY", "release_owner", release_owner)
        authors = _user_list("authors", authors)
        reviewers = _user_list("reviewers", reviewers)
        if meta.actor not in authors and meta.actor != owner:
            authors = [meta.actor, *authors]
        return cls._create(
            cls.Opened,
            kind=kind,
            title=title,
            release_owner=owner,
            authors=authors,
            reviewers=reviewers,
            **meta.fields(),
        )

    def _next_id(self, counter: str, prefix: str) -> str:
        return f"{prefix}-{self.counters.get(counter, 0) + 1}"

    def _trigger(self, event_class: type[Packet.Event], meta: Meta, **kw: Any) -> None:
        self.trigger_event(event_class, **kw, **meta.fields())

    def change_members(
        self,
        meta: Meta,
        *,
        release_owner: str,
        authors: list[str],
        reviewers: list[str],
    ) -> None:
        self._trigger(
            self.MembersChanged,
            meta,
            release_owner=require_text(
                "RELEASE_OWNER_EMPTY", "release_owner", release_owner
            ),
            authors=_user_list("authors", authors),
            reviewers=_user_list("reviewers", reviewers),
        )

    def retitle(self, meta: Meta, title: str) -> None:
        self._trigger(
            self.Retitled, meta, title=require_text("TITLE_EMPTY", "title", title)
        )

    # sections --------------------------------------------------------------
    def section(self, section_id: str) -> dict[str, Any]:
        section = self.sections.get(section_id)
        if section is None or section.get("removed"):
            raise NotFoundError(
                "SECTION_NOT_FOUND",
                f"no section {section_id!r} in this packet",
                {"section_id": section_id},
            )
        return section

    def add_section(
        self,
        meta: Meta,
        *,
        heading: str,
        text: str,
        max_bytes: int,
        position: int | None = None,
    ) -> str:
        heading = require_text("HEADING_EMPTY", "heading", heading)
        _check_text(text, max_bytes)
        if position is None:
            position = len(self.section_order)
        if not 0 <= position <= len(self.section_order):
            raise InvalidInputError(
                "POSITION_OUT_OF_RANGE",
                f"position must be between 0 and {len(self.section_order)}",
            )
        section_id = self._next_id("section", "sec")
        self._trigger(
            self.SectionAdded,
            meta,
            section_id=section_id,
            heading=heading,
            text=text,
            position=position,
        )
        return section_id

    def retitle_section(self, meta: Meta, section_id: str, heading: str) -> None:
        self.section(section_id)
        self._trigger(
            self.SectionRetitled,
            meta,
            section_id=section_id,
            heading=require_text("HEADING_EMPTY", "heading", heading),
        )

    def move_section(self, meta: Meta, section_id: str, position: int) -> None:
        self.section(section_id)
        if not 0 <= position < len(self.section_order):
            raise InvalidInputError(
                "POSITION_OUT_OF_RANGE",
                f"position must be between 0 and {len(self.section_order) - 1}",
            )
        self._trigger(self.SectionMoved, meta, section_id=section_id, position=position)

    def remove_section(self, meta: Meta, section_id: str) -> None:
        self.section(section_id)
        self._trigger(self.SectionRemoved, meta, section_id=section_id)

    def edit_section(
        self,
        meta: Meta,
        *,
        section_id: str,
        base_version: int,
        ops: list[Op],
        max_bytes: int,
        suggestion_id: str | None = None,
    ) -> None:
        """Applies ops already rebased onto the section's current text."""
        section = self.section(section_id)
        _check_text(apply_ops(section["text"], ops), max_bytes)
        self._trigger(
            self.SectionTextEdited,
            meta,
            section_id=section_id,
            base_version=base_version,
            ops=[dict(op) for op in ops],
            suggestion_id=suggestion_id,
        )

    def record_conflict(
        self,
        meta: Meta,
        *,
        section_id: str,
        base_version: int,
        ops: list[Op],
        against_version: int,
    ) -> str:
        self.section(section_id)
        conflict_id = self._next_id("conflict", "conf")
        self._trigger(
            self.EditConflictRecorded,
            meta,
            conflict_id=conflict_id,
            section_id=section_id,
            base_version=base_version,
            ops=[dict(op) for op in ops],
            against_version=against_version,
        )
        return conflict_id

    def resolve_conflict(self, meta: Meta, conflict_id: str, resolution: str) -> None:
        conflict = self.conflicts.get(conflict_id)
        if conflict is None:
            raise NotFoundError("CONFLICT_NOT_FOUND", f"no conflict {conflict_id!r}")
        if conflict["state"] != "open":
            raise StateError("CONFLICT_NOT_OPEN", f"{conflict_id} is already resolved")
        self._trigger(
            self.EditConflictResolved,
            meta,
            conflict_id=conflict_id,
            resolution=require_text(
                "RESOLUTION_EMPTY", "resolution", resolution, TEXT_FIELD_MAX
            ),
        )

    def propose_suggestion(
        self, meta: Meta, *, section_id: str, base_version: int, ops: list[Op]
    ) -> str:
        self.section(section_id)
        suggestion_id = self._next_id("suggestion", "sug")
        self._trigger(
            self.SuggestionProposed,
            meta,
            suggestion_id=suggestion_id,
            section_id=section_id,
            base_version=base_version,
            ops=[dict(op) for op in ops],
        )
        return suggestion_id

    def suggestion(self, suggestion_id: str) -> dict[str, Any]:
        suggestion = self.suggestions.get(suggestion_id)
        if suggestion is None:
            raise NotFoundError(
                "SUGGESTION_NOT_FOUND", f"no suggestion {suggestion_id!r}"
            )
        if suggestion["state"] != "proposed":
            raise StateError(
                "SUGGESTION_NOT_OPEN",
                f"{suggestion_id} is already {suggestion['state']}",
            )
        return suggestion

    def reject_suggestion(
        self, meta: Meta, suggestion_id: str, category: str | None = None
    ) -> None:
        self.suggestion(suggestion_id)
        if category is not None and category not in REJECTION_CATEGORIES:
            raise InvalidInputError(
                "REJECTION_CATEGORY_UNKNOWN",
                f"category must be one of {', '.join(REJECTION_CATEGORIES)}",
                {"category": category},
            )
        if meta.reason is not None:
            require_text("REASON_EMPTY", "reason", meta.reason, TEXT_FIELD_MAX)
        self._trigger(
            self.SuggestionRejected,
            meta,
            suggestion_id=suggestion_id,
            category=category,
        )

    # sources ---------------------------------------------------------------
    def source(self, source_id: str) -> dict[str, Any]:
        source = self.sources.get(source_id)
        if source is None:
            raise NotFoundError(
                "SOURCE_NOT_FOUND",
                f"no source {source_id!r} in this packet",
                {"source_id": source_id},
            )
        return source

    def cite_source(
        self,
        meta: Meta,
        *,
        kind: str,
        title: str,
        reference: str,
        digest: str,
        precedence: int,
        valid_until: datetime | None,
    ) -> str:
        if isinstance(precedence, bool) or not isinstance(precedence, int):
            raise InvalidInputError("PRECEDENCE_INVALID", "precedence must be an int")
        source_id = self._next_id("source", "src")
        self._trigger(
            self.SourceCited,
            meta,
            source_id=source_id,
            kind=require_text("SOURCE_KIND_EMPTY", "kind", kind, 100),
            title=require_text("TITLE_EMPTY", "title", title),
            reference=require_text("REFERENCE_EMPTY", "reference", reference, 2000),
            digest=require_text("DIGEST_EMPTY", "digest", digest, 200),
            precedence=precedence,
            valid_until=iso(valid_until),
        )
        return source_id

    def refresh_source(
        self,
        meta: Meta,
        source_id: str,
        *,
        digest: str,
        material: bool,
        valid_until: datetime | None = None,
    ) -> None:
        source = self.source(source_id)
        if source["status"] == "withdrawn":
            raise StateError("SOURCE_WITHDRAWN", f"{source_id} was withdrawn")
        self._trigger(
            self.SourceRefreshed,
            meta,
            source_id=source_id,
            digest=require_text("DIGEST_EMPTY", "digest", digest, 200),
            previous_digest=source["digest"],
            material=bool(material),
            valid_until=iso(valid_until)
            if valid_until is not None
            else source["valid_until"],
        )

    def withdraw_source(self, meta: Meta, source_id: str) -> None:
        source = self.source(source_id)
        if source["status"] == "withdrawn":
            raise StateError("SOURCE_WITHDRAWN", f"{source_id} was withdrawn")
        self._trigger(self.SourceWithdrawn, meta, source_id=source_id)

    def expire_source(self, meta: Meta, source_id: str) -> None:
        self._trigger(self.SourceExpired, meta, source_id=source_id)

    # prerequisites ---------------------------------------------------------
    def prerequisite(self, prerequisite_id: str) -> dict[str, Any]:
        prerequisite = self.prerequisites.get(prerequisite_id)
        if prerequisite is None:
            raise NotFoundError(
                "PREREQUISITE_NOT_FOUND",
                f"no prerequisite {prerequisite_id!r} in this packet",
                {"prerequisite_id": prerequisite_id},
            )
        return prerequisite

    def declare_prerequisite(
        self,
        meta: Meta,
        *,
        title: str,
        satisfied: bool,
        valid_until: datetime | None,
    ) -> str:
        prerequisite_id = self._next_id("prerequisite", "pre")
        self._trigger(
            self.PrerequisiteDeclared,
            meta,
            prerequisite_id=prerequisite_id,
            title=require_text("TITLE_EMPTY", "title", title),
            satisfied=bool(satisfied),
            valid_until=iso(valid_until),
        )
        return prerequisite_id

    def satisfy_prerequisite(
        self,
        meta: Meta,
        prerequisite_id: str,
        *,
        evidence: str,
        valid_until: datetime | None,
    ) -> None:
        self.prerequisite(prerequisite_id)
        self._trigger(
            self.PrerequisiteSatisfied,
            meta,
            prerequisite_id=prerequisite_id,
            evidence=require_text(
                "EVIDENCE_EMPTY", "evidence", evidence, TEXT_FIELD_MAX
            ),
            valid_until=iso(valid_until),
        )

    def lapse_prerequisite(self, meta: Meta, prerequisite_id: str) -> None:
        self._trigger(self.PrerequisiteLapsed, meta, prerequisite_id=prerequisite_id)

    # objections ------------------------------------------------------------
    def objection(self, objection_id: str) -> dict[str, Any]:
        objection = self.objections.get(objection_id)
        if objection is None:
            raise NotFoundError(
                "OBJECTION_NOT_FOUND",
                f"no objection {objection_id!r} in this packet",
                {"objection_id": objection_id},
            )
        return objection

    def raise_objection(self, meta: Meta, *, target: dict[str, str], text: str) -> str:
        if not isinstance(target, dict) or set(target) - {"section_id", "source_id"}:
            raise InvalidInputError(
                "TARGET_INVALID",
                "target must be {}, {section_id} or {source_id}",
            )
        if len(target) > 1:
            raise InvalidInputError("TARGET_INVALID", "target names one thing at most")
        if "section_id" in target:
            self.section(target["section_id"])
        if "source_id" in target:
            self.source(target["source_id"])
        objection_id = self._next_id("objection", "obj")
        self._trigger(
            self.ObjectionRaised,
            meta,
            objection_id=objection_id,
            target=dict(target),
            text=require_text("OBJECTION_EMPTY", "text", text, TEXT_FIELD_MAX),
        )
        return objection_id

    def answer_objection(self, meta: Meta, objection_id: str, answer: str) -> None:
        self.objection(objection_id)
        self._trigger(
            self.ObjectionAnswered,
            meta,
            objection_id=objection_id,
            answer=require_text("ANSWER_EMPTY", "answer", answer, TEXT_FIELD_MAX),
        )

    def resolve_objection(self, meta: Meta, objection_id: str, resolution: str) -> None:
        objection = self.objection(objection_id)
        if objection["state"] != "open":
            raise StateError(
                "OBJECTION_NOT_OPEN", f"{objection_id} is {objection['state']}"
            )
        self._trigger(
            self.ObjectionResolved,
            meta,
            objection_id=objection_id,
            resolution=require_text(
                "RESOLUTION_EMPTY", "resolution", resolution, TEXT_FIELD_MAX
            ),
        )

    def withdraw_objection(self, meta: Meta, objection_id: str) -> None:
        objection = self.objection(objection_id)
        if objection["state"] != "open":
            raise StateError(
                "OBJECTION_NOT_OPEN", f"{objection_id} is {objection['state']}"
            )
        self._trigger(self.ObjectionWithdrawn, meta, objection_id=objection_id)

    def reopen_objection(self, meta: Meta, objection_id: str) -> None:
        objection = self.objection(objection_id)
        if objection["state"] == "open":
            raise StateError("OBJECTION_ALREADY_OPEN", f"{objection_id} is open")
        self._trigger(self.ObjectionReopened, meta, objection_id=objection_id)

    # revisions -------------------------------------------------------------
    def content(self) -> dict[str, Any]:
        """What a revision's hash covers (see ARCHITECTURE.md, 'Content hash').

        Included: kind, title, the sections in order (id, heading, text), the
        cited sources that are not withdrawn (id, kind, title, reference,
        digest, precedence, valid_until) and the prerequisites with their state.
        Not included: objections, conflicts, suggestions, releases, members;
        the release manifest carries objection state.
        """
        return {
            "kind": self.kind,
            "title": self.title,
            "sections": [
                {
                    "id": sid,
                    "heading": self.sections[sid]["heading"],
                    "text": self.sections[sid]["text"],
                }
                for sid in self.section_order
            ],
            "sources": [
                {
                    key: self.sources[sid][key]
                    for key in (
                        "id",
                        "kind",
                        "title",
                        "reference",
                        "digest",
                        "precedence",
                        "valid_until",
                    )
                }
                for sid in self.source_order
                if self.sources[sid]["status"] != "withdrawn"
            ],
            "prerequisites": [
                {
                    "id": p["id"],
                    "title": p["title"],
                    "state": p["state"],
                    "valid_until": p["valid_until"],
                }
                for p in self.prerequisites.values()
            ],
        }

    def cut_revision(self, meta: Meta, label: str | None) -> int:
        if label is not None:
            label = require_text("LABEL_EMPTY", "label", label, 200)
            if any(r["label"] == label for r in self.revisions):
                raise InvalidInputError(
                    "LABEL_TAKEN", f"a revision is already labelled {label!r}"
                )
        content = self.content()
        number = len(self.revisions) + 1
        self._trigger(
            self.RevisionCut,
            meta,
            number=number,
            label=label,
            content_hash=content_hash(content),
            content=content,
        )
        return number

    def revision(self, number: int) -> dict[str, Any]:
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= len(self.revisions)
        ):
            raise NotFoundError(
                "REVISION_NOT_FOUND",
                f"no revision {number!r} in this packet",
                {"revision": number},
            )
        return self.revisions[number - 1]

    # ---- release commands (the gate and the manifest live in release/) ------
    def release(self, release_id: str) -> dict[str, Any]:
        release = self.releases.get(release_id)
        if release is None:
            raise NotFoundError(
                "RELEASE_NOT_FOUND",
                f"no release {release_id!r} in this packet",
                {"release_id": release_id},
            )
        return release

    def request_release(
        self,
        meta: Meta,
        *,
        revision: int,
        content_hash: str,
        lane_id: str,
        hold_reasons: list[dict[str, Any]],
    ) -> str:
        release_id = self._next_id("release", "rel")
        self._trigger(
            self.ReleaseRequested,
            meta,
            release_id=release_id,
            revision=revision,
            content_hash=content_hash,
            lane_id=lane_id,
            status="held" if hold_reasons else "pending",
            hold_reasons=hold_reasons,
        )
        return release_id

    def _open_release(self, release_id: str) -> dict[str, Any]:
        release = self.release(release_id)
        if release["status"] not in ("pending", "held"):
            raise StateError(
                "RELEASE_NOT_OPEN",
                f"{release_id} is {release['status']}; request a new release",
                {"release_id": release_id, "status": release["status"]},
            )
        return release

    def record_gate(
        self, meta: Meta, release_id: str, hold_reasons: list[dict[str, Any]]
    ) -> None:
        """Records a re-evaluation of an open release by the gate."""
        release = self._open_release(release_id)
        if hold_reasons:
            self._trigger(
                self.ReleaseHeld,
                meta,
                release_id=release_id,
                hold_reasons=hold_reasons,
            )
        elif release["status"] == "held":
            self._trigger(self.ReleaseCleared, meta, release_id=release_id)

    def place_owner_hold(self, meta: Meta, release_id: str) -> None:
        """Holds an open release; `meta.reason` says why (required)."""
        require_text("REASON_EMPTY", "reason", meta.reason, TEXT_FIELD_MAX)
        release = self._open_release(release_id)
        if release.get("owner_hold"):
            raise StateError(
                "RELEASE_ALREADY_HELD_BY_OWNER",
                f"{release_id} is already held by its release owner",
                {"release_id": release_id},
            )
        self._trigger(self.ReleaseHoldPlaced, meta, release_id=release_id)

    def lift_owner_hold(self, meta: Meta, release_id: str) -> None:
        release = self._open_release(release_id)
        if not release.get("owner_hold"):
            raise StateError(
                "RELEASE_NOT_HELD_BY_OWNER",
                f"{release_id} is not held by its release owner",
                {"release_id": release_id},
            )
        self._trigger(self.ReleaseHoldLifted, meta, release_id=release_id)

    def cancel_release(self, meta: Meta, release_id: str) -> None:
        """Withdraws an open request for good; `meta.reason` says why."""
        require_text("REASON_EMPTY", "reason", meta.reason, TEXT_FIELD_MAX)
        self._open_release(release_id)
        self._trigger(self.ReleaseCancelled, meta, release_id=release_id)

    def accept_residual(
        self, meta: Meta, release_id: str, objection_id: str, rationale: str
    ) -> None:
        release = self._open_release(release_id)
        objection = self.objection(objection_id)
        standing = release["residuals"].get(objection_id)
        if objection["state"] not in ("open", "residual") or (
            objection["state"] == "residual"
            and release_id in objection.get("residual_for", [])
            # a former release owner's acceptance does not stand for the new one
            and standing is not None
            and standing["accepted_by"] == meta.actor
        ):
            raise StateError(
                "OBJECTION_NOT_OPEN",
                f"{objection_id} is {objection['state']}, not open for {release_id}",
                {"objection_id": objection_id},
            )
        self._trigger(
            self.ResidualAccepted,
            meta,
            release_id=release_id,
            objection_id=objection_id,
            rationale=require_text(
                "RATIONALE_EMPTY", "rationale", rationale, TEXT_FIELD_MAX
            ),
            text_hash=text_hash(objection["text"]),
        )

    def approve_release(
        self,
        meta: Meta,
        release_id: str,
        *,
        meaning: str,
        manifest: dict[str, Any],
        manifest_hash: str,
    ) -> None:
        release = self._open_release(release_id)
        revision = self.revision(release["revision"])
        bound = manifest.get("revision", {}).get("content_hash")
        if not (bound == release["content_hash"] == revision["content_hash"]):
            raise StateError(
                "CONTENT_HASH_MISMATCH",
                "an approval binds exactly its revision's content hash",
                {"release_id": release_id, "revision": release["revision"]},
            )
        if manifest_hash != content_hash(manifest):
            raise StateError("MANIFEST_HASH_MISMATCH", "the manifest hash is wrong")
        self._trigger(
            self.ReleaseApproved,
            meta,
            release_id=release_id,
            revision=release["revision"],
            content_hash=release["content_hash"],
            lane_id=release["lane_id"],
            meaning=require_text("MEANING_EMPTY", "meaning", meaning, 2000),
            manifest=manifest,
            manifest_hash=manifest_hash,
        )

    def supersede_release(
        self,
        meta: Meta,
        release_id: str,
        *,
        cause: str,
        trigger: dict[str, Any],
        successor_release_id: str | None = None,
    ) -> None:
        if cause not in SUPERSESSION_CAUSES:
            raise InvalidInputError("CAUSE_UNKNOWN", f"no supersession cause {cause}")
        release = self.release(release_id)
        if release["status"] != "released":
            raise StateError(
                "RELEASE_NOT_ACTIVE", f"{release_id} is {release['status']}"
            )
        self._trigger(
            self.ReleaseSuperseded,
            meta,
            release_id=release_id,
            cause=cause,
            trigger=trigger,
            successor_release_id=successor_release_id,
        )

    def link_successor(
        self, meta: Meta, release_id: str, successor_release_id: str
    ) -> None:
        release = self.release(release_id)
        if release["status"] != "superseded" or release["successor_release_id"]:
            raise StateError(
                "RELEASE_NOT_SUPERSEDED",
                f"{release_id} is {release['status']} and cannot take a successor",
            )
        self._trigger(
            self.ReleaseSucceeded,
            meta,
            release_id=release_id,
            successor_release_id=successor_release_id,
        )

    def acknowledge_release(self, meta: Meta, release_id: str) -> bool:
        """A lane member acknowledges receipt; once per member."""
        release = self.release(release_id)
        if release["status"] not in ("released", "superseded"):
            raise NotFoundError(
                "RELEASE_NOT_FOUND", f"no release {release_id!r} in this lane"
            )
        if any(a["by"] == meta.actor for a in release["acknowledgements"]):
            return False
        self._trigger(
            self.ReleaseAcknowledged,
            meta,
            release_id=release_id,
            lane_id=release["lane_id"],
        )
        return True

    def decide_release(
        self, meta: Meta, release_id: str, decision: str, reason_category: str | None
    ) -> None:
        """A lane member decides on a released revision, once per release."""
        release = self.release(release_id)
        if release["status"] not in ("released", "superseded"):
            raise NotFoundError(
                "RELEASE_NOT_FOUND", f"no release {release_id!r} in this lane"
            )
        if decision not in LANE_DECISIONS:
            raise UnprocessableError(
                "DECISION_INVALID",
                f"decision is one of {', '.join(LANE_DECISIONS)}",
                {"decision": decision},
            )
        if decision == "returned" and reason_category not in RETURN_CATEGORIES:
            raise UnprocessableError(
                "REASON_CATEGORY_INVALID",
                f"a return names its reason_category: {', '.join(RETURN_CATEGORIES)}",
                {"reason_category": reason_category},
            )
        if decision == "accepted" and reason_category is not None:
            raise UnprocessableError(
                "REASON_CATEGORY_INVALID", "an acceptance has no reason_category"
            )
        if release["status"] != "released":
            raise StateError(
                "RELEASE_NOT_ACTIVE",
                f"{release_id} was superseded; decide on the release that replaced it",
                {"release_id": release_id, "status": release["status"]},
            )
        if release.get("decision"):
            raise StateError(
                "RELEASE_ALREADY_DECIDED",
                f"{release_id} was already {release['decision']['decision']} "
                f"by {release['decision']['by']}",
                {"release_id": release_id, "decision": release["decision"]},
            )
        if meta.reason is not None:
            require_text("REASON_EMPTY", "reason", meta.reason, TEXT_FIELD_MAX)
        self._trigger(
            self.ReleaseDecided,
            meta,
            release_id=release_id,
            lane_id=release["lane_id"],
            decision=decision,
            reason_category=reason_category,
        )

    def link_releases(self, release_id: str, successor_release_id: str) -> None:
        """Folds lineage both ways (used by the release events' folds)."""
        self.releases[release_id]["successor_release_id"] = successor_release_id
        successor = self.releases.get(successor_release_id)
        if successor is not None:
            successor["predecessor_release_id"] = release_id

    def active_releases(self) -> list[dict[str, Any]]:
        return [r for r in self.releases.values() if r["status"] == "released"]

    # ---- end of release commands --------------------------------------------

    def record_refusal(
        self, meta: Meta, *, request: str, code: str, detail: str
    ) -> None:
        self._trigger(
            self.RequestRefused, meta, request=request, code=code, detail=detail
        )

    # helpers ---------------------------------------------------------------
    def remember_client(self, event: Packet.Event, result: dict[str, Any]) -> None:
        """Keeps the result of a client's edit so a resend is answered, not redone.

        Keyed by the event's actor as well as its client id: client ids are
        chosen by clients, so two users' ids may collide (or be copied), and
        one user's remembered result is never another's answer. Kept compact
        (a plain edit is just its version) because every command copies the
        packet's state: this map must stay small.
        """
        if event.client_id is None or event.client_seq is None:
            return
        clients = self._client_results()
        key = client_key(event.actor, event.client_id)
        results = clients.pop(key, {})
        clients[key] = results  # most recently used last
        compact = result["version"] if set(result) == {"version"} else result
        results[str(event.client_seq)] = compact
        while len(results) > CLIENT_RESULTS_KEPT:
            del results[next(iter(results))]
        while len(clients) > CLIENTS_KEPT:
            del clients[next(iter(clients))]

    def client_result(
        self, user_id: str, client_id: str | None, client_seq: int | None
    ) -> dict[str, Any] | None:
        """What `user_id`'s edit with this client id and sequence did, if kept."""
        if client_id is None or client_seq is None:
            return None
        clients = vars(self).get("client_results", {})
        found = clients.get(client_key(user_id, client_id), {}).get(str(client_seq))
        if found is None:
            return None
        return {"version": found} if isinstance(found, int) else dict(found)

    def _client_results(self) -> dict[str, dict[str, Any]]:
        # A snapshot taken before results were keyed by user holds `clients`,
        # keyed by client id alone: those are dropped, never matched (a
        # resend across the upgrade is applied again, nobody sees another's).
        state = vars(self)
        if "client_results" not in state:
            state.pop("clients", None)
            self.client_results = {}
        return self.client_results

    def state(self) -> dict[str, Any]:
        """The whole folded state as plain JSON, for comparisons and reads."""
        skip = {"_pending_events", "_created_on", "_modified_on"}
        result = {k: v for k, v in vars(self).items() if k not in skip}
        result["_id"] = str(self.id)
        return result


def text_hash(text: str) -> str:
    """'sha256:<hex>' of a text's UTF-8 bytes (e.g. a residual objection's text)."""
    return "sha256:" + sha256_hex(text.encode("utf-8"))


def _ops(raw: list[dict[str, Any]]) -> list[Op]:
    return [Op(at=o["at"], delete=o["delete"], insert=o["insert"]) for o in raw]


def _user_list(what: str, users: object) -> list[str]:
    if not isinstance(users, list) or not all(
        isinstance(u, str) and u.strip() for u in users
    ):
        raise InvalidInputError("MEMBERS_INVALID", f"{what} must be a list of user ids")
    seen: list[str] = []
    for user in users:
        if user.strip() not in seen:
            seen.append(user.strip())
    return seen


def _check_text(text: object, max_bytes: int) -> None:
    if not isinstance(text, str):
        raise InvalidInputError("TEXT_INVALID", "text must be a string")
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise TooLargeError(
            "SECTION_TOO_LARGE",
            f"section text is {size} bytes; the limit is {max_bytes}",
            {"size": size, "limit": max_bytes},
        )


def all_event_classes() -> list[type[Packet.Event]]:
    """Every stored packet event class (the topic registry test lists them)."""
    found: list[type[Packet.Event]] = []
    for value in vars(Packet).values():
        if (
            isinstance(value, type)
            and issubclass(value, Packet.Event)
            and "TOPIC" in value.__dict__
        ):
            found.append(value)
    return found

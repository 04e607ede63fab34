"""The Packet aggregate: one governed packet and every event that changes it.

The packet's areas live in modules of their own (sections, suggestions and
conflicts, sources, prerequisites, objections, revisions, releases,
approvals), each with its event classes at module level and a mixin of
commands. `Packet` combines the mixins, keeps the opening and membership
events, and names every area's event as a class attribute
(`Packet.SectionAdded`), so the eventsourcing library registers each TOPIC for
exactly the class the code triggers (none is redefined: every one is already a
subclass of `Packet.Event`).
"""

from __future__ import annotations

from typing import Any, TypeAlias

from eventsourcing.domain import Aggregate

from workspace.domain import (
    approvals,
    objections,
    prerequisites,
    releases,
    revisions,
    sections,
    sources,
    suggestions,
)
from workspace.domain.base import (
    CLIENT_RESULTS_KEPT,
    CLIENTS_KEPT,
    Meta,
    PacketEvent,
    _user_list,
    assign,
    client_key,
    require_text,
)

#: Who may do what on a packet: its members (`Opened`, `MembersChanged`).
MEMBERS = ("release_owner", "authors", "reviewers")


def checked_members(
    release_owner: str, authors: list[str], reviewers: list[str]
) -> dict[str, Any]:
    """The packet's `MEMBERS`, checked: a release owner, and lists of user
    ids (stripped, each once)."""
    return {
        "release_owner": require_text(
            "RELEASE_OWNER_EMPTY", "release_owner", release_owner
        ),
        "authors": _user_list("authors", authors),
        "reviewers": _user_list("reviewers", reviewers),
    }


class Packet(
    sections.SectionCommands,
    suggestions.SuggestionCommands,
    sources.SourceCommands,
    prerequisites.PrerequisiteCommands,
    objections.ObjectionCommands,
    revisions.RevisionCommands,
    releases.ReleaseCommands,
    approvals.ApprovalCommands,
    Aggregate,
):
    """One governed packet: sections, sources, prerequisites, objections,
    revisions (and, from the release layer, releases)."""

    TOPIC = "quire.packet"

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Opened.fold, so snapshots and replays agree."""

    Event: TypeAlias = PacketEvent

    class Created(PacketEvent, Aggregate.Created):
        TOPIC = "quire.packet.Created"

    class Opened(Created):
        TOPIC = "quire.packet.Opened"
        kind: str
        title: str
        release_owner: str
        authors: list[str]
        reviewers: list[str]

        def fold(self, packet: Packet) -> None:
            assign(packet, self, "kind", "title", *MEMBERS)
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

    class MembersChanged(PacketEvent):
        TOPIC = "quire.packet.MembersChanged"
        counts_as_work = False  # membership is not content
        release_owner: str
        authors: list[str]
        reviewers: list[str]

        def fold(self, packet: Packet) -> None:
            assign(packet, self, *MEMBERS)

    class Retitled(PacketEvent):
        TOPIC = "quire.packet.Retitled"
        title: str

        def fold(self, packet: Packet) -> None:
            packet.title = self.title

    class RequestRefused(PacketEvent):
        """A request Quire must never carry out (invariant 9), kept on record."""

        TOPIC = "quire.packet.RequestRefused"
        request: str
        code: str
        detail: str

        counts_as_work = False

        def fold(self, packet: Packet) -> None:
            packet.refusals.append(self.record("request", "code", "detail"))

    # every area's events, by their old names (`Packet.SectionAdded`)
    SectionAdded = sections.SectionAdded
    SectionRetitled = sections.SectionRetitled
    SectionMoved = sections.SectionMoved
    SectionRemoved = sections.SectionRemoved
    SectionTextEdited = sections.SectionTextEdited
    EditConflictRecorded = suggestions.EditConflictRecorded
    EditConflictResolved = suggestions.EditConflictResolved
    SuggestionProposed = suggestions.SuggestionProposed
    SuggestionRejected = suggestions.SuggestionRejected
    SourceCited = sources.SourceCited
    SourceRefreshed = sources.SourceRefreshed
    SourceWithdrawn = sources.SourceWithdrawn
    SourceExpired = sources.SourceExpired
    SourceFetchFailed = sources.SourceFetchFailed
    SourceFetchRecovered = sources.SourceFetchRecovered
    PrerequisiteDeclared = prerequisites.PrerequisiteDeclared
    PrerequisiteSatisfied = prerequisites.PrerequisiteSatisfied
    PrerequisiteLapsed = prerequisites.PrerequisiteLapsed
    ObjectionRaised = objections.ObjectionRaised
    ObjectionAnswered = objections.ObjectionAnswered
    ObjectionResolved = objections.ObjectionResolved
    ObjectionWithdrawn = objections.ObjectionWithdrawn
    ObjectionReopened = objections.ObjectionReopened
    RevisionCut = revisions.RevisionCut
    ReleaseRequested = releases.ReleaseRequested
    ReleaseHeld = releases.ReleaseHeld
    ReleaseCleared = releases.ReleaseCleared
    ReleaseHoldPlaced = releases.ReleaseHoldPlaced
    ReleaseHoldLifted = releases.ReleaseHoldLifted
    ReleaseCancelled = releases.ReleaseCancelled
    ResidualAccepted = releases.ResidualAccepted
    ReleaseApproved = approvals.ReleaseApproved
    ReleaseSuperseded = approvals.ReleaseSuperseded
    ReleaseSucceeded = approvals.ReleaseSucceeded
    ReleaseAcknowledged = approvals.ReleaseAcknowledged
    ReleaseDecided = approvals.ReleaseDecided

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
        members = checked_members(release_owner, authors, reviewers)
        authors, owner = members["authors"], members["release_owner"]
        if meta.actor not in authors and meta.actor != owner:
            members["authors"] = [meta.actor, *authors]
        return cls._create(
            cls.Opened, kind=kind, title=title, **members, **meta.fields()
        )

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
            **checked_members(release_owner, authors, reviewers),
        )

    def retitle(self, meta: Meta, title: str) -> None:
        self._trigger(
            self.Retitled, meta, title=require_text("TITLE_EMPTY", "title", title)
        )

    def record_refusal(
        self, meta: Meta, *, request: str, code: str, detail: str
    ) -> None:
        self._trigger(
            self.RequestRefused, meta, request=request, code=code, detail=detail
        )

    def remember_client(self, event: PacketEvent, result: dict[str, Any]) -> None:
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


def all_event_classes() -> list[type[PacketEvent]]:
    """Every stored packet event class (the topic registry test lists them):
    those of the areas (aliased on `Packet`) and those of content modules,
    which subclass `PacketEvent` in their own files without touching
    `Packet` (import `workspace.content` first so they exist)."""
    found: list[type[PacketEvent]] = []
    for value in vars(Packet).values():
        if (
            isinstance(value, type)
            and issubclass(value, PacketEvent)
            and "TOPIC" in value.__dict__
        ):
            found.append(value)
    pending = list(PacketEvent.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "TOPIC" in cls.__dict__ and cls not in found:
            found.append(cls)
    return found

"""Edit conflicts and agents' suggestions: events and commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.base import (
    REJECTION_CATEGORIES,
    TEXT_FIELD_MAX,
    EntryEvent,
    Meta,
    PacketBase,
    check_reason,
    copied,
    require_text,
)
from workspace.errors import (
    InvalidInputError,
    NotFoundError,
    StateError,
)
from workspace.rebase import Op

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class ConflictEvent(
    EntryEvent, entries="conflicts", key="conflict_id", id_prefix="conf"
):
    """An event about one edit conflict (no TOPIC: the base of those below)."""

    conflict_id: str


class EditConflictRecorded(ConflictEvent):
    """A true overlap: the losing ops are kept, never dropped or blended."""

    TOPIC = "quire.packet.EditConflictRecorded"
    section_id: str
    base_version: int
    ops: list[dict[str, Any]]
    against_version: int

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        self.add_entry(
            packet,
            "section_id",
            "base_version",
            "ops",
            "against_version",
            raised_by=self.actor,
            client_id=self.client_id,
            client_seq=self.client_seq,
            state="open",
            resolution=None,
        )
        self.remember_added(packet)


class EditConflictResolved(ConflictEvent):
    TOPIC = "quire.packet.EditConflictResolved"
    resolution: str

    sets = {"state": "resolved"}
    copies = ("resolution",)


class SuggestionEvent(
    EntryEvent, entries="suggestions", key="suggestion_id", id_prefix="sug"
):
    """An event about one agent's suggestion (no TOPIC: the base of those
    below)."""

    suggestion_id: str


class SuggestionProposed(SuggestionEvent):
    """An agent's edit waits for a human to accept it."""

    TOPIC = "quire.packet.SuggestionProposed"
    section_id: str
    base_version: int
    ops: list[dict[str, Any]]
    #: `[{category, phrase}]`: commitments Quire must never make that the
    #: suggested text introduces (workspace/boundary_edits.py; absent before
    #: issue 16). A flagged suggestion is accepted only with an override.
    boundary_flags: list[dict[str, str]] | None = None

    def fold(self, packet: Packet) -> None:
        suggestion = self.add_entry(
            packet,
            "section_id",
            "base_version",
            "ops",
            proposed_by=self.actor,
            state="proposed",
            accepted_by=None,
        )
        if self.boundary_flags:  # absent when none (as in stored states)
            suggestion["boundary_flags"] = list(self.boundary_flags)
        self.remember_added(packet)


class SuggestionRejected(SuggestionEvent):
    """The reason is the event's own (Meta.reason); `category` says what
    kind of boundary or error the suggestion crossed (absent before v2)."""

    TOPIC = "quire.packet.SuggestionRejected"
    category: str | None = None

    counts_as_work = False  # rejecting changes no content

    def fold(self, packet: Packet) -> None:
        self.entry(packet).update(
            state="rejected",
            rejection={"by": self.actor, **copied(self, "reason", "category")},
        )


class BoundaryFlaggedError(StateError, code="BOUNDARY_FLAGGED"):
    """Accepting a flagged suggestion without an override reason (HTTP 409)."""


class SuggestionCommands(PacketBase):
    """The packet's suggestions commands (a mixin of `Packet`)."""

    def record_conflict(
        self,
        meta: Meta,
        *,
        section_id: str,
        base_version: int,
        ops: list[Op],
        against_version: int,
    ) -> str:
        return self._add_edit_aside(
            EditConflictRecorded,
            meta,
            section_id,
            base_version,
            ops,
            against_version=against_version,
        )

    def _add_edit_aside(
        self,
        event_class: type[EntryEvent],
        meta: Meta,
        section_id: str,
        base_version: int,
        ops: list[Op],
        **more: Any,
    ) -> str:
        """Adds an edit kept aside, not applied (a conflict's losing ops, an
        agent's suggestion): its section must exist; its ops are stored as
        dicts. Returns the new entry's id."""
        self.section(section_id)
        return self._add_entry(
            event_class,
            meta,
            section_id=section_id,
            base_version=base_version,
            ops=[dict(op) for op in ops],
            **more,
        )

    def resolve_conflict(self, meta: Meta, conflict_id: str, resolution: str) -> None:
        conflict = self.conflicts.get(conflict_id)
        if conflict is None:
            raise NotFoundError("CONFLICT_NOT_FOUND", f"no conflict {conflict_id!r}")
        if conflict["state"] != "open":
            raise StateError("CONFLICT_NOT_OPEN", f"{conflict_id} is already resolved")
        self._trigger(
            EditConflictResolved,
            meta,
            conflict_id=conflict_id,
            resolution=require_text(
                "RESOLUTION_EMPTY", "resolution", resolution, TEXT_FIELD_MAX
            ),
        )

    def propose_suggestion(
        self,
        meta: Meta,
        *,
        section_id: str,
        base_version: int,
        ops: list[Op],
        boundary_flags: list[dict[str, str]] | None = None,
    ) -> str:
        return self._add_edit_aside(
            SuggestionProposed,
            meta,
            section_id,
            base_version,
            ops,
            boundary_flags=list(boundary_flags or []),
        )

    def check_boundary_override(
        self, suggestion_id: str, override_reason: str | None
    ) -> str | None:
        """A suggestion whose text is flagged is accepted only with an
        explicit override reason (409 BOUNDARY_FLAGGED without one); returns
        the reason to record with the acceptance (None when not flagged)."""
        suggestion = self.suggestion(suggestion_id)
        flags = suggestion.get("boundary_flags") or []
        if not flags:
            return None
        if override_reason is None or not str(override_reason).strip():
            raise BoundaryFlaggedError(
                "BOUNDARY_FLAGGED",
                "this suggestion makes a commitment Quire must never make; "
                "accept it only with an override_reason",
                {"suggestion_id": suggestion_id, "boundary_flags": flags},
            )
        return require_text(
            "OVERRIDE_REASON_EMPTY", "override_reason", override_reason, TEXT_FIELD_MAX
        )

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
        check_reason(meta)
        self._trigger(
            SuggestionRejected,
            meta,
            suggestion_id=suggestion_id,
            category=category,
        )

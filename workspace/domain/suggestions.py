"""Edit conflicts and agents' suggestions: events and commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.domain.base import (
    REJECTION_CATEGORIES,
    TEXT_FIELD_MAX,
    Meta,
    PacketBase,
    PacketEvent,
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


class EditConflictRecorded(PacketEvent):
    """A true overlap: the losing ops are kept, never dropped or blended."""

    TOPIC = "quire.packet.EditConflictRecorded"
    conflict_id: str
    section_id: str
    base_version: int
    ops: list[dict[str, Any]]
    against_version: int

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        packet.bump("conflict")
        packet.conflicts[self.conflict_id] = {
            "id": self.conflict_id,
            **copied(self, "section_id", "base_version", "ops", "against_version"),
            "raised_by": self.actor,
            **copied(self, "client_id", "client_seq"),
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


class EditConflictResolved(PacketEvent):
    TOPIC = "quire.packet.EditConflictResolved"
    conflict_id: str
    resolution: str

    def fold(self, packet: Packet) -> None:
        packet.conflicts[self.conflict_id].update(
            state="resolved", resolution=self.resolution
        )


class SuggestionProposed(PacketEvent):
    """An agent's edit waits for a human to accept it."""

    TOPIC = "quire.packet.SuggestionProposed"
    suggestion_id: str
    section_id: str
    base_version: int
    ops: list[dict[str, Any]]
    #: `[{category, phrase}]`: commitments Quire must never make that the
    #: suggested text introduces (workspace/boundary_edits.py; absent before
    #: issue 16). A flagged suggestion is accepted only with an override.
    boundary_flags: list[dict[str, str]] | None = None

    def fold(self, packet: Packet) -> None:
        packet.bump("suggestion")
        packet.suggestions[self.suggestion_id] = {
            "id": self.suggestion_id,
            **copied(self, "section_id", "base_version", "ops"),
            "proposed_by": self.actor,
            "state": "proposed",
            "accepted_by": None,
        }
        if self.boundary_flags:  # absent when none (as in stored states)
            packet.suggestions[self.suggestion_id]["boundary_flags"] = list(
                self.boundary_flags
            )
        packet.remember_client(
            self,
            {
                "suggestion_id": self.suggestion_id,
                "version": self.originator_version,
            },
        )


class SuggestionRejected(PacketEvent):
    """The reason is the event's own (Meta.reason); `category` says what
    kind of boundary or error the suggestion crossed (absent before v2)."""

    TOPIC = "quire.packet.SuggestionRejected"
    suggestion_id: str
    category: str | None = None

    counts_as_work = False  # rejecting changes no content

    def fold(self, packet: Packet) -> None:
        packet.suggestions[self.suggestion_id].update(
            state="rejected",
            rejection={"by": self.actor, **copied(self, "reason", "category")},
        )


class BoundaryFlaggedError(StateError):
    """Accepting a flagged suggestion without an override reason (HTTP 409)."""

    code = "BOUNDARY_FLAGGED"


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
        self.section(section_id)
        conflict_id = self._next_id("conflict", "conf")
        self._trigger(
            EditConflictRecorded,
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
        self.section(section_id)
        suggestion_id = self._next_id("suggestion", "sug")
        self._trigger(
            SuggestionProposed,
            meta,
            suggestion_id=suggestion_id,
            section_id=section_id,
            base_version=base_version,
            ops=[dict(op) for op in ops],
            boundary_flags=list(boundary_flags or []),
        )
        return suggestion_id

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

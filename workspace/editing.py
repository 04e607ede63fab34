"""The live edit batch of `Workspace`: range ops or whole texts, rebased
over the edits saved since their base version (workspace/rebase.py), true
overlaps kept as conflicts, resends answered once; and accepting an agent's
suggestion, rebased the same way. These keep their own loop (not
`Workspace.execute`): a batch decides many edits in one save and rebases
instead of clashing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from workspace import policy
from workspace.accounts import (
    Principal,
)
from workspace.boundary_edits import flags_introduced
from workspace.commands.base import MAX_ATTEMPTS
from workspace.domain import (
    Packet,
)
from workspace.errors import (
    EditConflictError,
    InvalidInputError,
    QuireError,
    TooLargeError,
    VersionClashError,
)
from workspace.rebase import (
    InvalidOps,
    Op,
    RebaseConflict,
    diff_to_ops,
    transform,
    validate_ops,
)

if TYPE_CHECKING:
    from workspace.application import WorkspaceCore as _Core
else:
    _Core = object


@dataclass(frozen=True)
class EditOutcome:
    version: int
    text: str
    section_id: str
    conflict_id: str | None = None
    suggestion_id: str | None = None
    replayed: bool = False
    #: Commitments the edit introduced (workspace/boundary_edits.py).
    boundary_flags: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class SectionsDecision:
    """A batch decided on a loaded packet, its events pending (not saved)."""

    packet: Packet
    #: Other aggregates its consequences call for, saved with it.
    others: list[Any]
    results: list[EditOutcome | QuireError]

    @property
    def to_save(self) -> tuple[Any, ...]:
        return (self.packet, *self.others)


@dataclass(frozen=True)
class EditRequest:
    """One edit of a batch (`Workspace.edit_sections`)."""

    principal: Principal
    section_id: str
    base_version: int
    ops: object = None
    text: object = None
    client_id: str | None = None
    client_seq: int | None = None


class EditBatch(_Core):
    """A mixin of `Workspace` (its core when type-checked): live edits."""

    def edit_section(
        self,
        packet_id: UUID | str,
        principal: Principal,
        section_id: str,
        *,
        base_version: int,
        ops: object = None,
        text: object = None,
        client_id: str | None = None,
        client_seq: int | None = None,
    ) -> EditOutcome:
        """Applies a range edit or a whole new text, rebased over later edits.

        An agent's edit becomes a suggestion. A resend (same client id and
        sequence) returns its first result. A true overlap is saved as a
        conflict event and raised as EditConflictError.
        """
        request = EditRequest(
            principal, section_id, base_version, ops, text, client_id, client_seq
        )
        result = self.edit_sections(packet_id, [request])[0]
        if isinstance(result, QuireError):
            raise result
        return result

    def edit_sections(
        self, packet_id: UUID | str, requests: list[EditRequest]
    ) -> list[EditOutcome | QuireError]:
        """Applies several edits of one packet with one load and one atomic save
        (live co-authoring coalesces concurrent keystrokes this way).

        Each is decided exactly as `edit_section` decides one, in order, seeing
        the ones before it; one refused does not stop the others. On a version
        clash the whole batch is decided again on fresh state.
        """
        for _ in range(MAX_ATTEMPTS):
            decision = self._decide_sections(packet_id, requests)
            if not decision.packet.pending_events:
                return decision.results
            try:
                self.save(*decision.to_save)
            except IntegrityError:
                continue  # another process saved first: rebase again
            return self._sections_saved(decision)
        raise VersionClashError("VERSION_CLASH", "too many concurrent writers")

    def edit_packets(
        self, batches: list[tuple[UUID | str, list[EditRequest]]]
    ) -> list[list[EditOutcome | QuireError]] | None:
        """Several packets' batches decided each as `edit_sections` decides
        one, and saved together in ONE atomic save (the live writer's group
        commit across packets, api/live/group.py: one insert and one COMMIT
        for all of them). A batch whose packet cannot be loaded is answered
        with that error alone. None, with nothing saved, when the save is
        refused as a whole (a version clash, or too large together): the
        caller then saves each batch on its own (`edit_sections`), which
        retries, or refuses only the batch at fault.
        """
        decisions: list[SectionsDecision | QuireError] = []
        for packet_id, requests in batches:
            try:
                decisions.append(self._decide_sections(packet_id, requests))
            except QuireError as e:
                decisions.append(e)
        changed = [
            d
            for d in decisions
            if isinstance(d, SectionsDecision) and d.packet.pending_events
        ]
        if changed:
            try:
                self.save(*(obj for d in changed for obj in d.to_save))
            except (IntegrityError, TooLargeError):
                return None
        saved = {id(d) for d in changed}  # (a save empties `pending_events`)
        return [
            [d] * len(requests)
            if isinstance(d, QuireError)
            else self._sections_saved(d)
            if id(d) in saved
            else d.results
            for d, (_, requests) in zip(decisions, batches, strict=True)
        ]

    def _decide_sections(
        self, packet_id: UUID | str, requests: list[EditRequest]
    ) -> SectionsDecision:
        """Loads the packet and decides each edit on it, in order (not saved)."""
        packet = self.get_packet(packet_id)
        self.recent.anchor(packet.id, packet.version, packet.sections)
        decided: list[EditOutcome | QuireError] = []
        for request in requests:
            try:
                decided.append(self._decide_edit(packet, request, decided))
            except QuireError as e:
                decided.append(e)
        others = (
            self.consequences(packet, requests[0].principal)
            if packet.pending_events
            else []
        )
        return SectionsDecision(packet, others, decided)

    def _sections_saved(
        self, decision: SectionsDecision
    ) -> list[EditOutcome | QuireError]:
        """After the decision's save: the saved state anchors the history and
        the cache, and a kept conflict is answered as an error."""
        packet = decision.packet
        self.recent.anchor(packet.id, packet.version, packet.sections)
        if self.repository.cache is not None:
            # What was just saved is the recorded state (and is not used
            # again here): the next load fast-forwards from it instead of
            # reading and folding this batch's events again.
            with self._cache_lock(packet.id):
                try:
                    cached: Any = self.repository.cache.get(packet.id)
                except KeyError:
                    cached = None
                if cached is None or cached.version < packet.version:
                    self.repository.cache.put(packet.id, packet)
        return [
            _conflict_error(r.conflict_id, r.section_id, r.version)
            if isinstance(r, EditOutcome) and r.conflict_id and not r.replayed
            else r
            for r in decision.results
        ]

    def _decide_edit(
        self,
        packet: Packet,
        request: EditRequest,
        earlier: list[EditOutcome | QuireError],
    ) -> EditOutcome:
        """Triggers one edit's event on `packet` (not saved) and says what it did."""
        principal, section_id, base_version = (
            request.principal,
            request.section_id,
            request.base_version,
        )
        client_id, client_seq = request.client_id, request.client_seq
        _check_client(client_id, client_seq)
        if isinstance(base_version, bool) or not isinstance(base_version, int):
            raise InvalidInputError("BASE_VERSION_INVALID", "base_version is an int")
        if (request.ops is None) == (request.text is None):
            raise InvalidInputError(
                "EDIT_MALFORMED", "send exactly one of 'ops' or 'text'"
            )
        # Authorized first, then de-duplicated by (user, client id, sequence):
        # a resend is answered from the sender's own results, never from
        # another user's (whose ids may collide or be copied).
        action = "suggest" if principal.is_agent else "edit"
        policy.require(principal, action, packet)
        replay = packet.client_result(principal.user_id, client_id, client_seq)
        if replay is not None:
            if packet.pending_events and replay["version"] >= _loaded(packet) + 1:
                # Resent within this batch: the same answer as the first send.
                for r in earlier:
                    if isinstance(r, EditOutcome) and r.version == replay["version"]:
                        return EditOutcome(
                            **{**vars(r), "replayed": r.conflict_id is None}
                        )
            return self._replayed(packet, section_id, replay)
        if not 1 <= base_version <= _loaded(packet):
            raise InvalidInputError(
                "BASE_VERSION_INVALID",
                f"base_version must be between 1 and {_loaded(packet)}",
                {"current_version": _loaded(packet)},
            )
        section = packet.section(section_id)
        base_text, later = self._history_since(packet, section_id, base_version)
        new_ops = self._parse_ops(base_text, request.ops, request.text)
        meta = self.meta(principal, client_id=client_id, client_seq=client_seq)
        conflict_id: str | None = None
        suggestion_id: str | None = None
        flags = flags_introduced(base_text, new_ops)
        if principal.is_agent:
            suggestion_id = packet.propose_suggestion(
                meta,
                section_id=section_id,
                base_version=base_version,
                ops=new_ops,
                boundary_flags=flags,
            )
        else:
            rebased, against = _rebase(new_ops, later)
            if rebased is None:
                conflict_id = packet.record_conflict(
                    meta,
                    section_id=section_id,
                    base_version=base_version,
                    ops=new_ops,
                    against_version=against,
                )
            elif rebased or client_id is not None:
                packet.edit_section(
                    meta,
                    section_id=section_id,
                    base_version=base_version,
                    ops=rebased,
                    max_bytes=self.settings.section_max_bytes,
                    boundary_flags=flags,
                )
        return EditOutcome(
            packet.version,
            section["text"],
            section_id,
            conflict_id=conflict_id,
            suggestion_id=suggestion_id,
            boundary_flags=tuple(flags),
        )

    def accept_suggestion(
        self,
        packet_id: UUID | str,
        principal: Principal,
        suggestion_id: str,
        override_reason: str | None = None,
    ) -> EditOutcome:
        """A human takes an agent's suggestion; it is rebased like any edit.
        A boundary-flagged one needs `override_reason` (BOUNDARY_FLAGGED)."""
        for _ in range(MAX_ATTEMPTS):
            packet = self.get_packet(packet_id)
            policy.require(principal, "accept_suggestion", packet)
            reason = packet.check_boundary_override(suggestion_id, override_reason)
            suggestion = packet.suggestion(suggestion_id)
            section_id = suggestion["section_id"]
            packet.section(section_id)
            _, later = self._history_since(
                packet, section_id, suggestion["base_version"]
            )
            ops = [
                Op(at=o["at"], delete=o["delete"], insert=o["insert"])
                for o in suggestion["ops"]
            ]
            rebased, against = _rebase(ops, later)
            meta = self.meta(principal, reason=reason)
            conflict_id = None
            if rebased is None:
                conflict_id = packet.record_conflict(
                    meta,
                    section_id=section_id,
                    base_version=suggestion["base_version"],
                    ops=ops,
                    against_version=against,
                )
            else:
                packet.edit_section(
                    meta,
                    section_id=section_id,
                    base_version=suggestion["base_version"],
                    ops=rebased,
                    max_bytes=self.settings.section_max_bytes,
                    suggestion_id=suggestion_id,
                )
            try:
                self.save(packet, *self.consequences(packet, principal))
            except IntegrityError:
                continue
            if conflict_id is not None:
                raise _conflict_error(conflict_id, section_id, packet.version)
            return EditOutcome(
                packet.version, packet.sections[section_id]["text"], section_id
            )
        raise VersionClashError("VERSION_CLASH", "too many concurrent writers")

    def _history_since(
        self, packet: Packet, section_id: str, base_version: int
    ) -> tuple[str, list[tuple[int, list[Op]]]]:
        """The section's text at base_version, and every edit applied since."""
        section = packet.sections[section_id]
        if section["last_edit_version"] <= base_version:
            return section["text"], []
        later: list[tuple[int, list[Op]]] = []
        # Bounded by the loaded version: another process may have saved since,
        # and those edits are not in `packet` (its save will clash and retry);
        # then the edits decided earlier in this batch, not yet saved. What
        # this process saw last is asked first (workspace/text_history.py).
        loaded = _loaded(packet)
        stored = self.recent.span(packet.id, base_version, loaded)
        if stored is None:
            stored = list(self.events.get(packet.id, gt=base_version, lte=loaded))
        pending = [
            e for e in packet.pending_events if e.originator_version > base_version
        ]
        for event in [*stored, *pending]:
            if (
                isinstance(event, Packet.SectionAdded)
                and event.section_id == section_id
            ):
                # Based on a version from before the section existed: its text
                # at that version is nothing to diff or rebase against, whether
                # or not the section was edited since.
                raise _base_before_section(section_id, base_version)
            if (
                isinstance(event, Packet.SectionTextEdited)
                and event.section_id == section_id
            ):
                later.append(
                    (
                        event.originator_version,
                        [
                            Op(at=o["at"], delete=o["delete"], insert=o["insert"])
                            for o in event.ops
                        ],
                    )
                )
        if not later:
            return section["text"], []
        text = self.recent.text_at(packet.id, section_id, base_version)
        if text is not None:
            return text, later
        base = self.get_packet(packet.id, version=base_version)
        base_section = base.sections.get(section_id)
        if base_section is None:
            raise _base_before_section(section_id, base_version)
        self.recent.anchor(packet.id, base_version, base.sections)
        return base_section["text"], later

    def _parse_ops(self, base_text: str, ops: object, text: object) -> list[Op]:
        if text is not None:
            if not isinstance(text, str):
                raise InvalidInputError("TEXT_INVALID", "text must be a string")
            return diff_to_ops(base_text, text)
        try:
            return validate_ops(ops, len(base_text), self.settings.max_ops_per_edit)
        except InvalidOps as e:
            raise InvalidInputError(e.code, str(e)) from None

    def _replayed(
        self, packet: Packet, section_id: str, result: dict[str, Any]
    ) -> EditOutcome:
        if "conflict_id" in result:
            raise _conflict_error(result["conflict_id"], section_id, result["version"])
        at = self.get_packet(packet.id, version=result["version"])
        section = at.sections.get(section_id, {"text": ""})
        return EditOutcome(
            result["version"],
            section["text"],
            section_id,
            suggestion_id=result.get("suggestion_id"),
            replayed=True,
        )


def _loaded(packet: Packet) -> int:
    """The packet's stored version (before the events pending in this batch)."""
    pending = packet.pending_events
    return pending[0].originator_version - 1 if pending else packet.version


def _check_client(client_id: object, client_seq: object) -> None:
    if client_id is None and client_seq is None:
        return
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 100:
        raise InvalidInputError("CLIENT_ID_INVALID", "client_id is 1-100 characters")
    if (
        isinstance(client_seq, bool)
        or not isinstance(client_seq, int)
        or client_seq < 0
    ):
        raise InvalidInputError(
            "CLIENT_SEQ_INVALID", "client_seq is a non-negative int with client_id"
        )


def _rebase(
    ops: list[Op], later: list[tuple[int, list[Op]]]
) -> tuple[list[Op] | None, int]:
    """Rebases over each later edit in server order; (None, version) on clash."""
    for version, applied in later:
        try:
            ops = transform(ops, applied)
        except RebaseConflict:
            return None, version
    return ops, 0


def _base_before_section(section_id: str, base_version: int) -> InvalidInputError:
    return InvalidInputError(
        "BASE_VERSION_INVALID",
        f"section {section_id} did not exist at version {base_version}",
        {"section_id": section_id, "base_version": base_version},
    )


def _conflict_error(
    conflict_id: str, section_id: str, version: int
) -> EditConflictError:
    return EditConflictError(
        "EDIT_CONFLICT",
        "this edit overlaps a later accepted edit; it was kept as a conflict",
        {"conflict_id": conflict_id, "section_id": section_id, "version": version},
    )

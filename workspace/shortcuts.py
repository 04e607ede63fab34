"""The packet commands by their former method names, for callers written
before commands became data (tests, mostly). Each builds its command and hands
it to `Workspace.execute`, returning what the old method returned; new code
calls `app.execute(packet_id, principal, Command(...))` directly."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from workspace.accounts import Principal
from workspace.commands import (
    AddSection,
    AnswerObjection,
    ChangeMembers,
    CiteSource,
    CutRevision,
    DeclarePrerequisite,
    MoveSection,
    RaiseObjection,
    RefreshSource,
    RejectSuggestion,
    RemoveSection,
    ReopenObjection,
    ResolveConflict,
    ResolveObjection,
    RetitleSection,
    SatisfyPrerequisite,
    WithdrawObjection,
    WithdrawSource,
)
from workspace.commands.base import Command, Executed
from workspace.domain import Packet

PacketId = UUID | str


class CommandShortcuts:
    """A mixin of `Workspace` (which implements `execute`)."""

    def execute(
        self,
        packet_id: PacketId,
        principal: Principal,
        command: Command,
        *,
        expected_version: int | None = None,
    ) -> Executed[Any]:
        raise NotImplementedError

    def change_members(
        self,
        packet_id: PacketId,
        principal: Principal,
        *,
        release_owner: str,
        authors: list[str],
        reviewers: list[str],
        expected_version: int | None = None,
    ) -> int:
        command = ChangeMembers(release_owner, authors, reviewers)
        return self.execute(
            packet_id, principal, command, expected_version=expected_version
        ).version

    def add_section(
        self,
        packet_id: PacketId,
        principal: Principal,
        *,
        heading: str,
        text: str,
        position: int | None = None,
        expected_version: int | None = None,
    ) -> tuple[str, int]:
        done = self.execute(
            packet_id,
            principal,
            AddSection(heading, text, position),
            expected_version=expected_version,
        )
        return done.result, done.version

    def retitle_section(
        self,
        packet_id: PacketId,
        principal: Principal,
        section_id: str,
        heading: str,
        expected_version: int | None = None,
    ) -> int:
        command = RetitleSection(section_id, heading)
        return self.execute(
            packet_id, principal, command, expected_version=expected_version
        ).version

    def move_section(
        self,
        packet_id: PacketId,
        principal: Principal,
        section_id: str,
        position: int,
        expected_version: int | None = None,
    ) -> int:
        command = MoveSection(section_id, position)
        return self.execute(
            packet_id, principal, command, expected_version=expected_version
        ).version

    def remove_section(
        self,
        packet_id: PacketId,
        principal: Principal,
        section_id: str,
        expected_version: int | None = None,
    ) -> int:
        command = RemoveSection(section_id)
        return self.execute(
            packet_id, principal, command, expected_version=expected_version
        ).version

    def reject_suggestion(
        self,
        packet_id: PacketId,
        principal: Principal,
        suggestion_id: str,
        *,
        reason: str | None = None,
        category: str | None = None,
    ) -> int:
        command = RejectSuggestion(suggestion_id, reason, category)
        return self.execute(packet_id, principal, command).version

    def resolve_conflict(
        self,
        packet_id: PacketId,
        principal: Principal,
        conflict_id: str,
        resolution: str,
    ) -> int:
        command = ResolveConflict(conflict_id, resolution)
        return self.execute(packet_id, principal, command).version

    def cite_source(
        self,
        packet_id: PacketId,
        principal: Principal,
        *,
        kind: str,
        title: str,
        reference: str,
        digest: str,
        precedence: int,
        valid_until: datetime | None = None,
        expected_version: int | None = None,
    ) -> tuple[str, int]:
        command = CiteSource(kind, title, reference, digest, precedence, valid_until)
        done = self.execute(
            packet_id, principal, command, expected_version=expected_version
        )
        return done.result, done.version

    def refresh_source(
        self,
        packet_id: PacketId,
        principal: Principal,
        source_id: str,
        *,
        digest: str,
        material: bool | None,
        reason: str | None,
        valid_until: datetime | None = None,
        expected_version: int | None = None,
    ) -> Packet:
        command = RefreshSource(source_id, digest, material, reason, valid_until)
        return self.execute(
            packet_id, principal, command, expected_version=expected_version
        ).packet

    def withdraw_source(
        self,
        packet_id: PacketId,
        principal: Principal,
        source_id: str,
        reason: str | None = None,
    ) -> int:
        command = WithdrawSource(source_id, reason)
        return self.execute(packet_id, principal, command).version

    def declare_prerequisite(
        self,
        packet_id: PacketId,
        principal: Principal,
        *,
        title: str,
        satisfied: bool,
        valid_until: datetime | None = None,
        expected_version: int | None = None,
    ) -> tuple[str, int]:
        command = DeclarePrerequisite(title, satisfied, valid_until)
        done = self.execute(
            packet_id, principal, command, expected_version=expected_version
        )
        return done.result, done.version

    def satisfy_prerequisite(
        self,
        packet_id: PacketId,
        principal: Principal,
        prerequisite_id: str,
        *,
        evidence: str,
        valid_until: datetime | None = None,
        expected_version: int | None = None,
    ) -> int:
        command = SatisfyPrerequisite(prerequisite_id, evidence, valid_until)
        return self.execute(
            packet_id, principal, command, expected_version=expected_version
        ).version

    def raise_objection(
        self,
        packet_id: PacketId,
        principal: Principal,
        *,
        target: dict[str, str],
        text: str,
        expected_version: int | None = None,
    ) -> tuple[str, int]:
        command = RaiseObjection(target, text)
        done = self.execute(
            packet_id, principal, command, expected_version=expected_version
        )
        return done.result, done.version

    def answer_objection(
        self, packet_id: PacketId, principal: Principal, objection_id: str, answer: str
    ) -> int:
        command = AnswerObjection(objection_id, answer)
        return self.execute(packet_id, principal, command).version

    def resolve_objection(
        self,
        packet_id: PacketId,
        principal: Principal,
        objection_id: str,
        resolution: str,
    ) -> int:
        command = ResolveObjection(objection_id, resolution)
        return self.execute(packet_id, principal, command).version

    def withdraw_objection(
        self, packet_id: PacketId, principal: Principal, objection_id: str
    ) -> int:
        command = WithdrawObjection(objection_id)
        return self.execute(packet_id, principal, command).version

    def reopen_objection(
        self, packet_id: PacketId, principal: Principal, objection_id: str, reason: str
    ) -> Packet:
        command = ReopenObjection(objection_id, reason)
        return self.execute(packet_id, principal, command).packet

    def cut_revision(
        self,
        packet_id: PacketId,
        principal: Principal,
        label: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[dict[str, Any], int]:
        done = self.execute(
            packet_id, principal, CutRevision(label), expected_version=expected_version
        )
        return done.result, done.version

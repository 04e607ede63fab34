"""Objection commands. Resolving and withdrawing are for the objection's
author (or the roles `policy.require_objection_owner_or` names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from workspace import policy
from workspace.accounts import Principal
from workspace.commands.base import Command, Context
from workspace.domain import Packet


@dataclass(frozen=True)
class RaiseObjection(Command):
    action = "raise_objection"
    target: dict[str, str]
    text: str

    def decide(self, packet: Packet, ctx: Context) -> str:
        return packet.raise_objection(ctx.meta(), target=self.target, text=self.text)


@dataclass(frozen=True)
class AnswerObjection(Command):
    action = "answer_objection"
    objection_id: str
    answer: str

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.answer_objection(ctx.meta(), self.objection_id, self.answer)


@dataclass(frozen=True)
class _OwnObjection(Command):
    """Readers may ask; the objection's author (or an owner role) may do it."""

    action = "read"
    verb: ClassVar[str] = ""
    objection_id: str

    def authorize(self, principal: Principal, packet: Packet) -> None:
        super().authorize(principal, packet)
        policy.require_objection_owner_or(
            principal, packet, packet.objection(self.objection_id), self.verb
        )


@dataclass(frozen=True)
class ResolveObjection(_OwnObjection):
    verb = "resolve"
    resolution: str

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.resolve_objection(ctx.meta(), self.objection_id, self.resolution)


@dataclass(frozen=True)
class WithdrawObjection(_OwnObjection):
    verb = "withdraw"

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.withdraw_objection(ctx.meta(), self.objection_id)


@dataclass(frozen=True)
class ReopenObjection(Command):
    action = "raise_objection"
    objection_id: str
    reason: str

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.reopen_objection(ctx.meta(reason=self.reason), self.objection_id)

"""Objection commands. Resolving and withdrawing are for the objection's
author (or the roles `policy.require_objection_owner_or` names)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from workspace import policy
from workspace.accounts import Principal
from workspace.commands.base import PacketCall
from workspace.domain import Packet


@dataclass(frozen=True)
class RaiseObjection(PacketCall, action="raise_objection", method="raise_objection"):
    """Raises an objection on the packet or a section; the result is its id."""

    target: dict[str, str]
    text: str


@dataclass(frozen=True)
class _ObjectionCall(PacketCall):
    """A command on one objection of the packet."""

    objection_id: str


@dataclass(frozen=True)
class AnswerObjection(
    _ObjectionCall, action="answer_objection", method="answer_objection"
):
    answer: str


@dataclass(frozen=True)
class _OwnObjection(_ObjectionCall, action="read"):
    """Readers may ask; the objection's author (or an owner role) may do it:
    `verb`, a class keyword ("resolve", "withdraw"), names what they do for
    `policy.require_objection_owner_or`."""

    verb: ClassVar[str] = ""

    def __init_subclass__(cls, *, verb: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if verb is not None:
            cls.verb = verb

    def authorize(self, principal: Principal, packet: Packet) -> None:
        super().authorize(principal, packet)
        policy.require_objection_owner_or(
            principal, packet, packet.objection(self.objection_id), self.verb
        )


@dataclass(frozen=True)
class ResolveObjection(_OwnObjection, verb="resolve", method="resolve_objection"):
    resolution: str


@dataclass(frozen=True)
class WithdrawObjection(_OwnObjection, verb="withdraw", method="withdraw_objection"):
    """Only the objection's raiser withdraws it (objections are never deleted)."""


@dataclass(frozen=True)
class ReopenObjection(
    _ObjectionCall, action="raise_objection", method="reopen_objection"
):
    reason: str

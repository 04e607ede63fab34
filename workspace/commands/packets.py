"""Packet-level commands: membership."""

from __future__ import annotations

from dataclasses import dataclass, field

from workspace.commands.base import Command, Context
from workspace.domain import Packet
from workspace.errors import InvalidInputError


@dataclass(frozen=True)
class ChangeMembers(Command, action="change_members"):
    release_owner: str
    authors: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)

    def prepare(self, ctx: Context) -> None:
        for user_id in {self.release_owner, *self.authors, *self.reviewers}:
            if not ctx.app.user_exists(user_id):
                raise InvalidInputError("USER_UNKNOWN", f"no user {user_id!r}")

    def decide(self, packet: Packet, ctx: Context) -> None:
        packet.change_members(
            ctx.meta(),
            release_owner=self.release_owner,
            authors=self.authors,
            reviewers=self.reviewers,
        )

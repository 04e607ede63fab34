"""Objections: events and commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from workspace.domain.base import (
    TEXT_FIELD_MAX,
    EntryEvent,
    Meta,
    PacketBase,
    require_text,
)
from workspace.errors import (
    InvalidInputError,
    StateError,
)

if TYPE_CHECKING:
    from workspace.domain.packet import Packet


class ObjectionEvent(
    EntryEvent, entries="objections", key="objection_id", id_prefix="obj"
):
    """An event about one objection (no TOPIC: the base of those below).
    Objection work is not authorship."""

    counts_as_work = False
    objection_id: str


class ObjectionRaised(ObjectionEvent):
    TOPIC = "quire.packet.ObjectionRaised"
    target: dict[str, str]
    text: str

    def fold(self, packet: Packet) -> None:
        self.add_entry(
            packet,
            "target",
            "text",
            raised_by=self.actor,
            state="open",
            answers=[],
            resolution=None,
        )


class ObjectionAnswered(ObjectionEvent):
    TOPIC = "quire.packet.ObjectionAnswered"
    answer: str

    def fold(self, packet: Packet) -> None:
        self.entry(packet)["answers"].append({"by": self.actor, "text": self.answer})


class ObjectionResolved(ObjectionEvent):
    TOPIC = "quire.packet.ObjectionResolved"
    resolution: str

    sets = {"state": "resolved"}
    copies = ("resolution",)


class ObjectionWithdrawn(ObjectionEvent):
    TOPIC = "quire.packet.ObjectionWithdrawn"
    sets = {"state": "withdrawn"}


class ObjectionReopened(ObjectionEvent):
    TOPIC = "quire.packet.ObjectionReopened"
    sets = {"state": "open", "resolution": None}


class ObjectionCommands(PacketBase):
    """The packet's objections commands (a mixin of `Packet`)."""

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
        return self._add_entry(
            ObjectionRaised,
            meta,
            target=dict(target),
            text=require_text("OBJECTION_EMPTY", "text", text, TEXT_FIELD_MAX),
        )

    def answer_objection(self, meta: Meta, objection_id: str, answer: str) -> None:
        self.objection(objection_id)
        self._trigger(
            ObjectionAnswered,
            meta,
            objection_id=objection_id,
            answer=require_text("ANSWER_EMPTY", "answer", answer, TEXT_FIELD_MAX),
        )

    def resolve_objection(self, meta: Meta, objection_id: str, resolution: str) -> None:
        self._open_objection(objection_id)
        self._trigger(
            ObjectionResolved,
            meta,
            objection_id=objection_id,
            resolution=require_text(
                "RESOLUTION_EMPTY", "resolution", resolution, TEXT_FIELD_MAX
            ),
        )

    def withdraw_objection(self, meta: Meta, objection_id: str) -> None:
        self._open_objection(objection_id)
        self._trigger(ObjectionWithdrawn, meta, objection_id=objection_id)

    def _open_objection(self, objection_id: str) -> None:
        objection = self.objection(objection_id)
        if objection["state"] != "open":
            raise StateError(
                "OBJECTION_NOT_OPEN", f"{objection_id} is {objection['state']}"
            )

    def reopen_objection(self, meta: Meta, objection_id: str) -> None:
        objection = self.objection(objection_id)
        if objection["state"] == "open":
            raise StateError("OBJECTION_ALREADY_OPEN", f"{objection_id} is open")
        self._trigger(ObjectionReopened, meta, objection_id=objection_id)

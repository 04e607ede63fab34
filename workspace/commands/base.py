"""Commands as data: one small frozen dataclass per command, one handler.

A command holds its fields, names the role it requires (`action`, a key of
`workspace/policy.py` RULES, or None when it authorizes itself) and decides
on a loaded packet. `Workspace.execute` is the one handler: it loads the
packet, checks the expected version, authorizes, decides, adds the release
layer's consequences and saves everything in one atomic save, deciding again
on fresh state when another writer saved first (ARCHITECTURE.md, "The life of
one command through the handler").
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar
from uuid import UUID

from workspace import policy
from workspace.accounts import Principal
from workspace.domain import Meta, Packet

if TYPE_CHECKING:
    from workspace.application import Workspace
    from workspace.config import Settings

T = TypeVar("T")

#: A write with no expected version is re-decided on fresh state this many
#: times when another process saved first; edits rebase, so they always may.
MAX_ATTEMPTS = 20


@dataclass(frozen=True)
class Context:
    """What a command may use while it decides: who, when, the settings and
    the application's reads (`ctx.app.user_exists`, `ctx.app.find_lane`...)."""

    app: Workspace
    principal: Principal
    #: The packet the command is executed on, as the caller named it.
    packet_id: UUID | str = ""
    #: What a command keeps between its steps within one execution (e.g.
    #: ApproveRelease: the signer `prepare` re-authenticated, the decision's
    #: holds for `after_save`).
    scratch: dict[str, Any] = field(default_factory=dict)

    def meta(self, **kwargs: Any) -> Meta:
        return self.app.meta(self.principal, **kwargs)

    @property
    def settings(self) -> Settings:
        return self.app.settings

    def now(self) -> datetime:
        return self.app.clock()


@dataclass(frozen=True)
class Command:
    """The base of every packet command (subclasses are frozen dataclasses).

    A command names its `action` as a class keyword
    (`class CutRevision(Command, action="cut_revision")`); one that names
    none keeps its base's."""

    #: The role table's action this command requires (None: `authorize`
    #: is overridden, or the command needs no role beyond its own checks).
    action: ClassVar[str | None] = None

    def __init_subclass__(cls, *, action: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if action is not None:
            cls.action = action

    @classmethod
    def from_body(cls, body: object, **given: Any) -> Self:
        """The command whose fields are taken from the body's fields of the
        same names (`vars(body)`: a request body's), except those `given`;
        a field the body does not have keeps its default."""
        values = vars(body)
        taken = {
            f.name: values[f.name]
            for f in fields(cls)
            if f.name not in given and f.name in values
        }
        return cls(**taken, **given)

    def prepare(self, ctx: Context) -> None:
        """Checks made once, before the packet is loaded (e.g. users exist)."""

    def authorize(self, principal: Principal, packet: Packet) -> None:
        if self.action is not None:
            policy.require(principal, self.action, packet)

    def decide(self, packet: Packet, ctx: Context) -> Any:
        """Triggers the command's events on `packet` (not saved) and returns
        its result (a new id, a number, ...)."""
        raise NotImplementedError

    def others(self, result: Any, ctx: Context) -> list[Any]:
        """Other aggregates to save in the same save (e.g. a lane)."""
        return []

    def after_save(self, done: Executed[Any], ctx: Context) -> None:
        """Runs once the decision is saved; may raise an error that the saved
        events explain (ApproveRelease: the gate's holds, recorded)."""


@dataclass(frozen=True)
class PacketCall(Command):
    """A command whose decision is one call of a packet command method:
    `packet.<method>(ctx.meta(reason=...), **fields)`, its fields passed by
    name (so they are named like the method's parameters), except those in
    `meta_fields`, which go on the event meta: a `reason` always does. Its
    result is the method's. The method is a class keyword, beside the action:
    `class RetitleSection(_SectionEdit, method="retitle_section")`."""

    method: ClassVar[str]
    meta_fields: ClassVar[tuple[str, ...]] = ("reason",)

    def __init_subclass__(cls, *, method: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if method is not None:
            cls.method = method

    def arguments(self, ctx: Context) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in self.meta_fields
        }

    def decide(self, packet: Packet, ctx: Context) -> Any:
        on_meta = {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name in self.meta_fields
        }
        return getattr(packet, self.method)(ctx.meta(**on_meta), **self.arguments(ctx))


@dataclass(frozen=True)
class Executed(Generic[T]):
    """What `Workspace.execute` returns: the packet as saved and the result."""

    packet: Packet
    result: T

    @property
    def version(self) -> int:
        return self.packet.version

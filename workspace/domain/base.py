"""What every area of the packet shares: `Meta`, text checks, the base
event class `PacketEvent` and `PacketBase`, the state every command mixin sees.

Events are stored schema. Each has a stable `TOPIC` (registered explicitly, so a
class may be renamed or moved without breaking stored history) and a
`class_version`: 1 unless the class sets it (set it to 2, and add an
`upcast_v1_v2`, when its fields change). An area's events share a small base
class that holds the id field they all start with (`SourceEvent.source_id`):
the stored fields, and their order, are those of the class written out.

Event `apply` methods only fold state; they never validate, because they are
replayed. Every guard lives in the command methods, which run once.

State is plain JSON (dicts, lists, strings, numbers) so that snapshots
round-trip exactly and `state()` can be compared between a live aggregate and
one rebuilt from stored events.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal, get_args

from eventsourcing.domain import Aggregate, MetaDomainEvent

from workspace.boundary import BoundaryCategory
from workspace.errors import (
    InvalidInputError,
    NotFoundError,
    StateError,
    TooLargeError,
)
from workspace.hashing import sha256_hex
from workspace.rebase import Op

ActorKind = Literal["human", "agent"]

#: How many recent (client_id, client_seq) results a packet remembers per
#: (user, client id), so that a resent edit is applied once and answered with
#: its first result.
CLIENT_RESULTS_KEPT = 64
#: ...and how many (user, client id) pairs it remembers (the least recently
#: used go first).
CLIENTS_KEPT = 256

TITLE_MAX = 300

#: Why an approved release stops being active (DESIGN.md; extend, never rename).
SUPERSESSION_CAUSES = (
    "SOURCE_DRIFT",
    "SOURCE_EXPIRED",
    "PREREQUISITE_LAPSED",
    "RESIDUAL_REOPENED",
    "LANE_AUDIENCE_CHANGED",
    "REPLACED_BY_NEW_RELEASE",
    "HELD_BY_RELEASE_OWNER",
    "RELEASE_OWNER_CHANGED",
)
TEXT_FIELD_MAX = 20_000

#: What a lane decides on a release delivered to it (API.md v2), and why it
#: may return one.
LANE_DECISIONS = ("accepted", "returned")
RETURN_CATEGORIES = (
    "narrower_scope",
    "fresher_support",
    "audience_mistake",
    "hidden_drift",
    "other",
)

#: Why a human rejects an agent's suggestion (shared/API.md, v2 additions):
#: a commitment the boundary check flags, or one of two of its own.
RejectionCategory = Literal[BoundaryCategory, "factual_error", "other"]
REJECTION_CATEGORIES: tuple[RejectionCategory, ...] = get_args(RejectionCategory)


def client_key(user_id: str, client_id: str) -> str:
    """The key of one user's client in `Packet.client_results`. User ids have
    no spaces (`accounts.validate_user_id`), so the first space splits it."""
    return f"{user_id} {client_id}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Meta:
    """Who did it, when, why, and from which client: carried by every event."""

    actor: str
    actor_kind: ActorKind = "human"
    reason: str | None = None
    client_id: str | None = None
    client_seq: int | None = None
    at: datetime = field(default_factory=utcnow)

    def fields(self) -> dict[str, Any]:
        return {
            "actor": self.actor,
            "actor_kind": self.actor_kind,
            "reason": self.reason,
            "client_id": self.client_id,
            "client_seq": self.client_seq,
            "timestamp": self.at,
        }


def iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value)


#: Characters no store keeps: PostgreSQL refuses NUL in text (and a refused
#: event stalls every read model behind it), and a lone UTF-16 surrogate has
#: no UTF-8 encoding. Stable codes, refused at the edge and again here.
_SURROGATE = re.compile("[\ud800-\udfff]")


def text_fault(value: str) -> str | None:
    """`TEXT_HAS_NUL` or `TEXT_HAS_SURROGATE` when `value` holds one, else None."""
    if "\x00" in value:
        return "TEXT_HAS_NUL"
    if _SURROGATE.search(value):
        return "TEXT_HAS_SURROGATE"
    return None


def require_text(code: str, what: str, value: object, limit: int = TITLE_MAX) -> str:
    """A non-empty, stripped string of at most `limit` characters.

    `code` names the empty case (`HEADING_EMPTY`); the same field over its
    limit is `..._TOO_LONG` (`HEADING_TOO_LONG`), with the limit and length.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(code, f"{what} must be a non-empty string")
    if len(value) > limit:
        raise InvalidInputError(
            code.removesuffix("_EMPTY") + "_TOO_LONG",
            f"{what} is longer than {limit} characters",
            {"limit": limit, "length": len(value)},
        )
    fault = text_fault(value)
    if fault is not None:
        raise InvalidInputError(fault, f"{what} holds a character no store keeps")
    return value.strip()


class PacketEvent(Aggregate.Event):
    """The base of every packet event (`Packet.Event`): who, why, from which
    client; `fold` evolves the state, and work that `counts_as_work` makes
    its actor a contributor of the next revision."""

    actor: str
    actor_kind: str
    reason: str | None
    client_id: str | None
    client_seq: int | None

    def apply(self, aggregate: Any) -> None:
        self.fold(aggregate)
        if self.actor not in aggregate.contributors and self.counts_as_work:
            aggregate.contributors.append(self.actor)

    counts_as_work: ClassVar[bool] = True
    #: After this event an open release's hold reasons may differ: the release
    #: layer re-gates open releases in the same save (release/regate.py).
    regates: ClassVar[bool] = False

    def fold(self, packet: Packet) -> None:
        """Evolves the packet's state; overridden by each event."""

    def record(self, *names: str, **values: Any) -> dict[str, Any]:
        """What a fold keeps of this event as a record: the fields named
        (`copied`), who did it (`by`) and when (`at`), then `values`."""
        return {
            **copied(self, *names),
            "by": self.actor,
            "at": iso(self.timestamp),
            **values,
        }


class AreaEventType(MetaDomainEvent):
    """The metaclass of `EntryEvent`: an area's base names its map, its id
    field and its ids' prefix as class keywords (`class SourceEvent(EntryEvent,
    entries="sources", key="source_id", id_prefix="src")`), kept as class
    attributes (never fields). The library's metaclass, which makes every
    event a frozen dataclass, takes no class keywords."""

    def __new__(
        mcs,
        name: str,
        bases: tuple[type[Any], ...],
        namespace: dict[str, Any],
        *,
        entries: str | None = None,
        key: str | None = None,
        id_prefix: str | None = None,
    ) -> Any:
        declared = {"entries": entries, "key": key, "id_prefix": id_prefix}
        namespace.update({k: v for k, v in declared.items() if v is not None})
        return super().__new__(mcs, name, bases, namespace)


class EntryEvent(PacketEvent, metaclass=AreaEventType):
    """An event about one entry of a packet map (no TOPIC: each area's base,
    `SourceEvent`, names as class keywords the map (`entries`), the id field
    (`key`) that it declares first, and the prefix of the ids it gives
    (`id_prefix`: `src` for `src-1`); `entry(packet)` is that entry).

    The event that adds an entry is triggered by `PacketBase._add_entry`,
    which gives the next id, and folds with `add_entry`. The default `fold`
    writes onto the entry the values of `sets` and the fields of the event
    named in `copies` (`SourceWithdrawn` sets `{"status": "withdrawn"}`); an
    event with more to do overrides it."""

    entries: ClassVar[str]
    key: ClassVar[str]
    id_prefix: ClassVar[str]
    sets: ClassVar[Mapping[str, Any]] = {}
    copies: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def counter(cls) -> str:
        """The packet's counter of these entries (`source` for `source_id`)."""
        return cls.key.removesuffix("_id")

    def entry_map(self, packet: PacketBase) -> dict[str, dict[str, Any]]:
        """The map of entries this event is about (the packet's `entries`)."""
        found: dict[str, dict[str, Any]] = getattr(packet, self.entries)
        return found

    def entry(self, packet: PacketBase) -> dict[str, Any]:
        return self.entry_map(packet)[getattr(self, self.key)]

    def add_entry(
        self, packet: PacketBase, *names: str, **values: Any
    ) -> dict[str, Any]:
        """Folds the event that adds the entry: counts it, and keeps
        `{"id": ..., the fields named (`copied`), **values}` under its id."""
        ident = getattr(self, self.key)
        packet.bump(self.counter())
        entry = {"id": ident, **copied(self, *names), **values}
        self.entry_map(packet)[ident] = entry
        return entry

    def remember_added(self, packet: Packet) -> None:
        """Keeps what a resend of the client's edit that added the entry is
        answered with: its id (under `key`) and this version
        (`Packet.remember_client`)."""
        ident = getattr(self, self.key)
        packet.remember_client(
            self, {self.key: ident, "version": self.originator_version}
        )

    def fold(self, packet: Packet) -> None:
        entry = self.entry(packet)
        entry.update({name: kept(value) for name, value in self.sets.items()})
        entry.update(copied(self, *self.copies))


def kept(value: Any) -> Any:
    """A field's value as a fold keeps it: a list or dict is copied, so the
    folded state never shares one with the (stored) event."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def copied(event: object, *names: str) -> dict[str, Any]:
    """The named fields of `event`, by name, as a fold keeps them (`kept`)."""
    return {name: kept(getattr(event, name)) for name in names}


def stored_classes(*owners: type) -> list[type[Any]]:
    """The classes with a TOPIC of their own among the attributes of
    `owners` (aggregates): their stored events. (The eventsourcing library
    registers each one's topic when the aggregate class is created.)"""
    return [
        value
        for owner in owners
        for value in vars(owner).values()
        if isinstance(value, type) and "TOPIC" in value.__dict__
    ]


def assign(target: object, event: object, *names: str, **values: Any) -> None:
    """Folds the named fields of `event` onto the attributes of the same name
    of `target` (an aggregate), as `kept`, then sets `values`."""
    for name, value in {**copied(event, *names), **values}.items():
        setattr(target, name, value)


if TYPE_CHECKING:
    from workspace.domain.packet import Packet

    _Base = Aggregate
else:
    _Base = object


class PacketBase(_Base):
    """The packet's state and lookups, shared by the area mixins of `Packet`
    (a plain class at run time: mixins hold no event classes, so the
    eventsourcing library redefines none)."""

    kind: str
    title: str
    release_owner: str
    authors: list[str]
    reviewers: list[str]
    sections: dict[str, dict[str, Any]]
    section_order: list[str]
    sources: dict[str, dict[str, Any]]
    source_order: list[str]
    prerequisites: dict[str, dict[str, Any]]
    objections: dict[str, dict[str, Any]]
    conflicts: dict[str, dict[str, Any]]
    suggestions: dict[str, dict[str, Any]]
    revisions: list[dict[str, Any]]
    releases: dict[str, dict[str, Any]]
    refusals: list[dict[str, Any]]
    client_results: dict[str, dict[str, Any]]
    counters: dict[str, int]
    contributors: list[str]

    def part(self, name: str) -> dict[str, Any]:
        """The state of a content module added after wave 1, under the one
        attribute `parts` (created here: packets opened, and snapshots taken,
        before it existed lack it). Existing content keeps its attributes.
        Call it from folds only: a read that created `parts` would make a
        packet's state differ from its replay."""
        parts: dict[str, dict[str, Any]] = vars(self).setdefault("parts", {})
        return parts.setdefault(name, {})

    def _next_id(self, counter: str, prefix: str) -> str:
        return f"{prefix}-{self.counters.get(counter, 0) + 1}"

    def bump(self, counter: str) -> None:
        """Counts one more `counter` (in the fold that adds one; `_next_id`
        names the next)."""
        self.counters[counter] = self.counters.get(counter, 0) + 1

    def _trigger(self, event_class: type[PacketEvent], meta: Meta, **kw: Any) -> None:
        self.trigger_event(event_class, **kw, **meta.fields())

    def _add_entry(self, event_class: type[EntryEvent], meta: Meta, **kw: Any) -> str:
        """Triggers `event_class`, the event that adds an entry, with the
        entry's next id (`src-3`) as its `key`; returns that id."""
        ident = self._next_id(event_class.counter(), event_class.id_prefix)
        self._trigger(event_class, meta, **{event_class.key: ident}, **kw)
        return ident

    def _lookup(
        self, what: str, entries: dict[str, dict[str, Any]], ident: str
    ) -> dict[str, Any]:
        """The entry `ident` of `entries`, or 404 `<WHAT>_NOT_FOUND` (also
        for an entry marked removed: a section)."""
        found = entries.get(ident)
        if found is None or found.get("removed"):
            raise NotFoundError(
                f"{what.upper()}_NOT_FOUND",
                f"no {what} {ident!r} in this packet",
                {f"{what}_id": ident},
            )
        return found

    def section(self, section_id: str) -> dict[str, Any]:
        """A section not removed."""
        return self._lookup("section", self.sections, section_id)

    def suggestion(self, suggestion_id: str) -> dict[str, Any]:
        suggestion = self.suggestions.get(suggestion_id)
        if suggestion is None:
            raise NotFoundError(
                "SUGGESTION_NOT_FOUND", f"no suggestion {suggestion_id!r}"
            )
        if suggestion["state"] != "proposed":
            raise StateError(
                "SUGGESTION_NOT_OPEN",
                f"{suggestion_id} is already {suggestion['state']}",
            )
        return suggestion

    def source(self, source_id: str) -> dict[str, Any]:
        return self._lookup("source", self.sources, source_id)

    def prerequisite(self, prerequisite_id: str) -> dict[str, Any]:
        return self._lookup("prerequisite", self.prerequisites, prerequisite_id)

    def objection(self, objection_id: str) -> dict[str, Any]:
        return self._lookup("objection", self.objections, objection_id)

    def revision(self, number: int) -> dict[str, Any]:
        if (
            isinstance(number, bool)
            or not isinstance(number, int)
            or not 1 <= number <= len(self.revisions)
        ):
            raise NotFoundError(
                "REVISION_NOT_FOUND",
                f"no revision {number!r} in this packet",
                {"revision": number},
            )
        return self.revisions[number - 1]

    def release(self, release_id: str) -> dict[str, Any]:
        return self._lookup("release", self.releases, release_id)

    def _open_release(self, release_id: str) -> dict[str, Any]:
        release = self.release(release_id)
        if release["status"] not in ("pending", "held"):
            raise StateError(
                "RELEASE_NOT_OPEN",
                f"{release_id} is {release['status']}; request a new release",
                {"release_id": release_id, "status": release["status"]},
            )
        return release


def check_reason(meta: Meta, *, required: bool = False) -> None:
    """The command's reason (`meta.reason`, stored on its event) is a text
    like any other: checked when given, and when the command requires one."""
    if required or meta.reason is not None:
        require_text("REASON_EMPTY", "reason", meta.reason, TEXT_FIELD_MAX)


def text_hash(text: str) -> str:
    """'sha256:<hex>' of a text's UTF-8 bytes (e.g. a residual objection's text)."""
    return "sha256:" + sha256_hex(text.encode("utf-8"))


def _ops(raw: list[dict[str, Any]]) -> list[Op]:
    return [Op(at=o["at"], delete=o["delete"], insert=o["insert"]) for o in raw]


def _user_list(what: str, users: object) -> list[str]:
    if not isinstance(users, list) or not all(
        isinstance(u, str) and u.strip() for u in users
    ):
        raise InvalidInputError("MEMBERS_INVALID", f"{what} must be a list of user ids")
    seen: list[str] = []
    for user in users:
        if user.strip() not in seen:
            seen.append(user.strip())
    return seen


def _check_text(text: object, max_bytes: int) -> None:
    if not isinstance(text, str):
        raise InvalidInputError("TEXT_INVALID", "text must be a string")
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise TooLargeError(
            "SECTION_TOO_LARGE",
            f"section text is {size} bytes; the limit is {max_bytes}",
            {"size": size, "limit": max_bytes},
        )

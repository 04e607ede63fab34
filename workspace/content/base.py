"""What a packet content module is: one kind of content, declared in its own
file, that the content hash, the release gate, revisions, diffs and manifests
work over without knowing it by name (`workspace/content/registry.py`).

A module implements only what it needs; every hook defaults to nothing, so a
new module contributes nothing to packets that do not use it (their content,
and so every old revision's hash, stays identical).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

#: The hold code of a dependency that no longer says what the revision says.
REVISION_STALE = "REVISION_STALE"


@dataclass(frozen=True)
class Hold:
    """One reason a release is held: a stable code, a detail for people, and
    the subject it names (`objection_id`, `source_id`, ...)."""

    code: str
    detail: str
    subject: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "detail": self.detail, **self.subject}


@dataclass(frozen=True)
class Change:
    """One difference `ContentModule.changes` finds. Its REVISION_STALE hold
    says `what`, then "after revision N was cut", then `tail`, and names the
    module's `part` and the `subject` (`{"source_id": ...}`)."""

    what: str
    subject: dict[str, Any] = field(default_factory=dict)
    tail: str = ""


def is_past(valid_until: str | None, now: datetime) -> bool:
    """Whether an ISO-8601 `valid_until` (None: forever) has passed at `now`."""
    moment = None if valid_until is None else datetime.fromisoformat(valid_until)
    return moment is not None and moment <= now


class ContentModule:
    """One kind of packet content. `packet` is a `workspace.domain.Packet`;
    `record` a revision's record (`Packet.revisions[n]`, None when the
    revision is unknown); `content` a revision's stored content."""

    #: The module's name (also its key in `Packet.parts`, for new modules).
    name: str = ""
    #: Its key in `Packet.content()`, the hashed content of a revision (and
    #: in a revision diff): its `name` unless the module says otherwise.
    key: str = ""
    #: Where it stands among the modules (the order of the gate's holds and
    #: of a manifest's parts): sections 10, sources 20, prerequisites 30; a
    #: new module takes a larger number.
    order: int = 100
    #: A release depends on this part being current: when True and `changes`
    #: is not overridden, any difference from the revision's part is
    #: one REVISION_STALE hold.
    dependency: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.key:
            cls.key = cls.name

    def content(self, packet: Any) -> Any | None:
        """Its part of the hashed content; None leaves the key out."""
        return None

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        """The gate's checks of this part for the revision being released."""
        return []

    def stale(
        self,
        packet: Any,
        record: dict[str, Any],
        content: dict[str, Any],
        current: Any,
    ) -> list[Hold]:
        """REVISION_STALE: one hold per difference `changes` finds between the
        revision's part (in its `content`) and `current` (this part now)."""
        return [
            Hold(
                REVISION_STALE,
                f"{change.what} after revision {record['number']} was cut"
                + change.tail,
                {"part": self.key, **change.subject},
            )
            for change in self.changes(content.get(self.key), current)
        ]

    def changes(self, cut: Any, current: Any) -> list[Change]:
        """Where `current` (this part now) no longer says what `cut` (the
        revision's part, None when it had none) says: by default, for a
        `dependency`, any difference is one change of the whole part."""
        if not self.dependency or cut == current:
            return []
        return [Change(f"the packet's {self.key} changed")]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        """What a signed manifest binds of this part (keys merged into it)."""
        return {}

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        """Its part of the diff from revision `a` to `b` (None: left out)."""
        return None

    def react(self, packet: Any, pending: list[Any], meta: Any) -> None:
        """Reacts, in the same save, to the events a command triggered
        (`pending`, already folded into `packet`) by triggering its own
        (e.g. options reclassified when the matrix's source is refreshed);
        `meta` is the command's. Called from `Workspace.consequences`, before
        the release layer's supersessions and re-gating."""


def by_id(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> dict[str, Any]:
    """Added, removed and changed items of two lists of `{"id": ...}` dicts."""
    before = {x["id"]: x for x in old}
    after = {x["id"]: x for x in new}
    return {
        "added": [after[k] for k in after if k not in before],
        "removed": [before[k] for k in before if k not in after],
        "changed": [
            {"id": k, "from": before[k], "to": after[k]}
            for k in after
            if k in before and before[k] != after[k]
        ],
    }

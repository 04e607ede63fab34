"""Stored events as the read side sees them: one row of the event log.

Projections never depend on event classes: they read the topic string and the
JSON fields of the stored state. So release and lane events (whose classes are
written by another layer) are handled as soon as they are stored, and a
projection does not break when a class is renamed (topics are stable).

The state is decoded with plain `json`, turning the library's typed values
(`{"_type_": "datetime_iso", "_data_": "..."}`, UUIDs) into their string form,
so timestamps read as ISO-8601 strings. Upcasting is not applied: every stored
class is at `class_version` 1; a later version must add its upcast here too.

The canonical *event record* (what the audit Merkle tree commits to) is::

    {"id": notification id, "originator_id": "<uuid>", "originator_version": n,
     "topic": "...", "state": "<standard base64 of the stored state bytes>"}

serialised as RFC 8785 JSON. The stored bytes (not the decoded dict) are
committed so that any change to a stored event, even one that decodes to the
same values, changes its leaf; and because base64 output, topics and UUIDs are
plain ASCII, the canonical form is cheap to produce and easy to reproduce in
any language.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import rfc8785
from eventsourcing.utils import resolve_topic

from projections.merkle import leaf_hash

PACKET = "quire.packet."
LANE = "quire.lane."
TRAIL = "quire.trail."

OPENED = "quire.packet.Opened"
MEMBERS_CHANGED = "quire.packet.MembersChanged"
RETITLED = "quire.packet.Retitled"
OBJECTION_RAISED = "quire.packet.ObjectionRaised"
OBJECTION_ANSWERED = "quire.packet.ObjectionAnswered"
OBJECTION_RESOLVED = "quire.packet.ObjectionResolved"
OBJECTION_WITHDRAWN = "quire.packet.ObjectionWithdrawn"
OBJECTION_REOPENED = "quire.packet.ObjectionReopened"
REVISION_CUT = "quire.packet.RevisionCut"
RELEASE_REQUESTED = "quire.packet.ReleaseRequested"
RELEASE_HELD = "quire.packet.ReleaseHeld"
RELEASE_CLEARED = "quire.packet.ReleaseCleared"
RESIDUAL_ACCEPTED = "quire.packet.ResidualAccepted"
RELEASE_APPROVED = "quire.packet.ReleaseApproved"
RELEASE_SUPERSEDED = "quire.packet.ReleaseSuperseded"
RELEASE_SUCCEEDED = "quire.packet.ReleaseSucceeded"
RELEASE_ACKNOWLEDGED = "quire.packet.ReleaseAcknowledged"
LANE_CREATED = "quire.lane.Created"
LANE_MEMBERS_CHANGED = "quire.lane.MembersChanged"
LANE_KINDS_CHANGED = "quire.lane.KindsChanged"

OBJECTION_TOPICS = (
    OBJECTION_RAISED,
    OBJECTION_ANSWERED,
    OBJECTION_RESOLVED,
    OBJECTION_WITHDRAWN,
    OBJECTION_REOPENED,
    RESIDUAL_ACCEPTED,
)
RELEASE_TOPICS = (
    RELEASE_REQUESTED,
    RELEASE_HELD,
    RELEASE_CLEARED,
    RESIDUAL_ACCEPTED,
    RELEASE_APPROVED,
    RELEASE_SUPERSEDED,
    RELEASE_SUCCEEDED,
    RELEASE_ACKNOWLEDGED,
)
LANE_TOPICS = (LANE_CREATED, LANE_MEMBERS_CHANGED, LANE_KINDS_CHANGED)

#: Packet events whose actor does not become a contributor of the next
#: revision (mirrors `counts_as_work = False` in workspace/domain.py; used
#: only when a topic's class cannot be resolved in this process).
NOT_WORK = frozenset(
    {
        "quire.packet.EditConflictRecorded",
        "quire.packet.SourceExpired",
        "quire.packet.PrerequisiteLapsed",
        REVISION_CUT,
        "quire.packet.RequestRefused",
        MEMBERS_CHANGED,
        *OBJECTION_TOPICS,
        "quire.packet.SuggestionRejected",
        "quire.packet.ReleaseCancelled",
        "quire.packet.ReleaseDecided",
        "quire.packet.ReleaseHoldPlaced",
        "quire.packet.ReleaseHoldLifted",
        *RELEASE_TOPICS,
    }
)


def _plain(value: dict[str, Any]) -> Any:
    if len(value) == 2 and "_type_" in value and "_data_" in value:
        return value["_data_"]
    return value


#: One decoder, reused: building one per call costs as much as decoding.
_DECODER = json.JSONDecoder(object_hook=_plain)


def decode_state(state: bytes) -> dict[str, Any]:
    """The stored state as plain JSON values (typed values as their strings)."""
    data = _DECODER.decode(state.decode("utf-8"))
    if not isinstance(data, dict):
        raise ValueError("a stored event state is a JSON object")
    return data


@dataclass(eq=False)
class EventRecord:
    """One row of the event log, in notification-id order."""

    notification_id: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    _data: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = decode_state(self.state)
        return self._data

    @property
    def actor(self) -> str | None:
        actor = self.data.get("actor")
        return actor if isinstance(actor, str) else None

    @property
    def timestamp(self) -> str | None:
        at = self.data.get("timestamp")
        return at if isinstance(at, str) else None

    @property
    def is_packet_event(self) -> bool:
        return self.topic.startswith(PACKET)

    def record(self) -> dict[str, Any]:
        return event_record(
            self.notification_id,
            self.originator_id,
            self.originator_version,
            self.topic,
            self.state,
        )

    def leaf(self) -> bytes:
        return stored_leaf(
            self.notification_id,
            self.originator_id,
            self.originator_version,
            self.topic,
            self.state,
        )


def packet_batch(
    events: Sequence[EventRecord],
) -> tuple[list[EventRecord], list[str]]:
    """A batch's packet events, and the ids of their packets (sorted)."""
    mine = [e for e in events if e.is_packet_event]
    return mine, sorted({e.originator_id for e in mine})


def event_record(
    notification_id: int,
    originator_id: str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> dict[str, Any]:
    return {
        "id": notification_id,
        "originator_id": originator_id,
        "originator_version": originator_version,
        "topic": topic,
        "state": base64.b64encode(state).decode("ascii"),
    }


#: Strings that JSON and RFC 8785 both write verbatim (no escaping needed).
_VERBATIM = re.compile(r"[A-Za-z0-9+/=._:@\- ]*")
_SAFE_INT = 2**53 - 1


def canonical_record(record: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of an event record.

    The common case (ASCII strings needing no escapes, safe integers, exactly
    the five record keys) is formatted directly, which is byte-identical to
    RFC 8785 and much faster; anything else goes through `rfc8785`.
    """
    nid = record.get("id")
    version = record.get("originator_version")
    strings = (record.get("originator_id"), record.get("topic"), record.get("state"))
    if (
        len(record) == 5
        and type(nid) is int
        and type(version) is int
        and 0 <= nid <= _SAFE_INT
        and 0 <= version <= _SAFE_INT
        and all(type(s) is str and _VERBATIM.fullmatch(s) for s in strings)
    ):
        return (
            f'{{"id":{nid},"originator_id":"{strings[0]}",'
            f'"originator_version":{version},"state":"{strings[2]}",'
            f'"topic":"{strings[1]}"}}'
        ).encode("ascii")
    return bytes(rfc8785.dumps(record))


def record_leaf(record: dict[str, Any]) -> bytes:
    return leaf_hash(canonical_record(record))


@lru_cache(maxsize=4096)
def _verbatim(text: str) -> bool:
    return bool(_VERBATIM.fullmatch(text))


def stored_leaf(
    notification_id: int,
    originator_id: str,
    originator_version: int,
    topic: str,
    state: bytes,
) -> bytes:
    """The leaf hash of a stored event (the record built and hashed at once)."""
    if (
        0 <= notification_id <= _SAFE_INT
        and 0 <= originator_version <= _SAFE_INT
        and _verbatim(topic)
        and _verbatim(originator_id)
    ):
        encoded = base64.b64encode(state).decode("ascii")
        return leaf_hash(
            (
                f'{{"id":{notification_id},"originator_id":"{originator_id}",'
                f'"originator_version":{originator_version},"state":"{encoded}",'
                f'"topic":"{topic}"}}'
            ).encode("ascii")
        )
    return record_leaf(
        event_record(notification_id, originator_id, originator_version, topic, state)
    )


def canonical_json(value: Any) -> bytes:
    """RFC 8785 bytes of a JSON value, fast for the values Quire stores.

    Python's compact, sorted `json.dumps` writes exactly RFC 8785 when there
    are no floats, every integer is in the IEEE-754 safe range, keys are
    ASCII (so code-point and UTF-16 orders agree) and no string holds a lone
    surrogate (the UTF-8 encoding would fail); string escapes are the same
    (`\\b \\f \\n \\r \\t`, other controls as lowercase `\\u00xx`). Anything
    else goes through `rfc8785`.
    """
    if _simple(value):
        try:
            return json.dumps(
                value, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode("utf-8")
        except UnicodeEncodeError:
            pass
    return bytes(rfc8785.dumps(value))


def _simple(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bool or item is None:
            continue
        if kind is int:
            if not -_SAFE_INT <= item <= _SAFE_INT:
                return False
        elif kind is dict:
            for key in item:
                if type(key) is not str or not key.isascii():
                    return False
            stack.extend(item.values())
        elif kind is list:
            stack.extend(item)
        else:
            return False
    return True


@cache
def counts_as_work(topic: str) -> bool:
    """Whether a packet event's actor counts as a contributor (as the domain folds)."""
    try:
        cls = resolve_topic(topic)
    except Exception:  # an unknown topic: fall back to the static list
        return topic not in NOT_WORK
    return bool(getattr(cls, "counts_as_work", topic not in NOT_WORK))

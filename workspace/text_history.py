"""What this process last saw of each packet's history, kept in memory so that
a live edit based on an older version is rebased without going back to the
store.

A co-author's client sends its next op as soon as the last one is
acknowledged, and by then another writer has often saved: the edit's base
version is behind. Rebasing it needs the section's text at the base version
and every edit of the section since. Read from the store, that is a query for
the later events and a load of the packet at the base version (a snapshot
plus up to a hundred events folded): about as long as the save itself, and
all of it under the packet's lock.

`RecentHistory` keeps, per packet:

- the events the store handed this process or took from it (every load's
  fast-forward reads what was saved since the cached version, by any
  process; every save puts this process's own), by version; a range of
  versions is answered only when every version in it is held, so an answer
  is exactly what the store would return;
- the text of each section at a few versions this process loaded or saved
  (anchors); the text at a later version is the anchor's text with the
  section's edits in between applied, as the packet's fold applies them.

Events are immutable once stored and anchors are the state of a packet at a
version, so nothing here goes stale; it is bounded (the oldest versions and
the least recently used packets are dropped), and a miss falls back to the
store. `tests/unit/test_text_history.py` checks both paths agree.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from workspace.rebase import Op, apply_ops

#: Events kept per packet (the newest).
DEPTH = 1024
#: Versions whose section texts are kept per packet (the newest).
ANCHORS = 32
#: Packets kept (the most recently used).
PACKETS = 500

SECTION_ADDED = "SectionAdded"
TEXT_EDITED = "SectionTextEdited"


class _Track:
    __slots__ = ("anchors", "events")

    def __init__(self) -> None:
        self.events: dict[int, Any] = {}
        self.anchors: dict[int, dict[str, str]] = {}


class RecentHistory:
    """Recently stored events and section texts of each packet (thread-safe)."""

    def __init__(
        self, depth: int = DEPTH, anchors: int = ANCHORS, packets: int = PACKETS
    ) -> None:
        self.depth = depth
        self.max_anchors = anchors
        self.max_packets = packets
        self._tracks: OrderedDict[UUID, _Track] = OrderedDict()
        self._guard = threading.Lock()

    def _track(self, packet_id: UUID, create: bool) -> _Track | None:
        track = self._tracks.get(packet_id)
        if track is None and create:
            track = self._tracks[packet_id] = _Track()
            if len(self._tracks) > self.max_packets:
                self._tracks.popitem(last=False)
        if track is not None:
            self._tracks.move_to_end(packet_id)
        return track

    def seen(self, events: Iterable[Any]) -> None:
        """Stored events (read from the store, or just put in it)."""
        with self._guard:
            for event in events:
                track = self._track(event.originator_id, create=True)
                assert track is not None
                track.events[event.originator_version] = event
                if len(track.events) > self.depth:  # the first put is the oldest
                    del track.events[next(iter(track.events))]

    def anchor(self, packet_id: UUID, version: int, sections: dict[str, Any]) -> None:
        """The texts of a packet's sections at `version` (its recorded state)."""
        texts = {sid: s["text"] for sid, s in sections.items()}
        with self._guard:
            track = self._track(packet_id, create=True)
            assert track is not None
            track.anchors[version] = texts
            if len(track.anchors) > self.max_anchors:
                del track.anchors[next(iter(track.anchors))]

    def span(self, packet_id: UUID, gt: int, lte: int) -> list[Any] | None:
        """The packet's events after `gt` up to `lte`, in order, or None
        unless every one of them is held."""
        with self._guard:
            track = self._track(packet_id, create=False)
            if track is None:
                return None
            return _span(track, gt, lte)

    def text_at(self, packet_id: UUID, section_id: str, version: int) -> str | None:
        """The section's text at `version`, or None when it cannot be told
        from what is held (no anchor before it, or a version missing since)."""
        with self._guard:
            track = self._track(packet_id, create=False)
            if track is None:
                return None
            at = max(
                (
                    v
                    for v, t in track.anchors.items()
                    if v <= version and section_id in t
                ),
                default=None,
            )
            if at is None:
                return None
            events = _span(track, at, version)
            text = track.anchors[at][section_id]
        if events is None:
            return None
        for event in events:
            if getattr(event, "section_id", None) != section_id:
                continue
            name = type(event).__name__
            if name == SECTION_ADDED:
                return None  # the id was added again: leave it to the store
            if name == TEXT_EDITED:
                text = apply_ops(text, [_op(o) for o in event.ops])
        return text


def _span(track: _Track, gt: int, lte: int) -> list[Any] | None:
    found = []
    for version in range(gt + 1, lte + 1):
        event = track.events.get(version)
        if event is None:
            return None
        found.append(event)
    return found


def _op(raw: dict[str, Any]) -> Op:
    return Op(at=raw["at"], delete=raw["delete"], insert=raw["insert"])

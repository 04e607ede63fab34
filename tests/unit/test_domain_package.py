"""The packet's domain, split by area, still names one class per stored topic.

The eventsourcing library redefines an aggregate's nested event classes that
do not subclass its `Event`, and events found only on its bases; either would
make two classes for one TOPIC (the stored one resolving to a class the code
never triggers). These tests pin that none is redefined.
"""

from __future__ import annotations

import inspect

from eventsourcing.utils import resolve_topic

from workspace.domain import (
    Packet,
    PacketBase,
    PacketEvent,
    all_event_classes,
    approvals,
    objections,
    prerequisites,
    releases,
    revisions,
    sections,
    sources,
    suggestions,
)

AREAS = [
    sections,
    suggestions,
    sources,
    prerequisites,
    objections,
    revisions,
    releases,
    approvals,
]


def area_events() -> list[type[PacketEvent]]:
    return [
        cls
        for module in AREAS
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, PacketEvent)
        and "TOPIC" in cls.__dict__  # not an area's base (SourceEvent)
        and cls.__module__ == module.__name__
    ]


def test_every_event_topic_resolves_to_exactly_the_class_the_code_triggers() -> None:
    events = all_event_classes()
    assert len(events) == len({e.TOPIC for e in events})
    for cls in events:
        assert resolve_topic(cls.TOPIC) is cls, cls.TOPIC
        assert issubclass(cls, Packet.Event)


def test_every_area_event_is_a_packet_attribute_of_the_same_class() -> None:
    found = area_events()
    assert len(found) == 36
    for cls in found:
        assert Packet.__dict__[cls.__name__] is cls
        assert resolve_topic(cls.TOPIC) is cls
    assert set(found) <= set(all_event_classes())


def test_packet_event_is_the_aggregate_base_event_and_mixins_hold_no_events() -> None:
    assert Packet.__dict__["Event"] is PacketEvent
    for base in Packet.__mro__:
        if issubclass(base, PacketBase) and base is not Packet:
            assert not any(
                isinstance(v, type) and issubclass(v, PacketEvent)
                for v in vars(base).values()
            ), base

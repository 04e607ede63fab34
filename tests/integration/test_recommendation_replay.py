"""Recommendation content is event-sourced (seeds 000, 001): the demo's
stories, on every backend with snapshots every 5 events, replay from events
alone to the same state, every revision re-hashes, and loading the demo
twice writes nothing the second time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from release.application import ReleaseApp
from release.demo import load_demo
from release.demo_recommendation import SEED_000_TITLE, SEED_001_TITLE
from release.sweeper import ManualClock
from workspace.config import Settings
from workspace.domain import Packet
from workspace.domain import recommendations as rec
from workspace.hashing import content_hash


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 6, 11, 9, 0, tzinfo=UTC))


def replayed(app: ReleaseApp, packet: Packet) -> Packet:
    aggregate = None
    for event in app.events.get(packet.id):
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Packet)
    return aggregate


def test_the_recommendation_stories_replay_and_rehash(
    settings: Settings, clock: ManualClock
) -> None:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    try:
        load_demo(app)
        stored = app.recorder.max_notification_id()
        load_demo(app)
        assert app.recorder.max_notification_id() == stored
        packets = {
            app.get_packet(pid).title: app.get_packet(pid) for pid in app.packet_ids()
        }
        local, package = packets[SEED_001_TITLE], packets[SEED_000_TITLE]
        escalation = app.get_packet(rec.state(package)["escalation"]["packet_id"])
        for packet in (local, package, escalation):
            assert replayed(app, packet).state() == packet.state()
            for record in packet.revisions:
                content = app.revision_content(packet, record["number"])[1]
                assert content_hash(content) == record["content_hash"]
        history = rec.ranking_history(local)
        assert history[-1]["because"]["objection_id"] == "obj-1"
        assert history[-1]["preferred_after"] == "opt-2"
        assert [
            h["code"] for r in package.releases.values() for h in r["hold_reasons"]
        ] == ["NO_IN_BAND_OPTION"]
        assert rec.state(escalation, rec.ESCALATION_PART)["from_packet_id"] == str(
            package.id
        )
    finally:
        app.close()

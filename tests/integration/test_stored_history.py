"""Events stored before the restructure of issue 10 still load, replay and verify.

`tests/fixtures/wave1.db` was written by the code at commit c177a28
(`tests/fixtures/make_wave1_db.py`), with snapshots every 5 events;
`wave1.json` records what that code saw. The current code opens a copy and must
see the same: every event's topic resolves, every packet replays (from its
snapshots and from its events alone) to the recorded state, every revision's
stored content and its re-folded content hash to the recorded hash, and every
signed manifest verifies through the release and lane reads.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.utils import resolve_topic

from release.application import ReleaseApp
from release.manifest import manifest_hash
from release.sweeper import ManualClock
from workspace.config import Settings
from workspace.domain import Packet
from workspace.hashing import content_hash

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
RECORD: dict[str, Any] = json.loads((FIXTURES / "wave1.json").read_text())


@pytest.fixture
def old_app(tmp_path: Path) -> Iterator[ReleaseApp]:
    db = tmp_path / "wave1.db"
    shutil.copy(FIXTURES / "wave1.db", db)
    settings = Settings(
        database_url=f"sqlite:///{db}",
        signing_key_path=tmp_path / "key.pem",
        snapshot_interval=5,
    )
    clock = ManualClock(datetime.fromisoformat(RECORD["now"]))
    app = ReleaseApp({"CREATE_TABLE": "n"}, settings=settings, clock=clock)
    yield app
    app.close()


def plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def replayed_from_events(app: ReleaseApp, packet_id: str) -> Packet:
    """The packet folded from its stored events alone (no snapshot, no cache)."""
    aggregate: Any = None
    for event in app.events.get(UUID(packet_id)):
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Packet)
    return aggregate


def test_the_fixture_holds_what_it_should(old_app: ReleaseApp) -> None:
    packets = RECORD["packets"]
    assert len(packets) == 3
    statuses = {r["status"] for p in packets.values() for r in p["releases"].values()}
    assert {"released", "superseded", "held", "cancelled"} <= statuses
    assert RECORD["lapses_recorded"] > 0
    rows = old_app.recorder.select_notifications(start=1, limit=10_000)
    assert len(rows) > 100
    snapshots = [
        s
        for pid in packets
        for s in old_app.snapshots.get(UUID(pid))  # type: ignore[union-attr]
    ]
    assert len(snapshots) >= 10


def test_every_stored_topic_resolves_to_a_class_of_its_own_topic(
    old_app: ReleaseApp,
) -> None:
    rows = old_app.recorder.select_notifications(start=1, limit=10_000)
    for topic in {row.topic for row in rows}:
        cls = resolve_topic(topic)
        if hasattr(cls, "TOPIC"):
            assert topic == cls.TOPIC


def keeps(now: Any, recorded: Any) -> bool:
    """Whether `now` says everything `recorded` said: equal, except that a
    dict may have gained keys (state grows; nothing recorded may change)."""
    if isinstance(recorded, dict):
        return isinstance(now, dict) and all(
            k in now and keeps(now[k], v) for k, v in recorded.items()
        )
    if isinstance(recorded, list):
        return (
            isinstance(now, list)
            and len(now) == len(recorded)
            and all(keeps(a, b) for a, b in zip(now, recorded, strict=True))
        )
    return bool(now == recorded)


@pytest.mark.parametrize("packet_id", sorted(RECORD["packets"]))
def test_every_packet_replays_to_the_recorded_state_and_hashes(
    old_app: ReleaseApp, packet_id: str
) -> None:
    recorded = RECORD["packets"][packet_id]
    from_snapshots = old_app.get_packet(packet_id)
    from_events = replayed_from_events(old_app, packet_id)
    assert from_snapshots.version == from_events.version == recorded["version"]
    for packet in (from_snapshots, from_events):
        state = plain(packet.state())
        for key in recorded["state"].keys() & state.keys():
            assert keeps(state[key], recorded["state"][key]), key
    assert {
        str(r["number"]): r["content_hash"] for r in from_snapshots.revisions
    } == recorded["revisions"]
    for revision in from_snapshots.revisions:
        number = revision["number"]
        _, stored = old_app.revision_content(from_snapshots, number)
        assert content_hash(stored) == recorded["revisions"][str(number)]
        # the content the current code folds at that version hashes the same
        at_cut = old_app.get_packet(packet_id, version=revision["version"] - 1)
        assert content_hash(at_cut.content()) == recorded["revisions"][str(number)]


@pytest.mark.parametrize("packet_id", sorted(RECORD["packets"]))
def test_every_signed_manifest_still_verifies_through_the_reads(
    old_app: ReleaseApp, packet_id: str
) -> None:
    recorded = RECORD["packets"][packet_id]
    packet = old_app.get_packet(packet_id)
    owner = old_app.get_user(packet.release_owner).principal()
    checked = 0
    for release_id, expected in recorded["releases"].items():
        view = old_app.release_view(packet, release_id)
        assert view["status"] == expected["status"]
        assert view["manifest_hash"] == expected["manifest_hash"]
        if expected["manifest_hash"] is None:
            continue
        release = packet.release(release_id)
        assert manifest_hash(release["manifest"]) == expected["manifest_hash"]
        read = old_app.release_manifest(packet_id, owner, release_id)
        assert read["manifest_hash"] == expected["manifest_hash"]
        lane = old_app.get_lane(expected["lane_id"])
        member = old_app.get_user(lane.members[0]).principal()
        inbox = old_app.lane_inbox(member, lane.lane_id)
        assert any(
            i["release_id"] == release_id
            and i["manifest_hash"] == expected["manifest_hash"]
            for i in inbox
            if i["packet_id"] == packet_id
        )
        delivered = old_app.lane_release(member, lane.lane_id, release_id, packet_id)
        assert content_hash(delivered["content"]) == release["content_hash"]
        checked += 1
    assert checked == sum(
        1 for r in recorded["releases"].values() if r["manifest_hash"]
    )

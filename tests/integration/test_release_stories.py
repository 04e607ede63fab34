"""Seeds 002 and 003 end to end, on every backend, told through the same
stages the demo uses."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from release.application import ReleaseApp
from release.demo import (
    DIAGNOSTICS_LANE,
    GOVERNANCE_LANE,
    CreditStory,
    EntitlementStory,
    add_lanes,
    add_people,
    load_demo,
)
from release.sweeper import ManualClock, sweep
from workspace import accounts
from workspace.config import Settings
from workspace.content.worksheets import view as worksheet_view
from workspace.domain import text_hash
from workspace.domain import worksheets as ws
from workspace.hashing import content_hash


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    """Signing passphrases hashed at a low scrypt cost, to keep tests fast."""
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 6, 11, 9, 0, tzinfo=UTC))


@pytest.fixture
def release_app(settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    add_people(app)
    add_lanes(app)
    yield app
    app.close()


def codes(release: dict[str, Any]) -> list[str]:
    return sorted(h["code"] for h in release["hold_reasons"])


def subjects(release: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (
            h["code"],
            h.get("objection_id") or h.get("source_id") or h.get("prerequisite_id"),
        )
        for h in release["hold_reasons"]
    }


def saves_of(app: ReleaseApp, monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Spies on the application's saves: each save is one atomic recording."""
    batches: list[list[str]] = []
    original = app.save

    def save(*objs: Any, **kwargs: Any) -> Any:
        recordings = original(*objs, **kwargs)
        batches.append([type(r.domain_event).__name__ for r in recordings])
        return recordings

    monkeypatch.setattr(app, "save", save)
    return batches


def test_entitlement_packet_held_at_v1_released_at_v3_then_superseded_when_the_secure_upload_authorization_lapses(  # noqa: E501
    release_app: ReleaseApp, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = EntitlementStory(release_app)
    story.open()
    ids = story.ids

    first = story.request("priya.nair", story.cut_v1()["number"], DIAGNOSTICS_LANE)
    assert first["status"] == "held"
    assert subjects(first) == {
        ("PREREQUISITE_UNMET", ids["renewal_ingested"]),
        ("OBJECTION_OPEN", ids["rider"]),
        ("PREREQUISITE_LAPSED", ids["named_contacts"]),
        ("PREREQUISITE_LAPSED", ids["secure_upload"]),
    }
    assert all(h["detail"] for h in first["hold_reasons"])

    v2 = story.revise_to_v2()
    story.correct_ledger()
    second = story.request("priya.nair", v2["number"], DIAGNOSTICS_LANE)
    assert subjects(second) == {
        ("OBJECTION_OPEN", ids["rider"]),
        ("SOURCE_DRIFTED_SINCE_CUT", ids["ledger"]),
    }

    v3 = story.revise_to_v3()
    assert v3["label"] == "PSE-Entitlement-Clarification-Packet-v3"
    third = story.request("priya.nair", v3["number"], DIAGNOSTICS_LANE)
    rid = third["release_id"]
    assert subjects(third) == {("OBJECTION_OPEN", ids["rider"])}
    cleared = story.accept_rider(rid)
    assert (cleared["status"], cleared["hold_reasons"]) == ("pending", [])

    approved = story.approve(rid)
    assert approved["status"] == "released"
    assert approved["approved_by"] == "elena.park"
    manifest = story.packet().release(rid)["manifest"]
    assert approved["manifest_hash"] == content_hash(manifest)
    assert manifest["revision"] == {
        "number": 3,
        "label": "PSE-Entitlement-Clarification-Packet-v3",
        "content_hash": v3["content_hash"],
    }
    assert manifest["lane"]["id"] == DIAGNOSTICS_LANE
    assert manifest["lane"]["audience_version"] == 1
    assert manifest["signer"]["user_id"] == "elena.park"
    assert manifest["signer"]["name"].endswith(
        "Director of Premium Support Escalation Governance"
    )
    rider_text = story.packet().objections[ids["rider"]]["text"]
    assert [
        (r["objection_id"], r["text_hash"]) for r in manifest["residual_objections"]
    ] == [(ids["rider"], text_hash(rider_text))]
    assert {p["prerequisite_id"]: p["state"] for p in manifest["prerequisites"]} == {
        ids[name]: "satisfied"
        for name in (
            "addendum_in_force",
            "renewal_ingested",
            "named_contacts",
            "secure_upload",
            "sop_attached",
        )
    }
    assert ids["renewal"] in {s["source_id"] for s in manifest["sources"]}
    # Earlier requests stay held: approving v3 carries nothing forward to them.
    statuses = {r: story.packet().releases[r]["status"] for r in ("rel-1", "rel-2")}
    assert statuses == {"rel-1": "held", "rel-2": "held"}

    specialist = story.who("kenji.sato")
    inbox = release_app.lane_inbox(specialist, DIAGNOSTICS_LANE)
    assert [(i["release_id"], i["status"]) for i in inbox] == [(rid, "released")]
    shown = release_app.lane_release(specialist, DIAGNOSTICS_LANE, rid)
    assert content_hash(shown["content"]) == v3["content_hash"]
    assert shown["manifest_hash"] == approved["manifest_hash"]

    saves = saves_of(release_app, monkeypatch)
    clock.advance(timedelta(days=4))
    assert sweep(release_app) == 1
    # One save: the lapse, the supersession, and (wave 2) the two held
    # requests re-gated with the lapse among their reasons.
    assert saves == [
        ["PrerequisiteLapsed", "ReleaseSuperseded", "ReleaseHeld", "ReleaseHeld"]
    ]
    release = story.packet().release(rid)
    assert release["status"] == "superseded"
    assert release["supersession"]["cause"] == "PREREQUISITE_LAPSED"
    assert release["supersession"]["trigger"]["prerequisite_id"] == ids["secure_upload"]

    seen = release_app.lane_inbox(specialist, DIAGNOSTICS_LANE)
    assert [(i["release_id"], i["status"]) for i in seen] == [(rid, "superseded")]
    assert seen[0]["supersession"]["cause"] == "PREREQUISITE_LAPSED"
    reread = release_app.lane_release(specialist, DIAGNOSTICS_LANE, rid)
    assert reread["status"] == "superseded"
    assert reread["content"] == shown["content"]


def test_credit_packet_release_is_superseded_by_a_telemetry_correction_in_the_same_save_and_the_new_release_links_lineage(  # noqa: E501
    release_app: ReleaseApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    story = CreditStory(release_app)
    story.open()
    ids = story.ids
    first = story.request("marcus.lee", story.cut_v1()["number"], GOVERNANCE_LANE)
    assert subjects(first) == {("OBJECTION_OPEN", ids["maintenance_notice"])}
    story.accept_notice(first["release_id"])
    assert story.approve(first["release_id"])["status"] == "released"

    saves = saves_of(release_app, monkeypatch)
    after = story.correct_telemetry()
    # The corrected extract carries the worksheet's corrected facts (issue
    # 11): refresh, facts and supersession in one save.
    assert saves == [["SourceRefreshed", "WorksheetFactsUpdated", "ReleaseSuperseded"]]
    view = worksheet_view(after, ws.worksheet(after, ids["calc_worksheet"]))
    assert [
        i["result"]["eligible_downtime_minutes"] for i in view["interpretations"]
    ] == [255, 375]  # were 292 and 412
    old = after.release("rel-1")
    assert old["status"] == "superseded"
    assert old["supersession"]["cause"] == "SOURCE_DRIFT"
    assert old["supersession"]["trigger"] == {
        "event": "quire.packet.SourceRefreshed",
        "version": old["supersession"]["version"] - 2,
        "source_id": ids["telemetry"],
        "digest": "sha256:telemetry-march-b",
        "previous_digest": "sha256:telemetry-march-a",
    }
    # Stored, the refresh and the supersession are neighbours in one batch.
    stored = list(release_app.events.get(after.id))[-3:]
    assert [type(e).__name__ for e in stored] == [
        "SourceRefreshed",
        "WorksheetFactsUpdated",
        "ReleaseSuperseded",
    ]

    second = story.request(
        "marcus.lee", story.revise_to_v2()["number"], GOVERNANCE_LANE
    )
    # A residual is accepted for one release only: it must be accepted again.
    assert subjects(second) == {("OBJECTION_OPEN", ids["maintenance_notice"])}
    story.accept_notice(second["release_id"])
    assert story.approve(second["release_id"])["status"] == "released"

    packet = story.packet()
    assert packet.release("rel-1")["successor_release_id"] == "rel-2"
    assert packet.release("rel-2")["predecessor_release_id"] == "rel-1"
    reviewer = story.who("oliver.grant")
    old_view = release_app.lane_release(reviewer, GOVERNANCE_LANE, "rel-1")
    new_view = release_app.lane_release(reviewer, GOVERNANCE_LANE, "rel-2")
    assert old_view["status"] == "superseded"
    assert old_view["supersession"]["cause"] == "SOURCE_DRIFT"
    assert old_view["supersession"]["successor_release_id"] == "rel-2"
    assert (new_view["status"], new_view["predecessor_release_id"]) == (
        "released",
        "rel-1",
    )
    assert old_view["content"] != new_view["content"]
    owner = story.who("dana.whitfield")
    assert (
        release_app.release_manifest(packet.id, owner, "rel-1")["supersession"][
            "successor_release_id"
        ]
        == "rel-2"
    )
    inbox = release_app.lane_inbox(reviewer, GOVERNANCE_LANE)
    assert [(i["release_id"], i["status"]) for i in inbox] == [
        ("rel-1", "superseded"),
        ("rel-2", "released"),
    ]


def test_the_demo_loads_a_held_a_released_and_a_superseded_release_once(
    settings: Settings, clock: ManualClock
) -> None:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    try:
        tokens = load_demo(app)
        assert {"elena.park", "dana.whitfield", "kenji.sato"} <= set(tokens)
        stored = app.recorder.max_notification_id()
        assert load_demo(app) == {}
        assert app.recorder.max_notification_id() == stored
        statuses = {
            r["status"]
            for pid in app.packet_ids()
            for r in app.get_packet(pid).releases.values()
        }
        assert statuses == {"held", "released", "superseded"}
        assert app.authenticate(tokens["kenji.sato"]).user_id == "kenji.sato"
    finally:
        app.close()

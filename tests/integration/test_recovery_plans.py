"""Recovery plans through the handler and the gate (issue 13), on memory,
SQLite and PostgreSQL: held for a missing approver naming the row, fixed,
cut and released with the plan bound in the manifest; held for a late
acknowledgment; bad input writes nothing; replay keeps every hash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from release.application import ReleaseApp
from release.commands import ApproveRelease, RequestRelease
from release.demo_recovery import seed_plan, without_starter_approver
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from workspace import accounts
from workspace.accounts import Principal
from workspace.commands import CutRevision, SetRecoveryPlan
from workspace.config import Settings, backend_of
from workspace.errors import NotAllowedError, StateError, UnprocessableError
from workspace.hashing import content_hash

LANE = "internal-incident-review"
PASSPHRASE = "vp support signs"


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 10, 21, 15, 0, tzinfo=UTC))


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    app.add_user("vp.support", "VP Support", roles=[], passphrase=PASSPHRASE)
    for user_id in ("support.director", "vp.engineering", "rita"):
        app.add_user(user_id, user_id, roles=[])
    app.add_user("planner-bot", "Planning agent", roles=["agent"])
    app.add_user("root", "Admin", roles=["admin"])
    app.create_lane(
        who(app, "root"),
        lane_id=LANE,
        title="Internal incident review",
        members=["vp.engineering"],
        accepts_kinds=["recovery-plan"],
    )
    yield app
    app.close()


def who(app: ReleaseApp, user_id: str) -> Principal:
    return app.get_user(user_id).principal()


def open_plan(app: ReleaseApp, kind: str = "recovery-plan") -> str:
    packet = app.open_packet(
        who(app, "support.director"),
        kind=kind,
        title="Tuesday's outage",
        release_owner="vp.support",
        authors=["support.director", "planner-bot"],
        reviewers=["rita"],
    )
    return str(packet.id)


def set_plan(app: ReleaseApp, pid: str, plan: dict[str, Any], by: str = "") -> Any:
    return app.execute(
        pid, who(app, by or "support.director"), SetRecoveryPlan(plan)
    ).packet


def cut_and_request(app: ReleaseApp, pid: str) -> tuple[dict[str, Any], str]:
    director = who(app, "support.director")
    revision = app.execute(pid, director, CutRevision()).result
    requested = app.execute(
        pid, director, RequestRelease(revision=revision["number"], lane_id=LANE)
    )
    return revision, requested.result


def approve(app: ReleaseApp, pid: str, rid: str, revision: dict[str, Any]) -> Any:
    approve_ = ApproveRelease(
        rid,
        content_hash=revision["content_hash"],
        meaning="approved for internal incident review",
        passphrase=PASSPHRASE,
    )
    done = app.execute(pid, who(app, "vp.support"), approve_)
    return app.release_view(done.packet, rid)


def test_a_missing_approver_holds_naming_the_row_then_fixed_it_is_released(
    app: ReleaseApp,
) -> None:
    pid = open_plan(app)
    # Starter's approver not named, and support.manager not yet a Quire user.
    drafted = without_starter_approver(seed_plan())
    drafted["remediation"][8]["approver"] = "support.manager"
    set_plan(app, pid, drafted)
    revision, rid = cut_and_request(app, pid)
    with pytest.raises(ReleaseHeldError) as held:
        approve(app, pid, rid, revision)
    reasons = held.value.details["hold_reasons"]
    assert [(h["code"], h["part"], h["row"]) for h in reasons] == [
        ("REMEDIATION_APPROVER_MISSING", "remediation", row) for row in (8, 9, 10, 11)
    ]
    assert "'support.manager' is not a Quire user" in reasons[0]["detail"]
    assert app.get_packet(pid).release(rid)["status"] == "held"

    app.add_user("support.manager", "Support Manager", roles=[])
    set_plan(app, pid, seed_plan())  # names support.manager on every Starter row
    fixed, rid2 = cut_and_request(app, pid)
    assert fixed["content_hash"] != revision["content_hash"]
    released = approve(app, pid, rid2, fixed)
    assert released["status"] == "released"
    manifest = app.release_manifest(pid, who(app, "vp.support"), rid2)["manifest"]
    stored = app.revision_content(app.get_packet(pid), fixed["number"])[1]
    assert manifest["plan"] == {
        "content_hash": content_hash(stored["plan"]),
        "checks": [],
        "remediation_approvers": ["vp.support", "support.director", "support.manager"],
    }


def test_an_agent_named_as_approver_is_not_an_approver(app: ReleaseApp) -> None:
    pid = open_plan(app)
    plan = seed_plan()
    plan["remediation"][0]["approver"] = "planner-bot"
    packet = set_plan(app, pid, plan)
    # vp.support approves the other Enterprise rows; support.manager is no user
    assert packet.part("plan")["approvers_known"] == ["vp.support", "support.director"]
    _, rid = cut_and_request(app, pid)
    held = app.get_packet(pid).release(rid)
    assert ("REMEDIATION_APPROVER_MISSING", 0) in [
        (h["code"], h["row"]) for h in held["hold_reasons"]
    ]


def test_an_acknowledgment_after_the_expected_contact_holds_acknowledgment_too_late(
    app: ReleaseApp,
) -> None:
    app.add_user("support.manager", "Support Manager", roles=[])
    pid = open_plan(app)
    late = seed_plan()
    late["communications"][0]["at_minutes"] = 90  # 11:30am; customers wrote by T+30
    set_plan(app, pid, late)
    revision, rid = cut_and_request(app, pid)
    with pytest.raises(ReleaseHeldError) as held:
        approve(app, pid, rid, revision)
    [hold] = held.value.details["hold_reasons"]
    assert (hold["code"], hold["part"], hold["row"]) == (
        "ACKNOWLEDGMENT_TOO_LATE",
        "severities",
        0,
    )


def test_a_plan_changed_after_the_cut_holds_the_revision_stale(
    app: ReleaseApp,
) -> None:
    app.add_user("support.manager", "Support Manager", roles=[])
    pid = open_plan(app)
    set_plan(app, pid, seed_plan())
    revision, rid = cut_and_request(app, pid)
    changed = seed_plan()
    changed["remediation"][0]["offer"] = "14-day service credit"
    set_plan(app, pid, changed)
    with pytest.raises(ReleaseHeldError) as held:
        approve(app, pid, rid, revision)
    assert [(h["code"], h.get("part")) for h in held.value.details["hold_reasons"]] == [
        ("REVISION_STALE", "plan")
    ]


def test_bad_plans_and_wrong_callers_write_nothing(app: ReleaseApp) -> None:
    pid = open_plan(app)
    version = app.get_packet(pid).version
    bad_row = seed_plan()
    bad_row["severities"][0]["criteria"]["min_customers_pct"] = "140"
    unknown = seed_plan()
    unknown["review"][0]["owner"] = "x"
    missing_level = seed_plan()
    missing_level["remediation"][0]["severity"] = "S9"
    for plan, code in (
        (bad_row, "PERCENT_OUT_OF_RANGE"),
        (unknown, "UNKNOWN_FIELD"),
        (missing_level, "PLAN_INVALID"),
        ({"severities": "S1"}, "PLAN_INVALID"),
    ):
        with pytest.raises(UnprocessableError) as refused:
            set_plan(app, pid, plan)
        assert refused.value.code == code
    for user_id in ("rita", "planner-bot", "vp.engineering"):
        with pytest.raises(NotAllowedError):
            set_plan(app, pid, seed_plan(), by=user_id)
    other = open_plan(app, kind="service-credit-clarification")
    with pytest.raises(StateError) as wrong_kind:
        set_plan(app, other, seed_plan())
    assert wrong_kind.value.code == "NOT_A_RECOVERY_PLAN"
    assert app.get_packet(pid).version == version
    assert "plan" not in app.get_packet(pid).content()


def test_replay_keeps_every_revisions_hash_and_the_plan(
    app: ReleaseApp, settings: Settings
) -> None:
    pid = open_plan(app)
    set_plan(app, pid, without_starter_approver(seed_plan()))
    first, _ = cut_and_request(app, pid)
    app.add_user("support.manager", "Support Manager", roles=[])
    for n in range(3):  # past the snapshot interval (5 events)
        plan = seed_plan()
        plan["review"][0]["within_days"] = n + 2
        set_plan(app, pid, plan)
    second, _ = cut_and_request(app, pid)
    packet = app.get_packet(pid)
    for record in packet.revisions:
        past = app.get_packet(pid, version=record["version"])
        assert content_hash(past.content()) == record["content_hash"]
        _, stored = app.revision_content(packet, record["number"])
        assert content_hash(stored) == record["content_hash"]
    assert {first["number"], second["number"]} == {1, 2}
    if backend_of(settings.database_url) == "memory":
        return
    again = ReleaseApp(settings=settings)
    try:
        replayed = again.get_packet(pid)
        assert replayed.content() == packet.content()
        assert replayed.part("plan") == packet.part("plan")
        assert [r["content_hash"] for r in replayed.revisions] == [
            r["content_hash"] for r in packet.revisions
        ]
    finally:
        again.close()


def test_the_seed_004_demo_is_held_for_the_starter_approver_then_released(
    settings: Settings, clock: ManualClock
) -> None:
    from release.demo import load_demo
    from release.demo_recovery import RECOVERY_LANE, RECOVERY_TITLE, tell_recovery_story

    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    try:
        load_demo(app)  # people, lanes and every story, seed 004's included
        told = [
            p for p in app.packet_ids() if app.get_packet(p).title == RECOVERY_TITLE
        ]
        assert len(told) == 1
        story = tell_recovery_story(app)  # told again: a second packet
        assert [(h["code"], h["row"]) for h in story["held"]["hold_reasons"]] == [
            ("REMEDIATION_APPROVER_MISSING", row) for row in (8, 9, 10, 11)
        ]
        released = story["released"]
        assert (released["status"], released["lane_id"]) == ("released", RECOVERY_LANE)
        packet = app.get_packet(released["packet_id"])
        assert packet.release(story["held"]["release_id"])["status"] == "held"
        manifest = app.release_manifest(
            released["packet_id"], who(app, "vp.support"), released["release_id"]
        )["manifest"]
        assert manifest["plan"]["remediation_approvers"] == [
            "vp.support",
            "support.director",
            "support.manager",
        ]
        tiers = {r["tier"] for r in packet.content()["plan"]["remediation"]}
        assert tiers == {"Enterprise", "Growth", "Starter"}
    finally:
        app.close()

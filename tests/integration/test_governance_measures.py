"""Governance measures from a scripted history, on every backend.

The history is driven through the release application with a manual clock
(T0 = 2025-03-01 12:00 UTC), projected by the `governance` read model, and
every expected value below is worked out by hand from the script (the
arithmetic is in the comments).

Packet A (opened T0):
  T0+1h   rita raises O1; ben cuts r1 and requests R1 -> held OBJECTION_OPEN
  T0+2h   olga accepts O1 as residual for R1 -> pending
  T0+2h30 olga signs with a wrong passphrase -> held REAUTHENTICATION_FAILED
  T0+3h   olga approves R1 (1 residual)                 first release of A
  T0+4h   the lane (lars) accepts R1
  T0+5h   ben refreshes source 1 (material) -> R1 superseded SOURCE_DRIFT
  T0+6h   ben cuts r2, requests R2 -> held OBJECTION_OPEN (O1 is R1's residual)
  T0+6h30 olga accepts O1 as residual for R2 -> pending
  T0+7h   olga approves R2 (1 residual)
  T0+8h   the lane returns R2: hidden_drift
  T0+9h   olga holds the released R2 -> superseded HELD_BY_RELEASE_OWNER
Packet B (opened T0+1h):
  T0+1h30 ben cuts r1, requests R3 -> pending
  T0+2h   olga approves R3 (0 residuals)                first release of B
  T0+2h   bot proposes S1 and S2; T0+2h30 ben rejects S1
          (concession_recommendation) and S2 (no category); T0+7h bot
          proposes S3 (left open)
  T0+3h   the lane returns R3: audience_mistake
  T0+3h30 ben edits, cuts r2, requests R4 -> pending
  T0+4h   olga approves R4 (0 residuals) -> R3 superseded REPLACED_BY_NEW_RELEASE
  T0+5h   the lane accepts R4
  T0+5h30 ben requests R5 of r2 for an unknown lane -> held LANE_UNKNOWN
  T0+6h   ben cancels R5
Packet C (opened T0+2h): never released.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from projections.driver import Driver
from projections.governance import GovernanceFacts, facts
from projections.governance_measures import Window, compute, to_csv
from projections.runner import create_read_models
from projections.store import ReadStore
from release.application import ReleaseApp
from release.commands import AcceptResidual, CancelRelease, HoldRelease
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from tests.integration.test_release_gate import KIND, LANE, PASSPHRASE, draft, who
from workspace import accounts
from workspace.commands import RaiseObjection, RefreshSource, RejectSuggestion
from workspace.config import Settings

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def at(hours: float) -> datetime:
    return T0 + timedelta(minutes=round(hours * 60))


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def release_app(settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    app.add_user("olga", "Olga Owner", roles=[], passphrase=PASSPHRASE)
    for user_id in ("ben", "rita", "lars"):
        app.add_user(user_id, user_id.title(), roles=[])
    app.add_user("bot", "Reconciler", roles=["agent"])
    app.add_user("root", "Admin", roles=["admin"])
    app.create_lane(
        who(app, "root"),
        lane_id=LANE,
        title="Governance review",
        members=["lars"],
        accepts_kinds=[KIND],
    )
    yield app
    app.close()


def codes(view: dict[str, Any]) -> list[str]:
    return sorted(h["code"] for h in view["hold_reasons"])


def script(app: ReleaseApp, clock: ManualClock) -> None:
    """Plays the history in the module docstring, checking each step."""

    def now(hours: float) -> None:
        clock.now = at(hours)

    ben, olga, rita, lars, bot = (
        who(app, u) for u in ("ben", "olga", "rita", "lars", "bot")
    )
    a = draft(app, clock, "Packet A")  # opened at T0
    now(1)
    b = draft(app, clock, "Packet B")  # opened at T0+1h
    now(2)
    draft(app, clock, "Packet C")

    # ---- packet A
    now(1)
    oid = app.execute(
        a.packet_id, rita, RaiseObjection(target={}, text="Cite it")
    ).result
    r1 = a.request(a.cut()["number"])
    assert codes(r1) == ["OBJECTION_OPEN"]
    r1_id = r1["release_id"]
    now(2)
    done = app.execute(
        a.packet_id,
        olga,
        AcceptResidual(release_id=r1_id, objection_id=oid, rationale="known gap"),
    )
    assert app.release_view(done.packet, done.result)["status"] == ("pending")
    now(2.5)
    with pytest.raises(ReleaseHeldError):
        a.approve(r1_id, passphrase="not the passphrase")
    now(3)
    a.approve(r1_id)
    now(4)
    app.decide_release(lars, LANE, r1_id, decision="accepted", packet_id=a.packet_id)
    now(5)
    source = a.packet().source_order[0]
    refreshed = app.execute(
        a.packet_id,
        ben,
        RefreshSource(
            source_id=source, digest="sha256:new", material=None, reason=None
        ),
    ).packet
    assert refreshed.release(r1_id)["status"] == "superseded"
    now(6)
    r2 = a.request(a.cut()["number"])
    assert codes(r2) == ["OBJECTION_OPEN"]
    r2_id = r2["release_id"]
    now(6.5)
    app.execute(
        a.packet_id,
        olga,
        AcceptResidual(release_id=r2_id, objection_id=oid, rationale="still known"),
    )
    now(7)
    a.approve(r2_id)
    now(8)
    app.decide_release(
        lars,
        LANE,
        r2_id,
        decision="returned",
        reason_category="hidden_drift",
        packet_id=a.packet_id,
    )
    now(9)
    app.execute(
        a.packet_id, olga, HoldRelease(release_id=r2_id, reason="the lane found drift")
    )

    # ---- packet B
    now(1.5)
    r3 = b.request(b.cut()["number"])
    assert codes(r3) == []
    now(2)
    b.approve(r3["release_id"])
    sid = b.packet().section_order[0]
    version = b.packet().version
    s1 = app.edit_section(b.packet_id, bot, sid, base_version=version, text="a")
    s2 = app.edit_section(b.packet_id, bot, sid, base_version=version, text="b")
    now(2.5)
    for suggestion, category in (
        (s1.suggestion_id, "concession_recommendation"),
        (s2.suggestion_id, None),
    ):
        assert suggestion is not None
        app.execute(
            b.packet_id,
            ben,
            RejectSuggestion(
                suggestion_id=suggestion, reason="not ours", category=category
            ),
        )
    now(3)
    app.decide_release(
        lars,
        LANE,
        r3["release_id"],
        decision="returned",
        reason_category="audience_mistake",
        packet_id=b.packet_id,
    )
    now(3.5)
    app.edit_section(
        b.packet_id, ben, sid, base_version=b.packet().version, text="413 minutes"
    )
    r4 = b.request(b.cut()["number"])
    assert codes(r4) == []
    now(4)
    b.approve(r4["release_id"])
    assert b.packet().release(r3["release_id"])["status"] == "superseded"
    now(5)
    app.decide_release(
        lars, LANE, r4["release_id"], decision="accepted", packet_id=b.packet_id
    )
    now(5.5)
    r5 = b.request(r4["revision"], lane="nowhere")
    assert codes(r5) == ["LANE_UNKNOWN"]
    now(6)
    app.execute(
        b.packet_id,
        ben,
        CancelRelease(release_id=r5["release_id"], reason="wrong lane"),
    )
    now(7)
    app.edit_section(b.packet_id, bot, sid, base_version=b.packet().version, text="c")


@pytest.fixture
def measured(
    release_app: ReleaseApp, settings: Settings, clock: ManualClock
) -> Iterator[ReadStore]:
    script(release_app, clock)
    store = ReadStore(settings, release_app)
    create_read_models(store)
    session = store.session()
    try:
        # Small batches: the history spans several transactions.
        Driver(store, GovernanceFacts(), batch_size=5).catch_up(session)
    finally:
        session.close()
    assert store.position(GovernanceFacts.name) == store.head()
    yield store
    store.close()


def test_every_measure_over_the_whole_history(measured: ReadStore) -> None:
    m = compute(facts(measured), Window())

    # Approved: R1 (A), R2 (A), R3 (B), R4 (B); R5 never. Decided: all four.
    # Accepted: R1, R4 = 2; returned: R2 hidden_drift, R3 audience_mistake.
    lane = m["lane_acceptance"]["value"]
    assert (lane["released"], lane["decided"], lane["undecided"]) == (4, 4, 0)
    assert (lane["accepted"], lane["returned"]) == (2, 2)
    assert lane["returned_by_category"] == {
        "narrower_scope": 0,
        "fresher_support": 0,
        "audience_mistake": 1,
        "hidden_drift": 1,
        "other": 0,
    }
    # Both returns are governance returns: (4 - 2) / 4 = 1/2.
    assert lane["governance_returns"] == 2
    assert lane["share_accepted"]["fraction"] == "1/2"
    assert lane["share_accepted"]["percent"] == "50.00"
    assert lane["share_without_governance_return"]["fraction"] == "1/2"

    # A: opened T0, first release T0+3h = 10800 s; B: opened T0+1h, first
    # release T0+2h = 3600 s; C never released. Median of two = (3600 +
    # 10800) / 2 = 7200; mean the same.
    first = m["time_to_first_release"]["value"]
    assert first == {
        "count": 2,
        "min_seconds": "3600",
        "median_seconds": "7200",
        "mean_seconds": "7200",
        "max_seconds": "10800",
    }

    # One SOURCE_DRIFT supersession (R1 at T0+5h); the next approval of A to
    # the same lane is R2 at T0+7h: 2 h = 7200 s. One material refresh.
    drift = m["time_source_change_to_superseding_release"]["value"]
    assert (drift["count"], drift["median_seconds"], drift["waiting"]) == (
        1,
        "7200",
        0,
    )
    assert drift["material_changes"] == 1

    # R1 SOURCE_DRIFT, R3 REPLACED_BY_NEW_RELEASE, R2 HELD_BY_RELEASE_OWNER.
    causes = m["supersessions_by_cause"]["value"]
    assert causes["total"] == 3
    assert {k: v for k, v in causes["by_cause"].items() if v} == {
        "SOURCE_DRIFT": 1,
        "REPLACED_BY_NEW_RELEASE": 1,
        "HELD_BY_RELEASE_OWNER": 1,
    }

    # Before: holds on approved releases, signing steps left out: R1
    # OBJECTION_OPEN (its REAUTHENTICATION_FAILED is a signing step), R2
    # OBJECTION_OPEN; R3, R4 none = 2. After: supersessions but replacements:
    # R1 SOURCE_DRIFT + R2 HELD_BY_RELEASE_OWNER = 2. Share 2 / 4 = 1/2.
    # Held then cancelled: R5 (LANE_UNKNOWN) = 1.
    blockers = m["blockers_before_vs_after"]["value"]
    assert (blockers["before"], blockers["after"]) == (2, 2)
    assert blockers["share_before"]["fraction"] == "1/2"
    assert blockers["held_then_cancelled"] == 1

    # S1, S2, S3 proposed; S1 concession_recommendation, S2 uncategorized.
    rejections = m["suggestions_rejected_by_category"]["value"]
    assert (rejections["proposed"], rejections["rejected"]) == (3, 2)
    assert {k: v for k, v in rejections["by_category"].items() if v} == {
        "concession_recommendation": 1,
        "uncategorized": 1,
    }

    # R1: 1, R2: 1, R3: 0, R4: 0 -> total 2 over 4 releases, mean 1/2.
    residuals = m["residual_objections_per_release"]["value"]
    assert residuals["total"] == 2 and residuals["releases"] == 4
    assert residuals["mean"] == {"fraction": "1/2", "decimal": "0.50"}
    assert residuals["distribution"] == {"0": 2, "1": 2}
    assert residuals["max"] == 1

    # (release, code): R1 OBJECTION_OPEN, R1 REAUTHENTICATION_FAILED,
    # R2 OBJECTION_OPEN, R5 LANE_UNKNOWN. OBJECTION_OPEN on 2 releases, each
    # recorded by one evaluation (R1's was cleared by the residual, R2's too).
    holds = m["hold_reasons_by_frequency"]["value"]
    assert holds["total"] == 4
    assert [(h["code"], h["releases"], h["evaluations"]) for h in holds["by_code"]] == [
        ("OBJECTION_OPEN", 2, 2),
        ("LANE_UNKNOWN", 1, 1),
        ("REAUTHENTICATION_FAILED", 1, 1),
    ]

    # No recommendation packet in this history: nothing asked, nothing ranked.
    asks = m["blocked_asks"]["value"]
    assert (asks["all_asks"], asks["blocked"], asks["by_type"]) == (0, 0, {})
    ranking = m["ranking_changes_per_review_cycle"]["value"]
    assert (ranking["changes"], ranking["cycles"]) == (0, 0)
    assert all(m[k]["available"] and m[k]["definition"] for k in m)


def test_a_window_counts_only_what_happened_inside_it(measured: ReadStore) -> None:
    # [T0+3h30, T0+7h30): approvals R4 (T0+4h) and R2 (T0+7h); supersessions
    # R3 (T0+4h) and R1 (T0+5h); holds first recorded: R5 LANE_UNKNOWN
    # (T0+5h30), R2 OBJECTION_OPEN (T0+6h); cancellation R5 (T0+6h);
    # rejections none (T0+2h30); proposals S3 (T0+7h); refresh T0+5h.
    m = compute(facts(measured), Window(at(3.5), at(7.5)))

    # R4 accepted, R2 returned hidden_drift: 1/2 accepted; governance
    # returns 1, so (2 - 1) / 2 = 1/2 without one.
    lane = m["lane_acceptance"]["value"]
    assert (lane["released"], lane["accepted"], lane["governance_returns"]) == (
        2,
        1,
        1,
    )
    # No packet's first release falls inside (A: T0+3h, B: T0+2h).
    assert m["time_to_first_release"]["value"]["count"] == 0
    assert m["time_to_first_release"]["value"]["median_seconds"] is None
    # R1's drift (T0+5h) is inside; 7200 s as before.
    drift = m["time_source_change_to_superseding_release"]["value"]
    assert (drift["count"], drift["max_seconds"], drift["material_changes"]) == (
        1,
        "7200",
        1,
    )
    causes = m["supersessions_by_cause"]["value"]["by_cause"]
    assert {k: v for k, v in causes.items() if v} == {
        "SOURCE_DRIFT": 1,
        "REPLACED_BY_NEW_RELEASE": 1,
    }
    # Before: R2 OBJECTION_OPEN (R4 none) = 1; after: R1 SOURCE_DRIFT = 1
    # (R3's replacement does not count); 1 / 2. R5 cancelled inside: 1.
    blockers = m["blockers_before_vs_after"]["value"]
    assert (blockers["before"], blockers["after"]) == (1, 1)
    assert blockers["share_before"]["percent"] == "50.00"
    assert blockers["held_then_cancelled"] == 1
    rejections = m["suggestions_rejected_by_category"]["value"]
    assert (rejections["proposed"], rejections["rejected"]) == (1, 0)
    # R4: 0 residuals, R2: 1 -> 1/2.
    assert m["residual_objections_per_release"]["value"]["mean"]["fraction"] == "1/2"
    holds = m["hold_reasons_by_frequency"]["value"]["by_code"]
    assert [(h["code"], h["releases"]) for h in holds] == [
        ("LANE_UNKNOWN", 1),
        ("OBJECTION_OPEN", 1),
    ]


def test_csv_lists_every_measure_with_its_definition(measured: ReadStore) -> None:
    text = to_csv(compute(facts(measured), Window()))
    lines = text.splitlines()
    assert lines[0] == "measure,field,value"
    assert "lane_acceptance,share_accepted.fraction,1/2" in lines
    assert "hold_reasons_by_frequency,by_code.OBJECTION_OPEN.releases,2" in lines
    assert "blocked_asks,available,true" in lines
    assert sum(1 for line in lines if ",definition," in line) == 10


def test_each_event_is_counted_once_across_restarts(
    release_app: ReleaseApp, settings: Settings, clock: ManualClock
) -> None:
    """Two drivers of one projection, one after the other (a restart): the
    second resumes from the tracking row, so nothing is counted twice."""
    script(release_app, clock)
    store = ReadStore(settings, release_app)
    create_read_models(store)
    session = store.session()
    try:
        head = store.head()
        Driver(store, GovernanceFacts(), batch_size=3).catch_up(session, upto=head // 2)
        Driver(store, GovernanceFacts(), batch_size=3).catch_up(session)
        Driver(store, GovernanceFacts(), batch_size=3).catch_up(session)
    finally:
        session.close()
    m = compute(facts(store), Window())
    holds = m["hold_reasons_by_frequency"]["value"]["by_code"]
    assert [(h["code"], h["evaluations"]) for h in holds] == [
        ("OBJECTION_OPEN", 2),
        ("LANE_UNKNOWN", 1),
        ("REAUTHENTICATION_FAILED", 1),
    ]
    assert m["suggestions_rejected_by_category"]["value"]["proposed"] == 3
    store.close()


def test_blocked_asks_and_ranking_changes_of_the_recommendation_seeds(
    release_app: ReleaseApp, settings: Settings
) -> None:
    """Seeds 001 and 000 as the demo tells them, counted by hand: seed 001
    records five asks, every one of a type its matrix blocks or reserves for
    escalation, before any release (none is approved), and ranks twice, the
    second time with another option first; seed 000 asks nothing and is not
    ranked, so its revision cut is no review cycle of a ranked packet."""
    from release.demo_recommendation import (
        RecommendationStory,
        _add_lanes,
        _add_people,
    )
    from workspace.commands import CutRevision

    _add_people(release_app)
    release_app.add_user("quire.admin", "Admin", roles=["admin"])
    _add_lanes(release_app)
    story = RecommendationStory(release_app)
    seed_001 = story.tell_001()
    story.tell_000()

    def measured() -> dict[str, Any]:
        store = ReadStore(settings, release_app)
        create_read_models(store)
        session = store.session()
        try:
            Driver(store, GovernanceFacts()).catch_up(session)
        finally:
            session.close()
        try:
            return compute(facts(store), Window())
        finally:
            store.close()

    m = measured()
    assert m["blocked_asks"]["value"] == {
        "all_asks": 5,
        "blocked": 5,
        "before_release": 5,
        "after_release": 0,
        "share_before": {
            "numerator": 5,
            "denominator": 5,
            "fraction": "1/1",
            "percent": "100.00",
        },
        "by_type": {
            "cross_product_rebate": 1,
            "extended_free_term": 1,
            "permanent_rate_reduction": 1,
            "retention_concession": 1,
            "staffing_guarantee": 1,
        },
    }
    ranking = m["ranking_changes_per_review_cycle"]["value"]
    assert (ranking["changes"], ranking["preferred_changes"], ranking["cycles"]) == (
        1,
        1,
        0,
    )
    assert ranking["per_cycle"] == {"fraction": None, "decimal": None}

    # One revision cut of the ranked packet closes one review cycle: 1/1.
    story.run(seed_001, "raj.patel", CutRevision(label="AR-local-v1"))
    ranking = measured()["ranking_changes_per_review_cycle"]["value"]
    assert ranking["cycles"] == 1
    assert ranking["per_cycle"] == {"fraction": "1/1", "decimal": "1.00"}

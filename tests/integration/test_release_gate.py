"""The gate, re-authentication, supersession causes, the impact query, lane
audience changes and out-of-scope refusals, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from release.application import ReleaseApp
from release.commands import AcceptResidual, ApproveRelease, RequestRelease
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from workspace import accounts
from workspace.accounts import Principal
from workspace.commands import (
    AddSection,
    CiteSource,
    CutRevision,
    DeclarePrerequisite,
    RaiseObjection,
    RefreshSource,
    ReopenObjection,
    ResolveObjection,
)
from workspace.config import Settings, backend_of
from workspace.errors import NotAllowedError, OutOfScopeError

KIND = "service-credit-clarification"
LANE = "governance-review"
PASSPHRASE = "olga signs carefully"


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def release_app(settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    app.add_user("olga", "Olga Owner", roles=[], passphrase=PASSPHRASE)
    for user_id in ("ben", "rita", "lars", "mia", "zed"):
        app.add_user(user_id, user_id.title(), roles=[])
    app.add_user("bot", "Reconciler", roles=["agent"])
    app.add_user("root", "Admin", roles=["admin"])
    admin = app.get_user("root").principal()
    app.create_lane(
        admin,
        lane_id=LANE,
        title="Governance review",
        members=["lars"],
        accepts_kinds=[KIND],
    )
    yield app
    app.close()


def who(app: ReleaseApp, user_id: str) -> Principal:
    return app.get_user(user_id).principal()


@dataclass
class Draft:
    """A small packet: one section, two sources, two prerequisites."""

    app: ReleaseApp
    packet_id: str

    def __getattr__(self, user_id: str) -> Principal:
        return who(self.app, user_id)

    def packet(self) -> Any:
        return self.app.get_packet(self.packet_id)

    def cut(self) -> dict[str, Any]:
        return self.app.execute(self.packet_id, self.ben, CutRevision()).result

    def request(self, revision: int, lane: str = LANE) -> dict[str, Any]:
        done = self.app.execute(
            self.packet_id, self.ben, RequestRelease(revision=revision, lane_id=lane)
        )
        return self.app.release_view(done.packet, done.result)

    def approve(
        self,
        release_id: str,
        signer: str = "olga",
        passphrase: str = PASSPHRASE,
        content_hash: str | None = None,
    ) -> dict[str, Any]:
        packet = self.packet()
        revision = packet.revision(packet.release(release_id)["revision"])
        approve = ApproveRelease(
            release_id,
            content_hash=content_hash or revision["content_hash"],
            meaning="approved for governance review intake",
            passphrase=passphrase,
        )
        done = self.app.execute(self.packet_id, who(self.app, signer), approve)
        return self.app.release_view(done.packet, release_id)

    def release(self) -> str:
        """Cuts, requests and approves; returns the release id."""
        rid = self.request(self.cut()["number"])["release_id"]
        self.approve(rid)
        return rid


def draft(app: ReleaseApp, clock: ManualClock, title: str = "Credit packet") -> Draft:
    ben = who(app, "ben")
    packet = app.open_packet(
        ben,
        kind=KIND,
        title=title,
        release_owner="olga",
        authors=["ben", "bot"],
        reviewers=["rita"],
    )
    pid = str(packet.id)
    app.execute(pid, ben, AddSection(heading="Calculation", text="412 outage minutes"))
    for n, valid in ((1, None), (2, clock.now + timedelta(days=1))):
        app.execute(
            pid,
            ben,
            CiteSource(
                kind="telemetry",
                title=f"Extract {n}",
                reference=f"ref-{n}",
                digest=f"sha256:{n}",
                precedence=n,
                valid_until=valid,
            ),
        )
    app.execute(pid, ben, DeclarePrerequisite(title="Severity closed", satisfied=True))
    app.execute(
        pid,
        ben,
        DeclarePrerequisite(
            title="Contacts current",
            satisfied=True,
            valid_until=clock.now + timedelta(days=2),
        ),
    )
    return Draft(app, pid)


def hold_codes(error: ReleaseHeldError) -> list[str]:
    return [h["code"] for h in error.details["hold_reasons"]]


def test_the_gate_reports_every_hold_reason_at_once_naming_each_subject(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    olga = d.olga
    release_app.edit_section(
        d.packet_id,
        olga,
        "sec-1",
        base_version=release_app.get_packet(d.packet_id).version,
        text="x",
    )
    release_app.execute(
        d.packet_id,
        d.ben,
        DeclarePrerequisite(title="Worksheet reconciled", satisfied=False),
    )
    release_app.execute(
        d.packet_id, d.rita, RaiseObjection(target={}, text="Cap unclear")
    )
    revision = d.cut()
    release_app.execute(
        d.packet_id,
        d.bot,
        RefreshSource(
            source_id="src-1", digest="sha256:1b", material=True, reason="fix"
        ),
    )
    rid = d.request(revision["number"])["release_id"]
    clock.advance(timedelta(days=3))
    release_app.change_lane_kinds(d.root, LANE, ["recovery-plan"])

    with pytest.raises(ReleaseHeldError) as held:
        d.approve(rid, passphrase="wrong", content_hash="sha256:not-shown")

    reasons = held.value.details["hold_reasons"]
    assert [h["code"] for h in reasons] == [
        "CONTENT_HASH_MISMATCH",
        "SIGNER_AUTHORED_REVISION",
        "REAUTHENTICATION_FAILED",
        "OBJECTION_OPEN",
        "SOURCE_DRIFTED_SINCE_CUT",
        "SOURCE_EXPIRED",
        "PREREQUISITE_LAPSED",
        "PREREQUISITE_UNMET",
        "LANE_REJECTS_KIND",
    ]
    named = {h["code"]: h for h in reasons}
    assert named["OBJECTION_OPEN"]["objection_id"] == "obj-1"
    assert named["SOURCE_DRIFTED_SINCE_CUT"]["source_id"] == "src-1"
    assert named["SOURCE_EXPIRED"]["source_id"] == "src-2"
    assert named["PREREQUISITE_LAPSED"]["prerequisite_id"] == "pre-2"
    assert named["PREREQUISITE_UNMET"]["prerequisite_id"] == "pre-3"
    assert all(h["detail"] for h in reasons)
    release = d.packet().release(rid)
    assert (release["status"], release["hold_reasons"]) == ("held", reasons)


def test_a_request_for_an_unknown_revision_and_lane_is_held_with_both_reasons(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    held = d.request(7, lane="no-such-lane")
    assert held["status"] == "held"
    assert [h["code"] for h in held["hold_reasons"]] == [
        "REVISION_UNKNOWN",
        "LANE_UNKNOWN",
    ]


def test_the_same_revision_cannot_be_released_twice_to_one_lane(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    first = d.release()
    again = d.request(1)
    assert [(h["code"], h["release_id"]) for h in again["hold_reasons"]] == [
        ("RELEASE_ALREADY_ACTIVE", first)
    ]


def test_a_non_material_refresh_neither_holds_nor_supersedes(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.release()
    packet = release_app.execute(
        d.packet_id,
        d.olga,  # only the release owner judges a changed digest non-material
        RefreshSource(
            source_id="src-1",
            digest="sha256:1-reformatted",
            material=False,
            reason="whitespace",
        ),
    ).packet
    assert packet.release(rid)["status"] == "released"


def test_a_new_revision_replaces_the_active_release_and_links_it(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    first = d.release()
    release_app.edit_section(
        d.packet_id,
        d.ben,
        "sec-1",
        base_version=release_app.get_packet(d.packet_id).version,
        text="375",
    )
    second = d.release()
    packet = d.packet()
    assert packet.release(first)["supersession"]["cause"] == "REPLACED_BY_NEW_RELEASE"
    assert packet.release(first)["successor_release_id"] == second
    assert packet.release(second)["predecessor_release_id"] == first
    assert [r["id"] for r in packet.active_releases()] == [second]


def test_five_failed_reauthentications_lock_signing_until_an_admin_unlocks_it(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.request(d.cut()["number"])["release_id"]
    for _ in range(5):
        with pytest.raises(ReleaseHeldError) as held:
            d.approve(rid, passphrase="guess")
        assert hold_codes(held.value) == ["REAUTHENTICATION_FAILED"]
    assert release_app.get_user("olga").failed_signings == 5
    with pytest.raises(ReleaseHeldError) as locked:
        d.approve(rid)  # the right passphrase, but signing is locked
    assert "locked" in locked.value.details["hold_reasons"][0]["detail"]
    with pytest.raises(NotAllowedError):
        release_app.unlock_signing(d.ben, "olga")
    release_app.unlock_signing(d.root, "olga")
    assert d.approve(rid)["status"] == "released"


def test_reopening_a_residual_objection_supersedes_the_release_in_the_same_save(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    residual = release_app.execute(
        d.packet_id,
        d.rita,
        RaiseObjection(target={}, text="Maintenance notice was short"),
    ).result
    other = release_app.execute(
        d.packet_id, d.rita, RaiseObjection(target={}, text="Typo in the heading")
    ).result
    release_app.execute(
        d.packet_id, d.rita, ResolveObjection(objection_id=other, resolution="fixed")
    )
    rid = d.request(d.cut()["number"])["release_id"]
    release_app.execute(
        d.packet_id,
        d.olga,
        AcceptResidual(
            release_id=rid, objection_id=residual, rationale="reviewers weigh it"
        ),
    )
    d.approve(rid)

    release_app.execute(
        d.packet_id, d.rita, ReopenObjection(objection_id=other, reason="not fixed")
    )
    assert d.packet().release(rid)["status"] == "released"
    assert [
        i["release_id"]
        for i in release_app.impact(d.packet_id, d.ben, objection_id=residual)
    ] == [rid]
    packet = release_app.execute(
        d.packet_id, d.rita, ReopenObjection(objection_id=residual, reason="worse")
    ).packet
    release = packet.release(rid)
    assert release["supersession"]["cause"] == "RESIDUAL_REOPENED"
    assert release["supersession"]["version"] == packet.version
    assert release["supersession"]["trigger"]["version"] == packet.version - 1


def test_the_impact_query_names_what_a_change_would_supersede_before_it_is_made(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.release()
    src = release_app.impact(d.packet_id, d.ben, source_id="src-1")
    pre = release_app.impact(d.packet_id, d.ben, prerequisite_id="pre-2")
    assert [(i["release_id"], i["cause"], i["lane_id"]) for i in src] == [
        (rid, "SOURCE_DRIFT", LANE)
    ]
    assert [(i["release_id"], i["cause"]) for i in pre] == [
        (rid, "PREREQUISITE_LAPSED")
    ]
    assert d.packet().release(rid)["status"] == "released"  # nothing changed
    release_app.execute(
        d.packet_id,
        d.ben,
        RefreshSource(
            source_id="src-1", digest="sha256:new", material=True, reason="fix"
        ),
    )
    assert d.packet().release(rid)["supersession"]["cause"] == "SOURCE_DRIFT"
    assert release_app.impact(d.packet_id, d.ben, source_id="src-1") == []


def test_a_lane_member_never_reads_a_lapsed_release_as_active(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.release()
    clock.advance(timedelta(days=1, seconds=1))  # src-2 expires; nobody swept
    seen = release_app.lane_release(d.lars, LANE, rid)
    assert seen["status"] == "superseded"
    assert seen["supersession"]["cause"] == "SOURCE_EXPIRED"
    assert seen["supersession"]["trigger"]["source_id"] == "src-2"


def test_a_lane_audience_change_supersedes_releases_of_every_packet_in_one_save(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    one = draft(release_app, clock, "First packet")
    two = draft(release_app, clock, "Second packet")
    first, second = one.release(), two.release()
    stored = release_app.recorder.max_notification_id() or 0

    change = release_app.change_lane_members(one.root, LANE, ["lars", "mia"])

    assert change.audience_version == 2
    assert sorted(s["packet_id"] for s in change.superseded) == sorted(
        [one.packet_id, two.packet_id]
    )
    for d, rid in ((one, first), (two, second)):
        supersession = d.packet().release(rid)["supersession"]
        assert supersession["cause"] == "LANE_AUDIENCE_CHANGED"
        assert supersession["trigger"]["audience_version"] == 2
    recorded = release_app.recorder.select_notifications(start=stored + 1, limit=10)
    assert sorted(n.topic for n in recorded) == [
        "quire.lane.MembersChanged",
        "quire.packet.ReleaseSuperseded",
        "quire.packet.ReleaseSuperseded",
    ]
    release_app.edit_section(
        one.packet_id,
        one.ben,
        "sec-1",
        base_version=release_app.get_packet(one.packet_id).version,
        text="y",
    )
    third = one.release()
    manifest = one.packet().release(third)["manifest"]
    assert manifest["lane"]["audience_version"] == 2
    assert one.packet().release(first)["successor_release_id"] == third


def test_lane_members_acknowledge_receipt_once_each(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.release()
    release_app.acknowledge_release(d.lars, LANE, rid)
    again = release_app.acknowledge_release(d.lars, LANE, f"{d.packet_id}:{rid}")
    assert [a["by"] for a in again["acknowledgements"]] == ["lars"]
    with pytest.raises(NotAllowedError):
        release_app.acknowledge_packet_release(d.ben, d.packet_id, rid)


@pytest.mark.parametrize(
    "action",
    [
        "approve_credit",
        "contact_customer",
        "change_billing",
        "adjudicate_entitlement",
        "assign_engineer",
    ],
)
def test_requests_outside_quires_scope_are_refused_and_recorded(
    release_app: ReleaseApp, clock: ManualClock, action: str
) -> None:
    d = draft(release_app, clock)
    with pytest.raises(OutOfScopeError) as refused:
        release_app.refuse_out_of_scope(d.packet_id, d.olga, action, "please")
    assert refused.value.code == "OUT_OF_SCOPE"
    assert [(r["request"], r["code"], r["by"]) for r in d.packet().refusals] == [
        (action, "OUT_OF_SCOPE", "olga")
    ]


def test_a_fresh_process_replays_releases_and_lanes_exactly(
    release_app: ReleaseApp, clock: ManualClock, settings: Settings
) -> None:
    if backend_of(settings.database_url) == "memory":
        pytest.skip("an in-memory store is not shared between processes")
    d = draft(release_app, clock)
    rid = d.release()
    release_app.execute(
        d.packet_id,
        d.ben,
        RefreshSource(
            source_id="src-1", digest="sha256:new", material=True, reason="fix"
        ),
    )
    fresh = ReleaseApp(settings=settings, clock=clock)
    try:
        assert fresh.get_packet(d.packet_id).state() == d.packet().state()
        lane = fresh.get_lane(LANE)
        assert [x["release_id"] for x in lane.deliveries] == [rid]
        assert fresh.lane_release(d.lars, LANE, rid)["status"] == "superseded"
    finally:
        fresh.close()


def test_release_and_lane_topics_are_stored_schema_and_never_renamed() -> None:
    from release.lanes import lane_event_classes
    from workspace.domain import all_event_classes

    packet_topics = {c.TOPIC for c in all_event_classes()}
    assert {
        "quire.packet.ReleaseRequested",
        "quire.packet.ReleaseHeld",
        "quire.packet.ReleaseCleared",
        "quire.packet.ResidualAccepted",
        "quire.packet.ReleaseApproved",
        "quire.packet.ReleaseSuperseded",
        "quire.packet.ReleaseSucceeded",
        "quire.packet.ReleaseAcknowledged",
    } <= packet_topics
    assert {c.TOPIC for c in lane_event_classes()} == {
        "quire.lane.Created",
        "quire.lane.MembersChanged",
        "quire.lane.KindsChanged",
        "quire.lane.ReleaseDelivered",
    }

"""Only the named release owner signs and accepts residuals; only lane members
read what was released to their lane. Everyone else is refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from release.application import ReleaseApp
from release.commands import AcceptResidual, ApproveRelease
from release.demo import (
    DIAGNOSTICS_LANE,
    GOVERNANCE_LANE,
    CreditStory,
    add_lanes,
    add_people,
)
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from workspace import accounts
from workspace.accounts import trail_aggregate_id
from workspace.config import Settings
from workspace.errors import NotAllowedError, QuireError

#: Who tries, and why they may not: every one of them is refused.
INTRUDERS = {
    "co-author": "sofia.ramirez",
    "reviewer": "hannah.kim",
    "agent": "timeline-reconciler",
    "auditor": "ada.auditor",
    "member of another lane": "kenji.sato",
    "outsider": "outsider",
}


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture
def story(settings: Settings) -> Iterator[CreditStory]:
    clock = ManualClock(datetime(2025, 4, 2, 8, 0, tzinfo=UTC))
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    add_people(app)
    add_lanes(app)
    app.add_user("outsider", "Someone Else", roles=[], passphrase="mine")
    told = CreditStory(app)
    told.open()
    released = told.request("marcus.lee", told.cut_v1()["number"], GOVERNANCE_LANE)
    told.accept_notice(released["release_id"])
    told.approve(released["release_id"])
    told.object("hannah.kim", "open_question", "dispute", "Is the cap monthly?")
    told.revise_to_v2()
    pending = told.request("marcus.lee", 2, GOVERNANCE_LANE)
    told.accept_notice(pending["release_id"])
    told.accept_residual(
        "dana.whitfield", pending["release_id"], "open_question", "visible caveat"
    )
    assert told.packet().release("rel-2")["status"] == "pending"
    yield told
    app.close()


@pytest.mark.parametrize("role", INTRUDERS)
def test_each_intruder_is_refused_signing_accepting_a_residual_and_reading_the_lane(
    story: CreditStory, role: str
) -> None:
    app, user_id = story.app, INTRUDERS[role]
    principal = story.who(user_id)

    revision = story.packet().revision(2)
    with pytest.raises((ReleaseHeldError, NotAllowedError)) as refused:
        approve = ApproveRelease(
            "rel-2",
            content_hash=revision["content_hash"],
            meaning="approve",
            passphrase="mine",
        )
        app.execute(story.packet_id, principal, approve)
    if isinstance(refused.value, ReleaseHeldError):  # members: the gate says why
        codes = {h["code"] for h in refused.value.details["hold_reasons"]}
        assert "SIGNER_NOT_RELEASE_OWNER" in codes
        assert ("SIGNER_IS_AGENT" in codes) == (role == "agent")
    assert story.packet().release("rel-2")["status"] != "released"
    assert app.get_user("dana.whitfield").failed_signings == 0

    other = story.request("marcus.lee", 2, DIAGNOSTICS_LANE)["release_id"]
    before = story.packet().version
    with pytest.raises(NotAllowedError):
        app.execute(
            story.packet_id,
            principal,
            AcceptResidual(
                release_id=other,
                objection_id=story.ids["open_question"],
                rationale="fine",
            ),
        )
    assert story.packet().version == before

    for read in (
        lambda: app.lane_release(principal, GOVERNANCE_LANE, "rel-1"),
        lambda: app.lane_inbox(principal, GOVERNANCE_LANE),
    ):
        with pytest.raises(NotAllowedError) as not_member:
            read()
        assert not_member.value.code == "LANE_MEMBERS_ONLY"
    trail = app.repository.get(
        trail_aggregate_id(user_id, app.clock().date().isoformat())
    )
    assert trail.entries == 2  # both refused reads are in the audit log

    assert story.approve("rel-2")["status"] == "released"


def test_a_lane_member_reads_the_release_and_the_read_is_recorded(
    story: CreditStory,
) -> None:
    app = story.app
    member = story.who("mei.chen")
    shown = app.lane_release(member, GOVERNANCE_LANE, "rel-1")
    assert shown["revision"] == 1
    trail = app.repository.get(
        trail_aggregate_id("mei.chen", app.clock().date().isoformat())
    )
    views = [e for e in app.events.get(trail.id) if type(e).__name__ == "Viewed"]
    assert [(v.what, v.detail["release_id"]) for v in views] == [
        ("lane_release", "rel-1")
    ]


def test_a_lane_member_never_sees_drafts_or_unreleased_requests(
    story: CreditStory,
) -> None:
    app = story.app
    member = story.who("oliver.grant")
    inbox = app.lane_inbox(member, GOVERNANCE_LANE)
    assert [i["release_id"] for i in inbox] == ["rel-1"]
    with pytest.raises(QuireError) as unreleased:
        app.lane_release(member, GOVERNANCE_LANE, "rel-2")
    assert unreleased.value.code == "RELEASE_NOT_FOUND"
    with pytest.raises(NotAllowedError):
        app.read_packet(member, story.packet_id)
    with pytest.raises(NotAllowedError):
        app.release_manifest(story.packet_id, member, "rel-2")
    shown = app.lane_release(member, GOVERNANCE_LANE, "rel-1")
    draft_text = story.packet().sections[story.ids["calculation"]]["text"]
    assert draft_text not in str(shown["content"])

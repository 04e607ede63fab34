"""Several named signers (issue 13 item 4) on memory, SQLite and PostgreSQL:
the order of signing, a wrong re-authentication, a source drifting after two
of three signatures (all void), the same person listed twice, an agent
listed (refused), separation of duties per signer, a non-signer refused
with nothing written, two signers at the same instant (threads), the
awaiting-my-signature read, and replay."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from release.application import ReleaseApp
from release.commands import (
    ApproveRelease,
    HoldRelease,
    LiftReleaseHold,
    RequestRelease,
)
from release.errors import ReleaseHeldError
from release.manifest import manifest_hash
from release.outbox import WebhookDelivery, delivery_id
from release.signatures import NameSigners, awaiting
from release.sweeper import ManualClock
from release.webhook_sender import backlog
from release.webhooks import register_webhook
from workspace import accounts
from workspace.accounts import Principal
from workspace.commands import AddSection, CiteSource, CutRevision, RefreshSource
from workspace.config import Settings, backend_of
from workspace.errors import NotAllowedError, StateError, UnprocessableError

KIND = "service-credit-clarification"
LANE = "governance-review"
PASSPHRASES = {"olga": "olga signs", "rita": "rita signs", "mia": "mia signs"}


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's settings, with a key so a lane webhook can be registered."""
    return settings.model_copy(update={"webhook_secret_key": "a key kept elsewhere"})


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def app(settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    for user_id, passphrase in PASSPHRASES.items():
        app.add_user(user_id, user_id.title(), roles=[], passphrase=passphrase)
    for user_id in ("ben", "lars", "zed"):
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


def who(app: ReleaseApp, user_id: str) -> Principal:
    return app.get_user(user_id).principal()


def open_packet(app: ReleaseApp) -> str:
    ben = who(app, "ben")
    packet = app.open_packet(
        ben,
        kind=KIND,
        title="Credit clarification",
        release_owner="olga",
        authors=["ben", "bot", "zed"],
        reviewers=["rita", "mia"],
    )
    pid = str(packet.id)
    app.execute(pid, ben, AddSection(heading="Calculation", text="412 outage minutes"))
    app.execute(
        pid,
        ben,
        CiteSource(
            kind="telemetry",
            title="Uptime extract",
            reference="ref-1",
            digest="sha256:1",
            precedence=1,
        ),
    )
    return pid


def name(app: ReleaseApp, pid: str, signers: list[str], by: str = "olga") -> Any:
    return app.execute(pid, who(app, by), NameSigners(signers)).result


def cut_and_request(app: ReleaseApp, pid: str) -> tuple[dict[str, Any], str]:
    ben = who(app, "ben")
    revision = app.execute(pid, ben, CutRevision()).result
    asked = app.execute(
        pid, ben, RequestRelease(revision=revision["number"], lane_id=LANE)
    )
    return revision, asked.result


def sign(
    app: ReleaseApp,
    pid: str,
    rid: str,
    signer: str,
    passphrase: str | None = None,
    meaning: str | None = None,
) -> dict[str, Any]:
    packet = app.get_packet(pid)
    revision = packet.revision(packet.release(rid)["revision"])
    approve = ApproveRelease(
        rid,
        content_hash=revision["content_hash"],
        meaning=meaning or f"{signer} approves for governance review intake",
        passphrase=PASSPHRASES.get(signer, "none")
        if passphrase is None
        else passphrase,
    )
    done = app.execute(pid, who(app, signer), approve)
    return app.release_view(done.packet, rid)


def missing(view: dict[str, Any]) -> list[str]:
    (hold,) = [h for h in view["hold_reasons"] if h["code"] == "SIGNATURE_MISSING"]
    assert hold["missing"] == view["signatures_missing"]
    return list(hold["missing"])


@pytest.mark.parametrize(
    "order", [["olga", "rita", "mia"], ["mia", "rita", "olga"], ["rita", "olga", "mia"]]
)
def test_every_named_signer_signs_the_same_manifest_in_any_order(
    app: ReleaseApp, order: list[str]
) -> None:
    pid = open_packet(app)
    assert name(app, pid, ["rita", "mia"]) == ["olga", "rita", "mia"]
    revision, rid = cut_and_request(app, pid)
    requested = app.release_view(app.get_packet(pid), rid)
    assert requested["status"] == "held"
    assert missing(requested) == ["olga", "rita", "mia"]

    first = sign(app, pid, rid, order[0])
    assert first["status"] == "held"
    assert missing(first) == [u for u in ["olga", "rita", "mia"] if u != order[0]]
    bound = first["signing_manifest_hash"]
    assert bound is not None
    second = sign(app, pid, rid, order[1])
    assert second["status"] == "held" and missing(second) == [order[2]]
    assert second["signing_manifest_hash"] == bound
    assert app.lane_inbox(who(app, "lars"), LANE) == []  # nothing delivered yet

    last = sign(app, pid, rid, order[2])
    assert last["status"] == "released"
    assert [s["signer"] for s in last["signatures"]] == order
    manifest = app.release_manifest(pid, who(app, "rita"), rid)
    body = dict(manifest["manifest"])
    signatures = body.pop("signatures")
    assert body.pop("signed_manifest_hash") == bound
    assert manifest_hash(body) == bound  # every signer signed this exact hash
    assert {s["manifest_hash"] for s in signatures} == {bound}
    assert [s["signer"] for s in signatures] == order
    assert body["signers_required"] == ["olga", "rita", "mia"]
    assert body["revision"]["content_hash"] == revision["content_hash"]
    assert manifest["manifest_hash"] == manifest_hash(manifest["manifest"])
    lane_view = app.lane_release(who(app, "lars"), LANE, rid)
    assert [(s["signer"], s["meaning"]) for s in lane_view["signatures"]] == [
        (u, f"{u} approves for governance review intake") for u in order
    ]
    (delivered,) = app.lane_inbox(who(app, "lars"), LANE)
    assert delivered["manifest_hash"] == manifest["manifest_hash"]


def test_the_lane_webhook_is_queued_once_at_the_last_signature_only(
    app: ReleaseApp,
) -> None:
    """The attack: a notice queued per signature (the lane told of a release
    that is still held), or none at all."""
    register_webhook(
        app,
        who(app, "root"),
        LANE,
        url="http://127.0.0.1:9/hook",
        secret="intake-routing-shared-secret",
    )
    pid = open_packet(app)
    name(app, pid, ["rita", "mia"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "mia")
    sign(app, pid, rid, "rita")
    assert backlog(app) == 0  # two of three: nothing delivered, nothing queued
    released = sign(app, pid, rid, "olga")
    assert released["status"] == "released"
    assert backlog(app) == 1
    queued = app.repository.get(delivery_id(LANE, pid, rid, "release"))
    assert isinstance(queued, WebhookDelivery)
    assert queued.body["manifest_hash"] == released["manifest_hash"]
    assert queued.body["release_id"] == rid


def test_without_named_signers_the_owner_alone_releases_as_before(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    _, rid = cut_and_request(app, pid)
    released = sign(app, pid, rid, "olga")
    assert released["status"] == "released"
    manifest = released_manifest(app, pid, rid)
    assert "signatures" not in manifest and manifest["signer"]["user_id"] == "olga"
    assert released["signatures"] == [
        {
            "signer": "olga",
            "name": "Olga",
            "meaning": "olga approves for governance review intake",
            "signed_at": manifest["signed_at"],
        }
    ]


def released_manifest(app: ReleaseApp, pid: str, rid: str) -> dict[str, Any]:
    return dict(app.get_packet(pid).release(rid)["manifest"])


def test_a_wrong_reauthentication_counts_against_that_signer_only(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    name(app, pid, ["rita", "mia"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "olga")
    with pytest.raises(ReleaseHeldError) as held:
        sign(app, pid, rid, "rita", passphrase="not rita's")
    codes = [h["code"] for h in held.value.details["hold_reasons"]]
    assert codes == ["REAUTHENTICATION_FAILED", "SIGNATURE_MISSING"]
    release = app.get_packet(pid).release(rid)
    assert [s["signer"] for s in release["signatures"]] == ["olga"]  # not voided
    assert app.get_user("rita").failed_signings == 1
    assert app.get_user("mia").failed_signings == 0
    for _ in range(4):
        with pytest.raises(ReleaseHeldError):
            sign(app, pid, rid, "rita", passphrase="still wrong")
    assert app.get_user("rita").signing_locked
    with pytest.raises(ReleaseHeldError) as locked:
        sign(app, pid, rid, "rita")  # the right passphrase, but locked
    assert "locked" in locked.value.details["hold_reasons"][0]["detail"]
    sign(app, pid, rid, "mia")  # mia is not affected
    assert app.get_packet(pid).release(rid)["status"] == "held"
    app.unlock_signing(who(app, "root"), "rita")
    assert sign(app, pid, rid, "rita")["status"] == "released"


def test_a_source_drifting_after_two_of_three_signatures_voids_them_all(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    name(app, pid, ["rita", "mia"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "rita")
    first_bound = sign(app, pid, rid, "olga")["signing_manifest_hash"]

    drift(app, pid)
    release = app.get_packet(pid).release(rid)
    assert release["signatures"] == [] and release["signing_manifest"] is None
    (voided,) = release["voided_signatures"]
    assert voided["cause"] in ("SOURCE_DRIFTED_SINCE_CUT", "REVISION_STALE")
    assert [s["signer"] for s in voided["signatures"]] == ["rita", "olga"]
    assert voided["manifest_hash"] == first_bound
    with pytest.raises(ReleaseHeldError) as held:
        sign(app, pid, rid, "mia")  # the last signature cannot release it now
    assert "SIGNATURE_MISSING" in [
        h["code"] for h in held.value.details["hold_reasons"]
    ]
    assert app.get_packet(pid).release(rid)["status"] == "held"

    # signing starts again on a fresh manifest for a fresh revision
    _, rid2 = cut_and_request(app, pid)
    for signer in ("mia", "rita"):
        sign(app, pid, rid2, signer)
    released = sign(app, pid, rid2, "olga")
    assert released["status"] == "released"
    assert released_manifest(app, pid, rid2)["signed_manifest_hash"] != first_bound


def drift(app: ReleaseApp, pid: str) -> None:
    refresh = RefreshSource("src-1", digest="sha256:2", material=True, reason="fix")
    app.execute(pid, who(app, "ben"), refresh)


def test_an_owner_hold_and_a_signer_change_void_the_signatures(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    name(app, pid, ["rita", "mia"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "mia")
    app.execute(pid, who(app, "olga"), HoldRelease(rid, "checking the cap"))
    release = app.get_packet(pid).release(rid)
    assert release["signatures"] == []
    assert release["voided_signatures"][-1]["cause"] == "HELD_BY_RELEASE_OWNER"

    app.execute(pid, who(app, "olga"), LiftReleaseHold(rid))
    sign(app, pid, rid, "mia")
    name(app, pid, ["rita", "mia", "zed"])
    release = app.get_packet(pid).release(rid)
    assert release["signatures"] == []
    assert release["voided_signatures"][-1]["cause"] == "SIGNERS_CHANGED"
    assert missing(app.release_view(app.get_packet(pid), rid)) == [
        "olga",
        "rita",
        "mia",
        "zed",
    ]


def test_naming_the_same_person_twice_or_an_agent_is_refused_with_nothing_written(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    version = app.get_packet(pid).version
    refusals = [
        (["rita", "rita"], "SIGNER_DUPLICATE"),
        (["rita", "bot"], "SIGNER_IS_AGENT"),
        (["nobody"], "SIGNER_UNKNOWN"),
        (["lars"], "SIGNER_NOT_MEMBER"),
    ]
    for signers, code in refusals:
        with pytest.raises(UnprocessableError) as refused:
            name(app, pid, signers)
        assert refused.value.code == code
    with pytest.raises(NotAllowedError):
        name(app, pid, ["rita"], by="ben")  # only the release owner names
    assert app.get_packet(pid).version == version
    # the owner listed once is not a duplicate: the owner always signs
    assert name(app, pid, ["olga", "rita"]) == ["olga", "rita"]


def test_an_agent_or_a_non_signer_calling_approve_is_refused_and_changes_nothing(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    name(app, pid, ["rita"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "rita")
    version = app.get_packet(pid).version
    for outsider in ("zed", "bot", "ben"):
        with pytest.raises(NotAllowedError) as refused:
            sign(app, pid, rid, outsider)
        assert refused.value.code == "ROLE_NOT_ALLOWED"
    assert refused.value.details["reason"] == "SIGNER_NOT_RELEASE_OWNER"
    with pytest.raises(NotAllowedError) as agent:
        sign(app, pid, rid, "bot")
    assert agent.value.details["reason"] == "SIGNER_IS_AGENT"
    assert app.get_packet(pid).version == version
    with pytest.raises(StateError) as twice:
        sign(app, pid, rid, "rita")
    assert twice.value.code == "SIGNATURE_ALREADY_RECORDED"
    assert app.get_packet(pid).version == version


def test_separation_of_duties_applies_to_each_signer(app: ReleaseApp) -> None:
    pid = open_packet(app)
    app.execute(pid, who(app, "zed"), AddSection(heading="Caps", text="cap at 10%"))
    name(app, pid, ["rita", "zed"])
    _, rid = cut_and_request(app, pid)
    with pytest.raises(ReleaseHeldError) as held:
        sign(app, pid, rid, "rita")
    authored = [
        h
        for h in held.value.details["hold_reasons"]
        if h["code"] == "SIGNER_AUTHORED_REVISION"
    ]
    assert [h["signer"] for h in authored] == ["zed"]
    assert app.get_packet(pid).release(rid).get("signatures", []) == []


def test_awaiting_my_signature_lists_open_releases_i_have_not_signed(
    app: ReleaseApp,
) -> None:
    pid = open_packet(app)
    name(app, pid, ["rita", "mia"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "rita")

    def queue(user_id: str) -> list[tuple[str, str]]:
        items = awaiting([app.get_packet(pid)], who(app, user_id))
        return [(i["packet_id"], i["release_id"]) for i in items]

    assert queue("mia") == [(pid, rid)] and queue("olga") == [(pid, rid)]
    assert queue("rita") == [] and queue("zed") == [] and queue("bot") == []
    sign(app, pid, rid, "mia")
    sign(app, pid, rid, "olga")
    assert queue("mia") == [] and queue("olga") == []


def test_two_signers_at_the_same_instant_are_recorded_once_and_released_once(
    app: ReleaseApp, backend: str
) -> None:
    if backend_of(app.settings.database_url) == "memory":
        pytest.skip("an in-memory store is not shared between applications")
    second = ReleaseApp({}, settings=app.settings, clock=app.clock)
    try:
        pid = open_packet(app)
        name(app, pid, ["rita", "mia"])
        _, rid = cut_and_request(app, pid)
        sign(app, pid, rid, "olga")
        barrier = threading.Barrier(2)
        errors: list[BaseException] = []

        def run(application: ReleaseApp, signer: str) -> None:
            barrier.wait()
            try:
                sign(application, pid, rid, signer)
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [
            threading.Thread(target=run, args=(app, "rita")),
            threading.Thread(target=run, args=(second, "mia")),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        packet = app.get_packet(pid)
        release = packet.release(rid)
        assert release["status"] == "released"
        signed = [s["signer"] for s in release["manifest"]["signatures"]]
        assert sorted(signed) == ["mia", "olga", "rita"]
        events = list(app.events.get(packet.id))
        kinds = [type(e).__name__ for e in events]
        assert kinds.count("ReleaseSigned") == 3
        assert kinds.count("ReleaseApproved") == 1
        (delivered,) = app.lane_inbox(who(app, "lars"), LANE)
        assert delivered["release_id"] == rid
    finally:
        second.close()


def test_signatures_replay_to_the_same_state(app: ReleaseApp) -> None:
    pid = open_packet(app)
    name(app, pid, ["rita", "mia"])
    _, rid = cut_and_request(app, pid)
    sign(app, pid, rid, "rita")
    drift(app, pid)
    live = app.get_packet(pid)
    rebuilt: Any = None
    for event in app.events.get(live.id):  # every stored event, no snapshot
        rebuilt = event.mutate(rebuilt)
    assert rebuilt.state() == live.state()
    assert (
        rebuilt.releases[rid]["voided_signatures"][0]["signatures"][0]["signer"]
        == "rita"
    )


def test_the_seed_004_demo_is_released_after_every_tier_approver_signs(
    settings: Settings, clock: ManualClock, backend: str
) -> None:
    if backend != "memory":
        pytest.skip("the story's storage is covered by test_recovery_plans.py")
    from release.demo import add_lanes, add_people
    from release.demo_recovery import tell_recovery_story

    story_app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    try:
        add_people(story_app)
        add_lanes(story_app)
        released = tell_recovery_story(story_app)["released"]
        assert released["status"] == "released"
        assert [s["signer"] for s in released["signatures"]] == [
            "support.director",
            "support.manager",
            "vp.support",
        ]
        manifest = story_app.get_packet(released["packet_id"]).release(
            released["release_id"]
        )["manifest"]
        assert manifest["signers_required"] == manifest["plan"]["remediation_approvers"]
    finally:
        story_app.close()

"""Wave 2 guards of the release gate (issue 9, "Trust first"), each written as
the attack it stops, on every backend."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.application import ReleaseApp
from release.commands import AcceptResidual, ApproveRelease, CancelRelease
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from tests.integration.test_release_gate import (
    LANE,
    PASSPHRASE,
    Draft,
    cheap_passphrases,
    clock,
    draft,
    hold_codes,
    release_app,
    who,
)
from workspace.commands import (
    ChangeMembers,
    CiteSource,
    DeclarePrerequisite,
    RaiseObjection,
    RefreshSource,
    ResolveObjection,
    SatisfyPrerequisite,
    WithdrawObjection,
)
from workspace.errors import InvalidInputError, NotAllowedError, StateError

__all__ = ["cheap_passphrases", "clock", "release_app"]  # fixtures used here


def approve(d: Draft, rid: str, **extra: Any) -> dict[str, Any]:
    packet = d.packet()
    revision = packet.revision(packet.release(rid)["revision"])
    approve = ApproveRelease(
        rid,
        content_hash=revision["content_hash"],
        meaning="approved",
        passphrase=PASSPHRASE,
        **extra,
    )
    return d.app.release_view(d.app.execute(d.packet_id, d.olga, approve).packet, rid)


def test_objection_work_by_the_owner_does_not_make_her_an_author(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    first = d.release()
    raised = release_app.execute(
        d.packet_id, d.olga, RaiseObjection(target={}, text="Cap?")
    )
    release_app.execute(
        d.packet_id,
        d.olga,
        ResolveObjection(objection_id=raised.result, resolution="monthly"),
    )
    other = release_app.execute(
        d.packet_id, d.olga, RaiseObjection(target={}, text="x")
    ).result
    release_app.execute(d.packet_id, d.olga, WithdrawObjection(other))
    revision = d.cut()  # by ben; the same content as revision 1
    assert revision["content_hash"] == d.packet().revision(1)["content_hash"]
    assert revision["contributors"] == []
    assert "olga" not in revision["authors"]
    rid = d.request(revision["number"])["release_id"]
    assert approve(d, rid)["status"] == "released"
    assert d.packet().release(first)["status"] == "superseded"


def test_a_prerequisite_satisfied_after_the_cut_holds_the_revision_stale(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    pid = release_app.execute(
        d.packet_id,
        d.ben,
        DeclarePrerequisite(title="Register current", satisfied=False),
    ).result
    revision = d.cut()  # its content says: unmet
    release_app.execute(
        d.packet_id, d.ben, SatisfyPrerequisite(prerequisite_id=pid, evidence="checked")
    )
    rid = d.request(revision["number"])["release_id"]
    with pytest.raises(ReleaseHeldError) as held:
        approve(d, rid)
    assert hold_codes(held.value) == ["REVISION_STALE"]
    [stale] = held.value.details["hold_reasons"]
    assert (
        stale["prerequisite_id"] == pid
        and "'unmet' -> 'satisfied'" in (stale["detail"])
    )
    fresh = d.request(d.cut()["number"])["release_id"]
    manifest = approve(d, fresh)
    bound = d.packet().release(manifest["release_id"])["manifest"]
    assert {p["prerequisite_id"]: p["state"] for p in bound["prerequisites"]}[
        pid
    ] == "satisfied"
    assert bound["gate_policy_version"] == "quire.gate/2"


def test_a_source_cited_after_the_cut_holds_the_revision_stale(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    revision = d.cut()
    sid = release_app.execute(
        d.packet_id,
        d.ben,
        CiteSource(
            kind="crm", title="Note", reference="n", digest="sha256:n", precedence=9
        ),
    ).result
    held = d.request(revision["number"])
    assert [(h["code"], h.get("source_id")) for h in held["hold_reasons"]] == [
        ("REVISION_STALE", sid)
    ]


ops = st.lists(
    st.one_of(
        st.tuples(st.just("declare"), st.booleans()),
        st.tuples(st.just("satisfy"), st.integers(0, 5)),
        st.tuples(st.just("refresh"), st.integers(1, 2), st.booleans()),
        st.tuples(st.just("release"), st.booleans()),
    ),
    min_size=2,
    max_size=10,
)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=ops)
def test_every_released_manifest_states_exactly_the_content_it_binds(
    release_app: ReleaseApp, clock: ManualClock, steps: list[tuple[Any, ...]]
) -> None:
    d = draft(release_app, clock, title="Property packet")
    app, pid = release_app, d.packet_id
    refreshes = 0
    for step in steps:
        packet = d.packet()
        if step[0] == "declare":
            app.execute(pid, d.ben, DeclarePrerequisite(title="p", satisfied=step[1]))
        elif step[0] == "satisfy" and packet.prerequisites:
            ids = sorted(packet.prerequisites)
            app.execute(
                pid,
                d.ben,
                SatisfyPrerequisite(
                    prerequisite_id=ids[step[1] % len(ids)], evidence="e"
                ),
            )
        elif step[0] == "refresh":
            refreshes += 1
            app.execute(
                pid,
                d.ben if step[2] else d.olga,
                RefreshSource(
                    source_id=f"src-{step[1]}",
                    digest=f"sha256:{step[1]}-{refreshes}",
                    material=step[2],
                    reason="judged",
                ),
            )
        elif step[0] == "release":
            number = d.cut()["number"] if step[1] or not packet.revisions else 1
            rid = d.request(number)["release_id"]
            with contextlib.suppress(ReleaseHeldError):
                approve(d, rid, rollback=True)
    packet = d.packet()
    for release in packet.releases.values():
        if release["manifest"] is None:
            continue
        _, content = app.revision_content(packet, release["revision"])
        manifest = release["manifest"]
        assert manifest["prerequisites"] == [
            {
                "prerequisite_id": p["id"],
                "title": p["title"],
                "state": p["state"],
                "valid_until": p["valid_until"],
            }
            for p in content["prerequisites"]
        ]
        assert {
            (s["source_id"], s["digest"], s["valid_until"]) for s in manifest["sources"]
        } == {(s["id"], s["digest"], s["valid_until"]) for s in content["sources"]}


def test_only_the_release_owner_judges_a_changed_digest_non_material(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.release()
    for user in ("bot", "ben"):
        with pytest.raises(NotAllowedError) as refused:
            release_app.execute(
                d.packet_id,
                who(release_app, user),
                RefreshSource(
                    source_id="src-1",
                    digest="sha256:1-new",
                    material=False,
                    reason="cosmetic",
                ),
            )
        assert refused.value.code == "MATERIALITY_NOT_ALLOWED"
    assert d.packet().release(rid)["status"] == "released"
    # Without `material`, a changed digest is drift.
    packet = release_app.execute(
        d.packet_id,
        d.bot,
        RefreshSource(
            source_id="src-1", digest="sha256:1-new", material=None, reason="x"
        ),
    ).packet
    assert packet.release(rid)["supersession"]["cause"] == "SOURCE_DRIFT"


def test_a_non_material_judgement_is_bound_into_the_manifest_and_shown_to_the_lane(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    with pytest.raises(InvalidInputError):
        release_app.execute(
            d.packet_id,
            d.olga,
            RefreshSource(
                source_id="src-1", digest="sha256:r", material=False, reason=None
            ),
        )
    revision = d.cut()
    release_app.execute(
        d.packet_id,
        d.olga,
        RefreshSource(
            source_id="src-1",
            digest="sha256:1-reformatted",
            material=False,
            reason="whitespace only",
        ),
    )
    rid = d.request(revision["number"])["release_id"]
    approve(d, rid)
    manifest = d.packet().release(rid)["manifest"]
    assert manifest["sources"][0]["digest"] == "sha256:1"  # the content's
    [judged] = manifest["non_material_refreshes"]
    assert (judged["source_id"], judged["reason"], judged["judged_by"]) == (
        "src-1",
        "whitespace only",
        "olga",
    )
    release_app.execute(
        d.packet_id,
        d.olga,
        RefreshSource(
            source_id="src-1",
            digest="sha256:1-again",
            material=False,
            reason="header date",
        ),
    )
    shown = release_app.lane_release(who(release_app, "lars"), LANE, rid)
    assert shown["status"] == "released"
    assert [j["reason"] for j in shown["non_material_refreshes"]] == [
        "whitespace only",
        "header date",
    ]


def test_an_older_revision_replaces_a_newer_release_only_as_a_rollback(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    r1 = d.cut()["number"]
    release_app.edit_section(
        d.packet_id,
        d.ben,
        "sec-1",
        base_version=release_app.get_packet(d.packet_id).version,
        text="375",
    )
    newer = d.release()
    older = d.request(r1)
    assert [h["code"] for h in older["hold_reasons"]] == [
        "REVISION_OLDER_THAN_RELEASED"
    ]
    with pytest.raises(ReleaseHeldError) as held:
        approve(d, older["release_id"])
    assert hold_codes(held.value) == ["REVISION_OLDER_THAN_RELEASED"]
    assert d.packet().release(newer)["status"] == "released"
    approve(d, older["release_id"], rollback=True, scope={"sections": ["sec-1"]})
    manifest = d.packet().release(older["release_id"])["manifest"]
    assert manifest["rollback"] is True
    assert manifest["scope"]["declared"] == {"sections": ["sec-1"]}
    assert d.packet().release(newer)["status"] == "superseded"


def test_changing_the_release_owner_supersedes_and_re_holds_in_one_save(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    released = d.release()
    release_app.execute(d.packet_id, d.rita, RaiseObjection(target={}, text="Cap?"))
    release_app.edit_section(
        d.packet_id,
        d.ben,
        "sec-1",
        base_version=release_app.get_packet(d.packet_id).version,
        text="9",
    )
    pending = d.request(d.cut()["number"])["release_id"]
    release_app.execute(
        d.packet_id,
        d.olga,
        AcceptResidual(release_id=pending, objection_id="obj-1", rationale="caveat"),
    )
    assert d.packet().release(pending)["status"] == "pending"
    before = d.packet().version
    release_app.execute(
        d.packet_id,
        who(release_app, "root"),
        ChangeMembers(release_owner="mia", authors=["ben", "bot"], reviewers=["rita"]),
    )
    packet = d.packet()
    assert packet.version == before + 3  # one save: change, supersession, hold
    assert packet.release(released)["supersession"]["cause"] == (
        "RELEASE_OWNER_CHANGED"
    )
    assert packet.release(pending)["status"] == "held"
    assert (
        "no longer the release owner"
        in (packet.release(pending)["hold_reasons"][0]["detail"])
    )
    # The new owner accepts the residual herself, then may sign.
    release_app.execute(
        d.packet_id,
        who(release_app, "mia"),
        AcceptResidual(release_id=pending, objection_id="obj-1", rationale="ok"),
    )
    assert d.packet().release(pending)["status"] == "pending"


def test_a_residual_is_accepted_per_release(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    oid = release_app.execute(
        d.packet_id, d.rita, RaiseObjection(target={}, text="Cap?")
    ).result
    first = d.request(d.cut()["number"])["release_id"]
    release_app.execute(
        d.packet_id,
        d.olga,
        AcceptResidual(release_id=first, objection_id=oid, rationale="caveat one"),
    )
    approve(d, first)
    release_app.edit_section(
        d.packet_id,
        d.ben,
        "sec-1",
        base_version=release_app.get_packet(d.packet_id).version,
        text="9",
    )
    second = d.request(d.cut()["number"])["release_id"]
    assert [h["code"] for h in d.packet().release(second)["hold_reasons"]] == [
        "OBJECTION_OPEN"
    ]
    release_app.execute(
        d.packet_id,
        d.olga,
        AcceptResidual(release_id=second, objection_id=oid, rationale="caveat two"),
    )
    assert approve(d, second)["status"] == "released"
    assert d.packet().release(first)["status"] == "superseded"


def test_a_refused_approval_by_a_non_owner_changes_nothing(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.request(d.cut()["number"])["release_id"]
    before = d.packet().version
    for user in ("ben", "rita", "bot"):
        with pytest.raises(NotAllowedError):
            d.approve(rid, signer=user)
    assert d.packet().version == before
    assert d.packet().release(rid)["status"] == "pending"


def test_a_material_refresh_re_gates_open_releases_in_the_same_save(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.request(d.cut()["number"])["release_id"]
    assert d.packet().release(rid)["status"] == "pending"
    packet = release_app.execute(
        d.packet_id,
        d.bot,
        RefreshSource(
            source_id="src-1", digest="sha256:new", material=True, reason="fix"
        ),
    ).packet
    release = packet.release(rid)
    assert (release["status"], [h["code"] for h in release["hold_reasons"]]) == (
        "held",
        ["SOURCE_DRIFTED_SINCE_CUT"],
    )
    # An edit changes no reason: no gate event is recorded for it.
    version = release_app.edit_section(
        d.packet_id, d.ben, "sec-1", base_version=packet.version, text="y"
    ).version
    assert version == packet.version + 1


def test_a_cancelled_request_is_withdrawn_for_good(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(release_app, clock)
    rid = d.request(d.cut()["number"], lane="typo-lane")["release_id"]
    with pytest.raises(NotAllowedError):
        release_app.execute(
            d.packet_id, d.rita, CancelRelease(release_id=rid, reason="not mine")
        )
    done = release_app.execute(
        d.packet_id, d.ben, CancelRelease(release_id=rid, reason="lane id typo")
    )
    view = release_app.release_view(done.packet, done.result)
    assert view["status"] == "cancelled"
    assert view["cancellation"]["reason"] == "lane id typo"
    with pytest.raises(StateError) as again:
        d.approve(rid)
    assert again.value.code == "RELEASE_NOT_OPEN"

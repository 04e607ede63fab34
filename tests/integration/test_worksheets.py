"""Worksheets as packet content (issue 11, parts 3-4), the whole story on
every backend: two interpretations, a revision released, a telemetry refresh
with corrected facts superseding it in the same save and recomputing both,
a refresh without facts holding WORKSHEET_SOURCE_STALE until the facts are
updated, and a replay giving the same state and hashes."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from release.application import ReleaseApp
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from tests.integration.test_release_gate import (
    Draft,
    cheap_passphrases,
    clock,
    draft,
    hold_codes,
    release_app,
)
from tests.unit import worksheet_cases as case
from workspace.commands import (
    AddInterpretation,
    CiteSource,
    CreateWorksheet,
    RaiseObjection,
    RefreshSource,
    ResolveObjection,
    SetWorksheetFacts,
)
from workspace.config import Settings, backend_of
from workspace.content.worksheets import view
from workspace.domain import worksheets as ws
from workspace.errors import NotAllowedError, QuireError
from workspace.hashing import content_hash

__all__ = ["cheap_passphrases", "clock", "release_app"]  # fixtures used here


def worksheet_draft(app: ReleaseApp, clock: ManualClock) -> tuple[Draft, str]:
    """The gate tests' draft (src-1 a telemetry extract) plus a maintenance
    calendar (src-3) and a worksheet citing both, with two interpretations;
    the second argued by Rita's objection, which she then resolves."""
    d = draft(app, clock)
    app.execute(
        d.packet_id,
        d.ben,
        CiteSource(
            kind="maintenance-calendar",
            title="Maintenance calendar, April",
            reference="cal",
            digest="sha256:cal-1",
            precedence=2,
        ),
    )
    wid = app.execute(
        d.packet_id,
        d.ben,
        CreateWorksheet(
            title="April credit",
            facts=case.facts(),
            cites={"outages": "src-1", "maintenance": "src-3"},
        ),
    ).result
    oid = app.execute(
        d.packet_id,
        d.rita,
        RaiseObjection(target={}, text="The maintenance had 36 hours' notice."),
    ).result
    app.execute(
        d.packet_id,
        d.ben,
        AddInterpretation(wid, "maintenance excluded", case.excluded()),
    )
    app.execute(
        d.packet_id,
        d.ben,
        AddInterpretation(wid, "maintenance counted", case.counted(), objection_id=oid),
    )
    app.execute(d.packet_id, d.rita, ResolveObjection(oid, "kept as a second reading"))
    return d, wid


def figures(packet: Any, wid: str) -> list[tuple[str, Any, Decimal, Decimal]]:
    return [
        (
            i["name"],
            i["result"]["eligible_downtime_minutes"],
            i["result"]["credit_pct"],
            i["result"]["credit_amount"],
        )
        for i in view(packet, ws.worksheet(packet, wid))["interpretations"]
    ]


def test_a_telemetry_correction_supersedes_the_release_and_recomputes_every_reading(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d, wid = worksheet_draft(release_app, clock)
    assert figures(d.packet(), wid) == [
        ("maintenance excluded", 292, Decimal("10.000000"), Decimal("1000.00")),
        ("maintenance counted", 412, Decimal("25.000000"), Decimal("2500.00")),
    ]
    rid = d.release()
    manifest = d.packet().release(rid)["manifest"]
    [bound] = manifest["worksheets"]
    assert bound["facts_hash"] == content_hash(ws.worksheet(d.packet(), wid)["facts"])
    assert bound["cited_digests"] == {
        "maintenance": {"source_id": "src-3", "digest": "sha256:cal-1"},
        "outages": {"source_id": "src-1", "digest": "sha256:1"},
    }
    assert [
        (i["name"], i["result"]["credit_amount"]) for i in bound["interpretations"]
    ] == [
        ("maintenance excluded", "1000.00"),
        ("maintenance counted", "2500.00"),
    ]
    before = d.packet().version

    done = release_app.execute(
        d.packet_id,
        d.ben,
        RefreshSource(
            "src-1",
            "sha256:telemetry-b",
            reason="37 outage minutes were double counted",
            worksheet_facts={wid: case.facts(case.CORRECTED_END)},
        ),
    )

    packet = done.packet
    assert packet.version == before + 3  # refresh, facts, supersession: one save
    assert packet.release(rid)["status"] == "superseded"
    assert packet.release(rid)["supersession"]["cause"] == "SOURCE_DRIFT"
    assert figures(packet, wid) == [
        ("maintenance excluded", 255, Decimal("10.000000"), Decimal("1000.00")),
        ("maintenance counted", 375, Decimal("10.000000"), Decimal("1000.00")),
    ]
    assert (
        ws.worksheet(packet, wid)["cites"]["outages"]["digest"] == "sha256:telemetry-b"
    )
    # the corrected revision releases again, with no stale worksheet
    second = d.release()
    [rebound] = d.packet().release(second)["manifest"]["worksheets"]
    assert rebound["facts_hash"] != bound["facts_hash"]


def test_a_refresh_without_facts_holds_the_worksheet_stale_until_they_are_updated(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d, wid = worksheet_draft(release_app, clock)
    revision = d.cut()
    release_app.execute(
        d.packet_id,
        d.ben,
        RefreshSource("src-3", digest="sha256:cal-2", material=True, reason="x"),
    )
    rid = d.request(revision["number"])["release_id"]
    held = d.packet().release(rid)["hold_reasons"]
    assert [h["code"] for h in held] == [
        "SOURCE_DRIFTED_SINCE_CUT",
        "WORKSHEET_SOURCE_STALE",
    ]
    assert (held[1]["worksheet_id"], held[1]["source_id"]) == (wid, "src-3")

    release_app.execute(d.packet_id, d.ben, SetWorksheetFacts(wid, case.facts()))

    # the open release is re-gated in the same save: the worksheet is current,
    # and revision 1 no longer says what the packet's worksheet says
    held = d.packet().release(rid)["hold_reasons"]
    assert [h["code"] for h in held] == ["SOURCE_DRIFTED_SINCE_CUT", "REVISION_STALE"]
    assert held[1]["worksheet_id"] == wid
    with pytest.raises(ReleaseHeldError) as refused:
        d.approve(rid)
    assert "WORKSHEET_SOURCE_STALE" not in hold_codes(refused.value)
    fresh = d.request(d.cut()["number"])["release_id"]
    d.approve(fresh)
    assert d.packet().release(fresh)["status"] == "released"


def test_agents_and_reviewers_may_not_set_facts_and_bad_facts_write_nothing(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d, wid = worksheet_draft(release_app, clock)
    version = d.packet().version
    attempts: list[tuple[Any, Any, str]] = [
        (d.bot, SetWorksheetFacts(wid, case.facts()), "AGENT_NOT_ALLOWED"),
        (
            d.bot,
            RefreshSource("src-1", "sha256:b", worksheet_facts={wid: case.facts()}),
            "AGENT_NOT_ALLOWED",
        ),
        (d.rita, SetWorksheetFacts(wid, case.facts()), "ROLE_NOT_ALLOWED"),
        (
            d.ben,
            SetWorksheetFacts(wid, {**case.facts(), "fee_amount": 1.5}),
            "FIELD_INVALID",
        ),
        (d.ben, SetWorksheetFacts(wid, {"period": "2024-13"}), "FIELD_REQUIRED"),
        (
            d.ben,
            SetWorksheetFacts(wid, {**case.facts(), "period": "2024-13"}),
            "PERIOD_INVALID",
        ),
        (
            d.ben,
            RefreshSource("src-1", "sha256:b", worksheet_facts={wid: {"x": 1}}),
            "UNKNOWN_FIELD",
        ),
        (
            d.ben,
            RefreshSource("src-2", "sha256:b", worksheet_facts={wid: case.facts()}),
            "WORKSHEET_DOES_NOT_CITE_SOURCE",
        ),
        (
            d.ben,
            AddInterpretation(wid, "maintenance counted", case.counted()),
            "INTERPRETATION_NAME_TAKEN",
        ),
        (
            d.ben,
            AddInterpretation(wid, "x", {**case.counted(), "multiplier": 10}),
            "RULES_CONFLICT",
        ),
        (
            d.ben,
            AddInterpretation(wid, "y", case.counted(), objection_id="obj-9"),
            "OBJECTION_NOT_FOUND",
        ),
        (
            d.ben,
            CreateWorksheet("t", case.facts(), {"outages": "src-9"}),
            "SOURCE_NOT_FOUND",
        ),
        (
            d.ben,
            CreateWorksheet("t", case.facts(), {"uptime": "src-1"}),
            "CITES_INVALID",
        ),
    ]
    for principal, command, code in attempts:
        with pytest.raises(QuireError) as refused:
            release_app.execute(d.packet_id, principal, command)
        assert refused.value.code == code, command
    assert d.packet().version == version
    with pytest.raises(NotAllowedError):
        release_app.execute(d.packet_id, d.bot, SetWorksheetFacts(wid, case.facts()))


def test_at_most_twenty_interpretations(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    d, wid = worksheet_draft(release_app, clock)
    for n in range(18):
        release_app.execute(
            d.packet_id, d.ben, AddInterpretation(wid, f"reading {n}", case.counted())
        )
    with pytest.raises(QuireError) as refused:
        release_app.execute(
            d.packet_id, d.ben, AddInterpretation(wid, "one more", case.counted())
        )
    assert refused.value.code == "TOO_MANY_INTERPRETATIONS"


def test_a_replay_gives_the_same_worksheets_state_and_hashes(
    release_app: ReleaseApp, clock: ManualClock, settings: Settings
) -> None:
    if backend_of(settings.database_url) == "memory":
        pytest.skip("an in-memory store is not shared between processes")
    d, wid = worksheet_draft(release_app, clock)
    d.release()
    release_app.execute(
        d.packet_id,
        d.ben,
        RefreshSource(
            "src-1", "sha256:b", worksheet_facts={wid: case.facts(case.CORRECTED_END)}
        ),
    )
    d.cut()
    fresh = ReleaseApp(settings=settings, clock=clock)
    try:
        replayed = fresh.get_packet(d.packet_id)
        assert replayed.state() == d.packet().state()
        for record in replayed.revisions:
            _, content = fresh.revision_content(replayed, record["number"])
            assert content_hash(content) == record["content_hash"]
        assert "worksheets" in content
        assert replayed.content() == d.packet().content()
        assert figures(replayed, wid) == figures(d.packet(), wid)
    finally:
        fresh.close()

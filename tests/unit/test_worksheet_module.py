"""The worksheets content module without I/O: its part of the content (and
nothing for packets without worksheets), WORKSHEET_SOURCE_STALE, the
per-worksheet REVISION_STALE, the differences between interpretations, and
the manifest's bound results."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tests.unit import worksheet_cases as case
from tests.unit.test_content_hash import META, packet_with_one_of_everything
from workspace.content.worksheets import WORKSHEETS, result_of, view
from workspace.credit import CalculationInputError
from workspace.domain import Packet
from workspace.domain import worksheets as ws
from workspace.hashing import content_hash

NOW = datetime(2025, 6, 11, tzinfo=UTC)
RECORD = {"number": 1, "version": 1}


def with_worksheet() -> tuple[Packet, str]:
    packet = packet_with_one_of_everything()  # src-1, digest sha256:aa
    wid = ws.create_worksheet(
        packet,
        META,
        title="April credit",
        facts=case.facts(),
        cites={"outages": "src-1"},
        max_windows=50_000,
    )
    for name, rules in (
        ("any overlap", case.excluded()),
        ("full 5-minute buckets", case.full_bucket()),
        ("maintenance counted", case.counted()),
    ):
        ws.add_interpretation(
            packet, META, wid, name=name, rules=rules, objection_id=None
        )
    return packet, wid


def test_a_packet_without_worksheets_hashes_as_before() -> None:
    packet = packet_with_one_of_everything()
    assert "worksheets" not in packet.content()
    assert WORKSHEETS.content(packet) is None
    assert "parts" not in vars(packet)  # reading created no state


def test_the_content_holds_facts_cites_with_digests_and_rules_not_results() -> None:
    packet, _ = with_worksheet()
    [part] = packet.content()["worksheets"]
    assert part["facts"]["fee_amount"] == "10000.00"  # exact digits, no float
    assert part["cites"] == {"outages": {"source_id": "src-1", "digest": "sha256:aa"}}
    assert [i["name"] for i in part["interpretations"]] == [
        "any overlap",
        "full 5-minute buckets",
        "maintenance counted",
    ]
    assert "result" not in str(part)
    content_hash(packet.content())  # canonical JSON accepts it


def test_a_changed_source_digest_holds_the_worksheet_stale_until_facts_are_set() -> (
    None
):
    packet, wid = with_worksheet()
    assert WORKSHEETS.holds(packet, None, NOW) == []
    packet.refresh_source(META, "src-1", digest="sha256:bb", material=True)
    [hold] = WORKSHEETS.holds(packet, None, NOW)
    assert (hold.code, hold.subject) == (
        "WORKSHEET_SOURCE_STALE",
        {"worksheet_id": wid, "source_id": "src-1", "fact": "outages"},
    )
    ws.update_facts(packet, META, wid, ws.prepare_facts(packet, wid, case.facts(), 99))
    assert WORKSHEETS.holds(packet, None, NOW) == []


def test_facts_changed_after_a_cut_make_the_revision_stale_per_worksheet() -> None:
    packet, wid = with_worksheet()
    cut = copy.deepcopy(packet.content())
    assert WORKSHEETS.stale(packet, RECORD, cut, WORKSHEETS.content(packet)) == []
    corrected = ws.prepare_facts(packet, wid, case.facts(case.CORRECTED_END), 99)
    ws.update_facts(packet, META, wid, corrected)
    [hold] = WORKSHEETS.stale(packet, RECORD, cut, WORKSHEETS.content(packet))
    assert hold.code == "REVISION_STALE"
    assert hold.subject == {"part": "worksheets", "worksheet_id": wid}
    assert "changed (facts)" in hold.detail
    before = {k: v for k, v in cut.items() if k != "worksheets"}
    [added] = WORKSHEETS.stale(packet, RECORD, before, WORKSHEETS.content(packet))
    assert "was added" in added.detail


def test_differences_name_the_rules_and_what_they_change() -> None:
    packet, wid = with_worksheet()
    shown = view(packet, ws.worksheet(packet, wid))
    assert [
        i["result"]["eligible_downtime_minutes"] for i in shown["interpretations"]
    ] == [
        292,
        290,  # 04:00-08:50 in whole 5-minute buckets
        412,
    ]
    overlap_vs_full, overlap_vs_counted, _ = shown["differences"]
    assert overlap_vs_full["rules"] == [
        {"rule": "bucket_policy", "a": "any_overlap", "b": "full_bucket"},
        {"rule": "granularity_minutes", "a": 1, "b": 5},
    ]
    assert overlap_vs_full["changes"] == {
        "eligible_downtime_minutes": {"from": 292, "to": 290, "by": -2},
        "uptime_pct": {
            "from": Decimal("99.324074"),
            "to": Decimal("99.328704"),
            "by": Decimal("0.004630"),
        },
    }  # same band, credit and amount: left out
    assert set(overlap_vs_counted["changes"]) == {
        "eligible_downtime_minutes",
        "uptime_pct",
        "band",
        "credit_pct",
        "credit_amount",
    }


def test_the_manifest_binds_the_facts_hash_and_every_result() -> None:
    packet, wid = with_worksheet()
    [bound] = WORKSHEETS.manifest(packet, packet.content())["worksheets"]
    assert bound["facts_hash"] == content_hash(ws.worksheet(packet, wid)["facts"])
    assert [i["result"]["credit_amount"] for i in bound["interpretations"]] == [
        "1000.00",
        "1000.00",
        "2500.00",
    ]
    assert (
        bound["interpretations"][2]["result"]["uptime_exact_fraction"] == "10697/10800"
    )
    content_hash(bound)  # plain JSON: no floats, no Decimals
    assert WORKSHEETS.manifest(packet, {"sections": []}) == {}


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        ({**case.facts(), "fee_amount": 1.5}, "FIELD_INVALID"),
        ({**case.facts(), "licensed_users": 2**60}, "FIELD_INVALID"),
        ({**case.facts(), "outages": "all"}, "FIELD_INVALID"),
        ({"fee_amount": 1}, "FIELD_REQUIRED"),
    ],
)
def test_facts_the_calculator_refuses_are_refused_before_any_event(
    facts: object, code: str
) -> None:
    packet, wid = with_worksheet()
    version = packet.version
    with pytest.raises(CalculationInputError) as refused:
        ws.prepare_facts(packet, wid, facts, 50_000)
    assert refused.value.code == code
    assert packet.version == version


def test_results_are_the_pure_calculators() -> None:
    from workspace.credit import calculate

    packet, wid = with_worksheet()
    stored = ws.worksheet(packet, wid)
    rules = stored["interpretations"][0]["rules"]
    assert result_of(stored["facts"], rules) == calculate(
        {"facts": case.facts(), "rules": case.excluded()}, 50_000
    )

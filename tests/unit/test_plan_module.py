"""The recovery-plan content module (workspace/content/plan.py) on packets in
memory: its part of the content, the holds naming rows, the manifest part,
per-table diffs, and packets without a plan unchanged."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from projections.revisions import diff
from release.demo_recovery import seed_plan, without_starter_approver
from workspace.content.plan import (
    PLAN,
    RecoveryPlanSet,
    plan_approvers,
    plan_checks,
)
from workspace.domain import Meta, Packet
from workspace.hashing import content_hash
from workspace.recovery_plan import parse_plan

META = Meta(actor="ann")
NOW = datetime(2025, 10, 21, tzinfo=UTC)
APPROVERS = ["vp.support", "support.director", "support.manager"]


def recovery_packet() -> Packet:
    return Packet.open(
        META,
        kind="recovery-plan",
        title="Tuesday's outage",
        release_owner="vp.support",
        authors=["ann"],
        reviewers=[],
    )


def set_plan(packet: Packet, raw: dict[str, Any], known: list[str]) -> None:
    packet.trigger_event(
        RecoveryPlanSet, plan=parse_plan(raw), approvers_known=known, **META.fields()
    )


def holds(packet: Packet) -> list[tuple[str, str, int | None]]:
    return [
        (h.code, h.subject["part"], h.subject["row"])
        for h in PLAN.holds(packet, None, NOW)
    ]


def test_a_packet_without_a_plan_has_no_plan_in_its_content_and_no_holds() -> None:
    packet = recovery_packet()
    before = content_hash(packet.content())
    assert "plan" not in packet.content()
    assert PLAN.holds(packet, None, NOW) == []
    assert "parts" not in vars(packet)  # reading created no state
    assert content_hash(packet.content()) == before


def test_the_plan_is_hashed_content_and_a_change_of_one_cell_changes_the_hash() -> None:
    packet = recovery_packet()
    set_plan(packet, seed_plan(), APPROVERS)
    content = packet.content()
    assert content["plan"] == parse_plan(seed_plan())
    first = content_hash(content)
    changed = seed_plan()
    changed["remediation"][0]["offer"] = "5-day service credit"
    set_plan(packet, changed, APPROVERS)
    assert content_hash(packet.content()) != first


def test_the_seed_plan_with_every_approver_a_user_breaks_no_rule() -> None:
    packet = recovery_packet()
    set_plan(packet, seed_plan(), APPROVERS)
    assert holds(packet) == []
    assert plan_approvers(packet) == APPROVERS


def test_a_missing_approver_holds_naming_each_row_at_fault() -> None:
    packet = recovery_packet()
    set_plan(packet, without_starter_approver(seed_plan()), APPROVERS)
    assert holds(packet) == [
        ("REMEDIATION_APPROVER_MISSING", "remediation", row) for row in (8, 9, 10, 11)
    ]
    [detail, *_] = [h.detail for h in PLAN.holds(packet, None, NOW)]
    assert "Starter" in detail and "no approver" in detail


def test_an_approver_who_was_not_a_user_when_the_plan_was_set_is_missing() -> None:
    packet = recovery_packet()
    set_plan(packet, seed_plan(), ["vp.support", "support.director"])
    assert [row for _, _, row in holds(packet)] == [8, 9, 10, 11]
    assert "'support.manager' is not a Quire user" in (
        PLAN.holds(packet, None, NOW)[0].detail
    )


def test_an_acknowledgment_after_the_expected_contact_holds_the_severity_row() -> None:
    late = seed_plan()
    # Tuesday as it ran: the first customer message at 11:30am, T+90.
    late["communications"][0]["at_minutes"] = 90
    packet = recovery_packet()
    set_plan(packet, late, APPROVERS)
    assert holds(packet) == [("ACKNOWLEDGMENT_TOO_LATE", "severities", 0)]
    assert "T+90" in PLAN.holds(packet, None, NOW)[0].detail


def test_no_customer_facing_summary_holds_customer_follow_up_missing() -> None:
    plan = seed_plan()
    plan["communications"] = [
        c for c in plan["communications"] if c["kind"] != "post_incident_summary"
    ]
    for step in plan["review"]:
        step["customer_facing"] = False
    packet = recovery_packet()
    set_plan(packet, plan, APPROVERS)
    assert holds(packet) == [("CUSTOMER_FOLLOW_UP_MISSING", "review", None)]


def test_the_manifest_binds_the_revision_plans_hash_and_its_checks() -> None:
    packet = recovery_packet()
    set_plan(packet, seed_plan(), APPROVERS)
    content = packet.content()
    part = PLAN.manifest(packet, content)["plan"]
    assert part["content_hash"] == content_hash(content["plan"])
    assert part["checks"] == []
    assert part["remediation_approvers"] == APPROVERS
    assert PLAN.manifest(packet, {"title": "no plan"}) == {}


def test_a_plan_differing_from_the_revision_is_stale_naming_the_plan() -> None:
    packet = recovery_packet()
    set_plan(packet, seed_plan(), APPROVERS)
    content = packet.content()
    record = {"number": 1}
    assert PLAN.stale(packet, record, content, PLAN.content(packet)) == []
    changed = seed_plan()
    changed["severities"][0]["notify_within_minutes"] = 25
    set_plan(packet, changed, APPROVERS)
    [stale] = PLAN.stale(packet, record, content, PLAN.content(packet))
    assert (stale.code, stale.subject) == ("REVISION_STALE", {"part": "plan"})


def test_the_diff_is_per_table_naming_rows_added_and_removed() -> None:
    old = {"title": "t", "plan": parse_plan(seed_plan())}
    new_plan = copy.deepcopy(old["plan"])
    new_plan["remediation"][2]["offer"] = "2-day service credit"
    new_plan["review"].append(
        {
            "within_days": 120,
            "what": "Renewal check",
            "participants": [],
            "customer_facing": False,
        }
    )
    result = diff(old, {"title": "t", "plan": new_plan}, 1, 2)["plan"]
    assert result["severities"] == {"change": "unchanged", "added": [], "removed": []}
    assert [r["row"] for r in result["remediation"]["removed"]] == [2]
    assert result["remediation"]["added"][0]["value"]["offer"] == (
        "2-day service credit"
    )
    assert [r["row"] for r in result["review"]["added"]] == [4]
    assert "plan" not in diff({"title": "t"}, {"title": "u"}, 1, 2)


def test_checks_of_a_given_plan_use_the_approvers_recorded_for_the_packet() -> None:
    packet = recovery_packet()
    set_plan(packet, seed_plan(), APPROVERS)
    other = parse_plan(without_starter_approver(seed_plan()))
    assert [c.row for c in plan_checks(packet, other)] == [8, 9, 10, 11]

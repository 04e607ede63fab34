"""Seed 004's recovery plan: each constraint as a check naming its row, the
severity classifier, and the Markdown export."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from workspace.errors import UnprocessableError
from workspace.recovery_plan import (
    ACKNOWLEDGMENT_TOO_LATE,
    CUSTOMER_FOLLOW_UP_MISSING,
    REMEDIATION_APPROVER_MISSING,
    check_plan,
    classify,
    parse_facts,
    parse_plan,
    remediation_approvers,
    render_markdown,
)

#: The seed's B2B SaaS framework: S1/S2/S3, communications, three tiers.
SEED_PLAN: dict[str, Any] = {
    "severities": [
        {
            "level": "S1",
            "criteria": {
                "min_duration_minutes": 60,
                "min_customers_pct": "100",
                "core_feature": True,
            },
            "notify_within_minutes": 20,
            "expected_customer_contact_minutes": 30,
            "owner": "VP Engineering + VP Support",
        },
        {
            "level": "S2",
            "criteria": {"min_duration_minutes": 30, "core_feature": True},
            "notify_within_minutes": 30,
            "expected_customer_contact_minutes": 45,
            "owner": "Support Director",
        },
        {
            "level": "S3",
            "criteria": {"core_feature": False},
            "notify_within_minutes": 15,
            "expected_customer_contact_minutes": 120,
            "owner": "Support Manager",
        },
    ],
    "communications": [
        {
            "severity": "S1",
            "at_minutes": 20,
            "audience": "customer",
            "kind": "acknowledgment",
            "channel": "status page",
            "content": "Investigating; updates every 15 minutes",
            "owner": "VP Support",
        },
        {
            "severity": "S1",
            "at_minutes": 30,
            "audience": "customer",
            "kind": "update",
            "channel": "email",
            "content": "Issue confirmed, scope known",
            "owner": "VP Support",
        },
        {
            "severity": "S2",
            "at_minutes": 45,
            "audience": "customer",
            "kind": "acknowledgment",
            "channel": "email",
            "content": "Degraded service acknowledged",
            "owner": "Support Director",
        },
        {
            "severity": "S3",
            "at_minutes": 15,
            "audience": "customer",
            "kind": "acknowledgment",
            "channel": "status page",
            "content": "Minor issue noted",
            "owner": "Support Manager",
        },
        {
            "severity": "S1",
            "at_minutes": 7200,
            "audience": "customer",
            "kind": "post_incident_summary",
            "channel": "email",
            "content": "RCA: what was fixed, what prevents recurrence",
            "owner": "VP Support",
        },
    ],
    "remediation": [
        {
            "tier": "Enterprise",
            "severity": "S1",
            "offer": "7-day service credit",
            "approver": "vp-support",
        },
        {
            "tier": "Growth",
            "severity": "S1",
            "offer": "3-day service credit",
            "approver": "support-director",
        },
        {
            "tier": "Starter",
            "severity": "S1",
            "offer": "Account acknowledgment",
            "approver": "support-manager",
        },
    ],
    "escalation": [
        {
            "severity": "S1",
            "at_minutes": 5,
            "notify": ["VP Engineering", "Support Director"],
            "info": "S1 declared",
        },
    ],
    "review": [
        {
            "within_days": 1,
            "what": "blameless post-mortem",
            "participants": ["Engineering"],
            "customer_facing": False,
        },
        {
            "within_days": 5,
            "what": "customer-facing RCA",
            "participants": ["VP Support"],
            "customer_facing": True,
        },
    ],
}
USERS = {"vp-support", "support-director", "support-manager"}


def checks(
    raw: dict[str, Any], users: set[str] = USERS
) -> list[tuple[str, str, int | None]]:
    return [
        (c.code, c.part, c.row) for c in check_plan(parse_plan(raw), users.__contains__)
    ]


def test_the_seed_plan_passes_every_check() -> None:
    assert checks(SEED_PLAN) == []


def test_a_tier_without_a_named_user_approver_is_named() -> None:
    plan = copy.deepcopy(SEED_PLAN)
    plan["remediation"][1]["approver"] = None
    plan["remediation"][2]["approver"] = "nobody-here"
    assert checks(plan) == [
        (REMEDIATION_APPROVER_MISSING, "remediation", 1),
        (REMEDIATION_APPROVER_MISSING, "remediation", 2),
    ]


def test_an_acknowledgment_after_customers_call_is_too_late() -> None:
    plan = copy.deepcopy(SEED_PLAN)
    plan["communications"][0]["at_minutes"] = 90  # the seed's 11:30 email
    assert checks(plan) == [(ACKNOWLEDGMENT_TOO_LATE, "severities", 0)]
    # At the threshold itself is in time.
    plan["communications"][0]["at_minutes"] = 30
    assert checks(plan) == []


def test_a_severity_with_no_customer_acknowledgment_is_named() -> None:
    plan = copy.deepcopy(SEED_PLAN)
    plan["communications"][2]["audience"] = "internal"
    assert checks(plan) == [(ACKNOWLEDGMENT_TOO_LATE, "severities", 1)]


def test_a_plan_without_a_customer_facing_summary_is_held() -> None:
    plan = copy.deepcopy(SEED_PLAN)
    plan["communications"].pop()
    plan["review"][1]["customer_facing"] = False
    assert checks(plan) == [(CUSTOMER_FOLLOW_UP_MISSING, "review", None)]


def test_approvers_are_the_signers_once_each_in_order() -> None:
    plan = copy.deepcopy(SEED_PLAN)
    plan["remediation"].append({**plan["remediation"][0], "severity": "S2"})
    assert remediation_approvers(parse_plan(plan)) == [
        "vp-support",
        "support-director",
        "support-manager",
    ]


@pytest.mark.parametrize(
    ("facts", "severity", "met"),
    [
        # The seed's incident: four hours, every Enterprise and Growth customer.
        (
            {
                "duration_minutes": 240,
                "customers_affected_pct": "100",
                "core_feature": True,
            },
            "S1",
            ["min_duration_minutes", "min_customers_pct", "core_feature"],
        ),
        (
            {
                "duration_minutes": 240,
                "customers_affected_pct": "40",
                "core_feature": True,
            },
            "S2",
            ["min_duration_minutes", "core_feature"],
        ),
        (
            {
                "duration_minutes": 59,
                "customers_affected_pct": "100",
                "core_feature": True,
            },
            "S2",
            ["min_duration_minutes", "core_feature"],
        ),
        (
            {
                "duration_minutes": 10,
                "customers_affected_pct": "5",
                "core_feature": False,
            },
            "S3",
            ["core_feature"],
        ),
        (
            {
                "duration_minutes": 10,
                "customers_affected_pct": "5",
                "core_feature": True,
            },
            None,
            [],
        ),
    ],
)
def test_classify_returns_the_most_severe_level_whose_criteria_all_hold(
    facts: dict[str, Any], severity: str | None, met: list[str]
) -> None:
    assert classify(parse_plan(SEED_PLAN), parse_facts(facts)) == {
        "severity": severity,
        "criteria_met": met,
    }


@pytest.mark.parametrize(
    ("mutate", "code"),
    [
        (lambda p: p["communications"][0].update(severity="S9"), "PLAN_INVALID"),
        (lambda p: p["communications"][0].update(kind="tweet"), "PLAN_INVALID"),
        (lambda p: p["severities"][0].update(notify_within_minutes=-1), "PLAN_INVALID"),
        (
            lambda p: p["severities"][0]["criteria"].update(min_customers_pct="150"),
            "PERCENT_OUT_OF_RANGE",
        ),
        (lambda p: p["severities"].append(dict(p["severities"][0])), "PLAN_INVALID"),
        (lambda p: p.update(budget=1), "UNKNOWN_FIELD"),
        (lambda p: p["review"][0].update(customer_facing="yes"), "PLAN_INVALID"),
    ],
)
def test_bad_plans_are_refused_with_a_stable_code(mutate: Any, code: str) -> None:
    plan = copy.deepcopy(SEED_PLAN)
    mutate(plan)
    with pytest.raises(UnprocessableError) as caught:
        parse_plan(plan)
    assert caught.value.code == code


def test_markdown_has_a_table_per_part_and_marks_a_missing_approver() -> None:
    plan = copy.deepcopy(SEED_PLAN)
    plan["remediation"][0]["approver"] = None
    text = render_markdown("B2B SaaS recovery | plan", parse_plan(plan))
    for heading in (
        "## Severity classification",
        "## Customer communication sequence",
        "## Remediation matrix",
        "## Internal escalation",
        "## Post-incident review",
    ):
        assert heading in text
    assert "# B2B SaaS recovery \\| plan" in text
    assert "| Enterprise | S1 | 7-day service credit |  | **missing** |" in text
    assert "| S1 | T+20 min | customer | acknowledgment | status page |" in text

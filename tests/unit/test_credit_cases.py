"""Worked cases from public SLA structures, each computed by hand from the
contract wording (docs/credit-worked-cases.md has the table), with the likely
wrong reading beside it. Every expected figure below is the hand computation;
the wrong reading is asserted NOT to be what Quire produces.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from tests.unit.credit_helpers import body, window
from workspace.credit import calculate

APRIL = 43_200  # minutes in April (30 days)


def run(b: dict[str, Any]) -> dict[str, Any]:
    return calculate(b, max_windows=1000)


def codes(result: dict[str, Any]) -> set[str]:
    return {f["code"] for f in result["flags"]}


def uptime(downtime: int, base: int) -> Fraction:
    return 1 - Fraction(downtime, base)


def test_region_level_uptime_exactly_on_the_99_boundary_takes_the_upper_band() -> None:
    # "less than 99.99% but equal to or greater than 99.0%: 10%". April has
    # 43,200 minutes; 432 minutes down is exactly 1%: uptime 99% -> 10%.
    result = run(
        body(outages=[window("2024-04-10T00:00:00Z", "2024-04-10T07:12:00Z")], fee=2000)
    )
    assert result["uptime_exact_fraction"] == "99/100"
    assert result["uptime_pct"] == Decimal("99.000000")
    assert result["credit_pct"] == Decimal("10.000000")
    assert result["credit_amount"] == Decimal("200.00")
    assert "UPTIME_ON_BAND_BOUNDARY" in codes(result)
    # Wrong reading: 99.0 belongs to the "< 99" band -> 30%, 600.00.
    assert result["credit_amount"] != Decimal("600.00")


def test_an_outage_across_a_month_boundary_counts_only_inside_the_month() -> None:
    # 23:00 on 31 March to 01:00 on 1 April: April counts 60 minutes.
    result = run(body(outages=[window("2024-03-31T23:00:00Z", "2024-04-01T01:00:00Z")]))
    assert result["eligible_downtime_minutes"] == 60
    assert result["uptime_exact_fraction"] == "719/720"
    assert result["uptime_pct"] == Decimal("99.861111")
    assert "OUTAGE_CLIPPED_TO_PERIOD" in codes(result)
    # Wrong reading: all 120 minutes in April -> 99.722222%.
    assert result["uptime_pct"] != Decimal("99.722222")


def test_a_leap_year_february_has_41760_minutes() -> None:
    # 410 minutes down in February 2024 (29 days): 99.018199% -> 10%.
    result = run(
        body("2024-02", [window("2024-02-29T10:00:00Z", "2024-02-29T16:50:00Z")])
    )
    assert result["denominator_minutes"] == 41_760
    assert Fraction(result["uptime_exact_fraction"]) == uptime(410, 41_760)
    assert result["uptime_pct"] == Decimal("99.018199")
    assert result["credit_pct"] == Decimal("10.000000")
    # Wrong reading: a 28-day February (40,320) -> 98.983135% -> 30%.
    assert result["credit_pct"] != Decimal("30.000000")


def test_a_service_started_mid_month_with_a_since_start_denominator() -> None:
    # Started 16 April: 15 days = 21,600 minutes; 240 down -> 98.888889% -> 30%.
    outages = [window("2024-04-20T00:00:00Z", "2024-04-20T04:00:00Z")]
    facts = {"service_start": "2024-04-16T00:00:00Z"}
    since = run(body(outages=outages, facts=facts, denominator="since_service_start"))
    assert since["denominator_minutes"] == 21_600
    assert since["uptime_exact_fraction"] == "89/90"
    assert since["credit_pct"] == Decimal("30.000000")
    assert "SERVICE_STARTED_MID_PERIOD" in codes(since)
    # The full-period reading (the other interpretation): 99.444444% -> 10%.
    full = run(body(outages=outages, facts=facts))
    assert full["denominator_minutes"] == APRIL
    assert full["uptime_pct"] == Decimal("99.444444")
    assert full["credit_pct"] == Decimal("10.000000")


def test_ten_minute_minimum_downtime_periods_ignore_shorter_runs() -> None:
    # Runs of 9, 10, 25 and 5 minutes: only 10 + 25 = 35 count.
    outages = [
        window("2024-04-02T00:00:00Z", "2024-04-02T00:09:00Z"),
        window("2024-04-03T00:00:00Z", "2024-04-03T00:10:00Z"),
        window("2024-04-04T00:00:00Z", "2024-04-04T00:25:00Z"),
        window("2024-04-05T00:00:00Z", "2024-04-05T00:05:00Z"),
    ]
    result = run(body(outages=outages, min_downtime_period_minutes=10))
    assert result["eligible_downtime_minutes"] == 35
    assert result["uptime_exact_fraction"] == "8633/8640"
    assert result["uptime_pct"] == Decimal("99.918981")
    assert "SHORT_RUNS_IGNORED" in codes(result)
    # Wrong reading: all 49 minutes.
    assert result["eligible_downtime_minutes"] != 49


def test_two_short_windows_that_touch_form_one_run_of_the_minimum() -> None:
    # 6 + 4 minutes back to back are one 10-minute run.
    outages = [
        window("2024-04-02T00:00:00Z", "2024-04-02T00:06:00Z"),
        window("2024-04-02T00:06:00Z", "2024-04-02T00:10:00Z"),
    ]
    result = run(body(outages=outages, min_downtime_period_minutes=10))
    assert result["eligible_downtime_minutes"] == 10


@pytest.mark.parametrize(
    ("policy", "expected"), [("any_overlap", 15), ("full_bucket", 5)]
)
def test_five_minute_intervals_any_overlap_or_full_bucket(
    policy: str, expected: int
) -> None:
    # 10:02 to 10:13 (11 minutes). Buckets 10:00, 10:05, 10:10 are touched;
    # only 10:05-10:10 is wholly down. Wrong reading: the raw 11 minutes.
    result = run(
        body(
            outages=[window("2024-04-10T10:02:00Z", "2024-04-10T10:13:00Z")],
            granularity_minutes=5,
            bucket_policy=policy,
        )
    )
    assert result["eligible_downtime_minutes"] == expected
    assert result["eligible_downtime_minutes"] != 11
    assert "PARTIAL_BUCKETS_ROUNDED" in codes(result)


def test_user_minute_weighting() -> None:
    # 1,000 licensed users. 60 min x 200 users + 30 min x 1,000 (all) =
    # 42,000 user-minutes of 43,200,000: 99.902778% -> at or above 99.9: 0.
    outages = [
        window("2024-04-10T00:00:00Z", "2024-04-10T01:00:00Z", users=200),
        window("2024-04-11T00:00:00Z", "2024-04-11T00:30:00Z"),
    ]
    tiers = [
        {"below_pct": "99.9", "credit_pct": 25},
        {"below_pct": "99", "credit_pct": 50},
        {"below_pct": "95", "credit_pct": 100},
    ]
    b = body(
        outages=outages,
        facts={"licensed_users": 1000},
        commitment_pct="99.9",
        tiers=tiers,
        weight_by_users=True,
    )
    result = run(b)
    assert result["eligible_downtime_minutes"] == 42_000
    assert result["units"] == "user-minutes"
    assert result["uptime_exact_fraction"] == "7193/7200"
    assert result["credit_pct"] == Decimal("0.000000")
    # Wrong reading: 90 unweighted minutes -> 99.791667% -> 25%.
    b["rules"]["weight_by_users"] = False
    unweighted = run(b)
    assert unweighted["credit_pct"] == Decimal("25.000000")


@pytest.mark.parametrize(
    ("handling", "downtime", "base", "pct"),
    [
        ("exclude_from_downtime_and_base", 240, 42_960, "99.441341"),
        ("exclude_from_downtime", 240, APRIL, "99.444444"),
        ("none", 300, APRIL, "99.305556"),
    ],
)
def test_scheduled_maintenance_handled_three_ways(
    handling: str, downtime: int, base: int, pct: str
) -> None:
    # 4 hours of maintenance; a 5-hour outage overlapping it by 1 hour.
    b = body(
        outages=[window("2024-04-07T03:00:00Z", "2024-04-07T08:00:00Z")],
        facts={"maintenance": [window("2024-04-07T00:00:00Z", "2024-04-07T04:00:00Z")]},
        maintenance_handling=handling,
    )
    result = run(b)
    assert result["eligible_downtime_minutes"] == downtime
    assert result["denominator_minutes"] == base
    assert Fraction(result["uptime_exact_fraction"]) == uptime(downtime, base)
    assert result["uptime_pct"] == Decimal(pct)


def test_an_outage_wholly_inside_maintenance_is_flagged_and_excluded() -> None:
    b = body(
        outages=[window("2024-04-07T01:00:00Z", "2024-04-07T02:00:00Z")],
        facts={"maintenance": [window("2024-04-07T00:00:00Z", "2024-04-07T04:00:00Z")]},
        maintenance_handling="exclude_from_downtime",
    )
    result = run(b)
    assert result["eligible_downtime_minutes"] == 0
    assert "OUTAGE_WHOLLY_IN_MAINTENANCE" in codes(result)


def test_ten_times_the_per_minute_fee() -> None:
    # 100% commitment; fee 3,000 a month over 43,200 minutes = 5/72 a minute.
    # 90 minutes x 10 x 5/72 = 62.50; credit_pct 62.50 / 3,000 = 2.083333%.
    b = body(
        outages=[window("2024-04-10T00:00:00Z", "2024-04-10T01:30:00Z")],
        fee=3000,
        facts={"fee_per_minute": "3000/43200"},
        commitment_pct=100,
        multiplier=10,
        cap_pct=100,
    )
    result = run(b)
    assert result["credit_amount"] == Decimal("62.50")
    assert result["credit_pct"] == Decimal("2.083333")
    assert result["band"] is None
    # Wrong reading: 1x the per-minute fee -> 6.25.
    assert result["credit_amount"] != Decimal("6.25")


def test_a_hundred_times_multiplier_is_capped() -> None:
    # 600 minutes x 100 x 5/72 = 4,166.67 > the cap of 100% of 3,000.
    b = body(
        outages=[window("2024-04-10T00:00:00Z", "2024-04-10T10:00:00Z")],
        fee=3000,
        facts={"fee_per_minute": "3000/43200"},
        commitment_pct=100,
        multiplier=100,
        cap_pct=100,
    )
    result = run(b)
    assert result["credit_amount"] == Decimal("3000.00")
    assert result["credit_pct"] == Decimal("100.000000")
    assert "CREDIT_CAPPED" in codes(result)
    assert result["credit_amount"] != Decimal("4166.67")


def test_a_quarter_period_uses_the_whole_quarter() -> None:
    # Instance-level (99.5%). Q1 2024 = 91 days = 131,040 minutes; 700 minutes
    # down, all in February: 99.465812% -> 10%. Wrong reading: February alone
    # (98.323755% -> 30%).
    bands = [
        {"min": "99.0", "max": "99.5", "credit_pct": 10},
        {"min": "95.0", "max": "99.0", "credit_pct": 30},
        {"max": "95.0", "credit_pct": 100},
    ]
    result = run(
        body(
            "2024-Q1",
            [window("2024-02-10T00:00:00Z", "2024-02-10T11:40:00Z")],
            commitment_pct="99.5",
            bands=bands,
        )
    )
    assert result["denominator_minutes"] == 131_040
    assert result["uptime_exact_fraction"] == "931/936"
    assert result["uptime_pct"] == Decimal("99.465812")
    assert result["credit_pct"] == Decimal("10.000000")


def test_overlapping_windows_merged_or_summed() -> None:
    outages = [
        window("2024-04-10T10:00:00Z", "2024-04-10T11:00:00Z"),
        window("2024-04-10T10:30:00Z", "2024-04-10T11:30:00Z"),
    ]
    merged = run(body(outages=outages))
    assert merged["eligible_downtime_minutes"] == 90
    assert "OVERLAPPING_OUTAGES_MERGED" in codes(merged)
    summed = run(body(outages=outages, merge_overlaps=False))
    assert summed["eligible_downtime_minutes"] == 120
    assert "OVERLAPPING_OUTAGES_SUMMED" in codes(summed)


def test_an_uptime_exactly_on_a_tier_is_not_under_it() -> None:
    # A 1,000-minute span with 1 minute down: exactly 99.9%, which is not
    # "below 99.9" -> no credit. (As floats, 1 - 1/1000 is 0.999 and
    # 0.999 * 100 is 99.9 only by luck of rounding.) Wrong reading: 25%.
    span = {"start": "2024-04-01T00:00:00Z", "end": "2024-04-01T16:40:00Z"}
    result = run(
        body(
            span,
            [window("2024-04-01T08:00:00Z", "2024-04-01T08:01:00Z")],
            commitment_pct="99.9",
            tiers=[{"below_pct": "99.9", "credit_pct": 25}],
        )
    )
    assert result["denominator_minutes"] == 1000
    assert result["uptime_exact_fraction"] == "999/1000"
    assert result["credit_pct"] == Decimal("0.000000")
    assert "UPTIME_ON_BAND_BOUNDARY" in codes(result)


def test_seconds_are_bucketed_to_whole_minutes() -> None:
    # 43 min 12 s: one-minute any_overlap counts 44, full_bucket 43.
    outage = [window("2024-04-10T00:00:00Z", "2024-04-10T00:43:12Z")]
    assert run(body(outages=outage))["eligible_downtime_minutes"] == 44
    full = run(body(outages=outage, bucket_policy="full_bucket"))
    assert full["eligible_downtime_minutes"] == 43


def test_a_window_outside_the_period_is_flagged_and_left_out() -> None:
    result = run(body(outages=[window("2024-05-02T00:00:00Z", "2024-05-02T01:00:00Z")]))
    assert result["eligible_downtime_minutes"] == 0
    assert result["uptime_exact_fraction"] == "1/1"
    assert "OUTAGE_OUTSIDE_PERIOD" in codes(result)


def test_the_result_says_quire_decides_nothing() -> None:
    result = run(body())
    assert "does not decide" in result["note"]
    assert [s["step"] for s in result["steps"]][:1] == ["period"]
    assert {"numerator", "denominator", "uptime", "band", "credit"} <= {
        s["step"] for s in result["steps"]
    }

"""Bad facts and rules are refused with a stable code (nothing computed)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.credit_helpers import body, window
from workspace.credit import CalculationInputError, calculate
from workspace.credit.periods import parse_period


def refused(b: Any, max_windows: int = 10) -> str:
    with pytest.raises(CalculationInputError) as caught:
        calculate(b, max_windows)
    return caught.value.code


def with_facts(**facts: Any) -> dict[str, Any]:
    b = body()
    b["facts"].update(facts)
    return b


def test_months_and_quarters_are_utc_calendar_spans() -> None:
    assert parse_period("2024-02").seconds == 29 * 86_400
    assert parse_period("2023-02").seconds == 28 * 86_400
    assert parse_period("2100-02").seconds == 28 * 86_400  # not a leap year
    assert parse_period("2000-02").seconds == 29 * 86_400
    assert parse_period("2024-Q4").seconds == 92 * 86_400
    assert parse_period("2024-12").end == parse_period("2025-01").start


@pytest.mark.parametrize(
    "period",
    ["2024-13", "2024-00", "2024-Q5", "24-01", "2024/01", 202401, None,
     {"start": "2024-01-02T00:00:00Z", "end": "2024-01-01T00:00:00Z"},
     {"start": "2024-01-01T00:00:00Z"}],
)  # fmt: skip
def test_a_period_that_does_not_parse(period: Any) -> None:
    assert refused(with_facts(period=period)) == "PERIOD_INVALID"


@pytest.mark.parametrize(
    ("b", "code"),
    [
        (body(outages=[window("2024-04-02T01:00:00Z", "2024-04-02T01:00:00Z")]),
         "WINDOW_EMPTY"),
        (body(outages=[window("2024-04-02T02:00:00Z", "2024-04-02T01:00:00Z")]),
         "WINDOW_EMPTY"),
        (body(outages=[window("2024-04-02T01:00:00", "2024-04-02T02:00:00")]),
         "TIMESTAMP_INVALID"),
        (body(outages=[window("yesterday", "2024-04-02T02:00:00Z")]),
         "TIMESTAMP_INVALID"),
        (body(outages=[{"start": "2024-04-02T01:00:00Z",
                        "end": "2024-04-02T02:00:00Z", "severity": 1}]),
         "UNKNOWN_FIELD"),
        (with_facts(colour="red"), "UNKNOWN_FIELD"),
        ({**body(), "extra": 1}, "UNKNOWN_FIELD"),
        (body(bucket_policy="sometimes"), "UNKNOWN_POLICY"),
        (body(maintenance_handling="ignore"), "UNKNOWN_POLICY"),
        (body(denominator="business_hours"), "UNKNOWN_POLICY"),
        (body(commitment_pct="100.5"), "PERCENT_OUT_OF_RANGE"),
        (body(commitment_pct=-1), "PERCENT_OUT_OF_RANGE"),
        (body(bands=[{"max": 99, "credit_pct": 101}]), "PERCENT_OUT_OF_RANGE"),
        (body(fee="-0.01"), "AMOUNT_NEGATIVE"),
        (with_facts(cap_base_amount=-5), "AMOUNT_NEGATIVE"),
        (body(fee=1000.5), "FIELD_INVALID"),  # a float is not exact
        (body(fee="lots"), "FIELD_INVALID"),
        (body(bands=[{"min": 90, "max": 99, "credit_pct": 10},
                     {"min": 95, "max": "99.9", "credit_pct": 20}]), "BANDS_OVERLAP"),
        (body(bands=[{"min": 90, "max": 99, "max_inclusive": True, "credit_pct": 10},
                     {"min": 99, "max": "99.9", "credit_pct": 20}]), "BANDS_OVERLAP"),
        (body(multiplier=10, tiers=[{"below_pct": 99, "credit_pct": 5}]),
         "RULES_CONFLICT"),
        (body(multiplier=10), "FIELD_REQUIRED"),  # no fee_per_minute
        (body(weight_by_users=True), "FIELD_REQUIRED"),  # no licensed_users
        (body(denominator="since_service_start"), "SERVICE_START_INVALID"),
        (with_facts(service_start="2024-05-01T00:00:00Z"), "SERVICE_START_INVALID"),
        (body(outages=[window("2024-04-02T01:00:00Z", "2024-04-02T02:00:00Z", 9)],
              facts={"licensed_users": 5}), "USERS_INVALID"),
        (body(maintenance_handling="exclude_from_downtime_and_base",
              facts={"maintenance": [window("2024-03-01T00:00:00Z",
                                            "2024-06-01T00:00:00Z")]}),
         "DENOMINATOR_EMPTY"),
        ({"facts": {}}, "FIELD_REQUIRED"),
        ([], "FIELD_INVALID"),
    ],
)  # fmt: skip
def test_bad_input_has_a_stable_code(b: Any, code: str) -> None:
    assert refused(b) == code


def test_more_windows_than_the_setting_allows() -> None:
    outages = [window("2024-04-02T01:00:00Z", "2024-04-02T02:00:00Z")] * 6
    maintenance = [window("2024-04-03T01:00:00Z", "2024-04-03T02:00:00Z")] * 5
    b = body(outages=outages, facts={"maintenance": maintenance})
    assert refused(b, max_windows=10) == "TOO_MANY_WINDOWS"
    assert calculate(b, 11)["eligible_downtime_minutes"] == 60


def test_bands_that_only_touch_on_an_exclusive_bound_are_fine() -> None:
    bands = [
        {"min": 90, "max": 99, "max_inclusive": False, "credit_pct": 10},
        {"min": 99, "min_inclusive": True, "max": "99.9", "credit_pct": 20},
    ]
    assert calculate(body(bands=bands), 10)["credit_pct"] == 0

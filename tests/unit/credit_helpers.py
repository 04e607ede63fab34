"""Builders shared by the credit calculator's tests."""

from __future__ import annotations

from typing import Any

AWS_REGION_BANDS = [  # region-level: 99.99% commitment
    {"min": "99.0", "min_inclusive": True, "max": "99.99", "max_inclusive": False,
     "credit_pct": 10},
    {"min": "95.0", "min_inclusive": True, "max": "99.0", "max_inclusive": False,
     "credit_pct": 30},
    {"min": None, "max": "95.0", "max_inclusive": False, "credit_pct": 100},
]  # fmt: skip


def window(start: str, end: str, users: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"start": start, "end": end}
    if users is not None:
        item["users_impacted"] = users
    return item


def body(
    period: Any = "2024-04",
    outages: list[dict[str, Any]] | None = None,
    *,
    fee: Any = "1000",
    facts: dict[str, Any] | None = None,
    **rules: Any,
) -> dict[str, Any]:
    rules.setdefault("commitment_pct", "99.99")
    if not {"bands", "tiers", "multiplier"} & set(rules):
        rules["bands"] = AWS_REGION_BANDS
    return {
        "facts": {
            "period": period,
            "outages": outages or [],
            "fee_amount": fee,
            **(facts or {}),
        },
        "rules": rules,
    }

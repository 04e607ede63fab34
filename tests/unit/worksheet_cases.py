"""Facts and interpretations shared by the worksheet tests (seed 002's
April figures: one outage of 412 minutes, 120 of them inside maintenance;
the telemetry correction makes it 375)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def facts(outage_end: str = "2024-04-10T08:52:00Z") -> dict[str, Any]:
    """412 outage minutes (02:00-08:52) unless `outage_end` says otherwise
    (08:15: 375), maintenance 00:00-04:00 (120 of them overlap)."""
    return {
        "period": "2024-04",
        "outages": [{"start": "2024-04-10T02:00:00Z", "end": outage_end}],
        "maintenance": [
            {"start": "2024-04-10T00:00:00Z", "end": "2024-04-10T04:00:00Z"}
        ],
        "fee_amount": Decimal("10000.00"),
    }


CORRECTED_END = "2024-04-10T08:15:00Z"

TIERS = [
    {"below_pct": Decimal("99.5"), "credit_pct": 10},
    {"below_pct": Decimal("99.1"), "credit_pct": 25},
]


def excluded() -> dict[str, Any]:
    return {
        "commitment_pct": Decimal("99.5"),
        "tiers": TIERS,
        "maintenance_handling": "exclude_from_downtime",
    }


def counted() -> dict[str, Any]:
    return {"commitment_pct": Decimal("99.5"), "tiers": TIERS}


def full_bucket() -> dict[str, Any]:
    return {
        **excluded(),
        "granularity_minutes": 5,
        "bucket_policy": "full_bucket",
    }

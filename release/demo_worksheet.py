"""Seed 002's calculation worksheet for `quire serve --demo`: the March
outage windows cited from the telemetry extract, maintenance from the
calendar annotations and the fee from the billing worksheet, read two ways
(maintenance excluded, as billing reads clause 7.2; maintenance counted,
argued by Hannah Kim's objection about the 36 hours' notice). The telemetry
correction (412 -> 375 outage minutes) carries corrected facts, so both
readings are recomputed in the same save that supersedes the release.

Quire computes under each reading; it decides no credit.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workspace.commands import AddInterpretation, CreateWorksheet

if TYPE_CHECKING:
    from release.demo_story import Story

TITLE = "March service-credit worksheet"


def facts(second_outage_end: str = "2025-03-20T12:00:00Z") -> dict[str, Any]:
    """412 outage minutes (292 on 14 March, 120 on 20 March), 120 of them in
    the 14 March maintenance window; the corrected extract ends the second
    outage 37 minutes earlier (375)."""
    return {
        "period": "2025-03",
        "outages": [
            {"start": "2025-03-14T01:00:00Z", "end": "2025-03-14T05:52:00Z"},
            {"start": "2025-03-20T10:00:00Z", "end": second_outage_end},
        ],
        "maintenance": [
            {"start": "2025-03-14T01:00:00Z", "end": "2025-03-14T03:00:00Z"}
        ],
        "fee_amount": "48000.00",
    }


CORRECTED = facts("2025-03-20T11:23:00Z")

#: Clause 7.2 as the billing worksheet reads it (cap: 10% of the monthly fee).
CLAUSE = {
    "commitment_pct": "99.9",
    "tiers": [
        {"below_pct": "99.9", "credit_pct": 5},
        {"below_pct": "99.2", "credit_pct": 10},
    ],
    "cap_pct": 10,
}


def add_worksheet(story: Story) -> str:
    """Sofia Ramirez sets up the worksheet; Marcus Lee adds the second reading."""
    ids = story.ids
    wid: str = story.run(
        "sofia.ramirez",
        CreateWorksheet(
            title=TITLE,
            facts=facts(),
            cites={
                "outages": ids["telemetry"],
                "maintenance": ids["maintenance"],
                "fee_amount": ids["worksheet"],
            },
        ),
    ).result
    story.run(
        "sofia.ramirez",
        AddInterpretation(
            wid,
            "Maintenance excluded (billing's reading of clause 7.2)",
            {**CLAUSE, "maintenance_handling": "exclude_from_downtime"},
        ),
    )
    story.run(
        "marcus.lee",
        AddInterpretation(
            wid,
            "Maintenance counted (36 hours' notice, not 72)",
            CLAUSE,
            objection_id=ids["maintenance_notice"],
        ),
    )
    ids["calc_worksheet"] = wid
    return wid

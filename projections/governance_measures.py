"""The seeds' evaluation measures, computed from the governance read model.

Pure functions over the rows of projections/governance.py and a time window
(`since` inclusive, `until` exclusive; either may be open). Counts are ints;
shares are exact fractions (`"p/q"` in lowest terms) with a percentage to
two places (`decimal`, half-even); durations are seconds as decimal strings
(exact to the microsecond; a mean is rounded half-even to the microsecond).
Nothing is a float. Each measure carries its definition (the same text as
docs/metrics.md); a measure whose events Quire did not record would say
`available: false` and carry no numbers (none does now).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Any

from workspace.domain import (
    REJECTION_CATEGORIES,
    RETURN_CATEGORIES,
    SUPERSESSION_CAUSES,
)

Row = dict[str, Any]

#: Returns that mean the release should not have reached the lane as it was:
#: hidden drift, stale lineage (the lane wanted fresher support) or the wrong
#: audience.
GOVERNANCE_RETURNS = ("hidden_drift", "fresher_support", "audience_mistake")
#: Hold codes that are steps of signing, not findings about the packet.
SIGNING_STEPS = frozenset({"REAUTHENTICATION_FAILED", "SIGNATURE_MISSING"})
#: A supersession that is a planned replacement, not a blocker found late.
REPLACEMENT = "REPLACED_BY_NEW_RELEASE"
UNCATEGORIZED = "uncategorized"

DEFINITIONS: dict[str, tuple[str, str]] = {
    "lane_acceptance": (
        "Releases accepted by their lane",
        "Cohort: releases approved in the window. decided = those their lane "
        "has decided on (ReleaseDecided); share_accepted = accepted / decided; "
        "governance_returns = returns with reason_category hidden_drift, "
        "fresher_support (stale lineage) or audience_mistake; "
        "share_without_governance_return = (decided - governance_returns) / "
        "decided. undecided = approved in the window, not decided yet.",
    ),
    "time_to_first_release": (
        "Time from packet opened to first release",
        "Per packet whose first approved release falls in the window: the "
        "time of that approval minus the time the packet was opened (Opened). "
        "count, min, median (mean of the middle two for an even count), mean "
        "and max, in seconds.",
    ),
    "time_source_change_to_superseding_release": (
        "Time from source change to superseding release",
        "Per release superseded in the window with cause SOURCE_DRIFT (a "
        "material refresh or a withdrawal of a source it depends on, saved "
        "atomically with the supersession, so the supersession's time is the "
        "change's): the time of the first release of the same packet to the "
        "same lane approved at or after it, minus the supersession's time. "
        "waiting = such supersessions with no later approval yet. "
        "material_changes = material source refreshes in the window.",
    ),
    "supersessions_by_cause": (
        "Supersessions by cause",
        "ReleaseSuperseded events in the window, counted by cause (every "
        "known cause is listed, zero included).",
    ),
    "blockers_before_vs_after": (
        "Blockers surfaced before release versus after",
        "before = distinct (release, hold code) pairs the gate recorded on "
        "releases approved in the window, leaving out the signing steps "
        "REAUTHENTICATION_FAILED and SIGNATURE_MISSING; after = supersessions "
        "in the window of released revisions for any cause but "
        "REPLACED_BY_NEW_RELEASE (drift, lapses, reopened residuals, audience "
        "or owner changes, owner holds found after release). share_before = "
        "before / (before + after). held_then_cancelled = requests cancelled "
        "in the window that the gate had held at least once.",
    ),
    "blocked_asks": (
        "Blocked asks",
        "Asks recorded in the window in a recommendation packet's blocked-path "
        "register whose type the packet's latest delegated-authority matrix "
        "blocks or reserves for escalation. before_release = those recorded "
        "before the packet's first approved release (or in a packet never "
        "released); after_release = at or after it. by_type counts them; "
        "all_asks = every ask recorded in the window.",
    ),
    "suggestions_rejected_by_category": (
        "Agent suggestions rejected, by category",
        "SuggestionRejected events in the window, counted by category "
        "(uncategorized: rejections recorded before categories existed); "
        "proposed = SuggestionProposed events in the window.",
    ),
    "ranking_changes_per_review_cycle": (
        "Ranking changes per review cycle (stability)",
        "A review cycle ends with a revision cut. changes = rankings recorded "
        "in the window that follow an earlier ranking of the same packet; "
        "preferred_changes = those whose first option differs from the "
        "previous ranking's; cycles = revision cuts in the window of packets "
        "ranked at least once; per_cycle = changes / cycles and "
        "preferred_per_cycle = preferred_changes / cycles.",
    ),
    "residual_objections_per_release": (
        "Residual objections per release",
        "Per release approved in the window: the residual objections its "
        "signed manifest carries. total, releases, mean = total / releases, "
        "max, and how many releases carried each count.",
    ),
    "hold_reasons_by_frequency": (
        "Hold reasons by frequency",
        "Distinct (release, hold code) pairs whose first recording by the "
        "gate falls in the window, counted by code, most frequent first "
        "(ties by code). evaluations = how many gate evaluations recorded "
        "the code on those releases (at any time).",
    ),
}

UNAVAILABLE: tuple[str, ...] = ()


@dataclass(frozen=True)
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def holds(self, at: str | None) -> bool:
        return at is not None and self.contains(parse(at))

    def contains(self, moment: datetime) -> bool:
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until


def parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def seconds(delta: timedelta) -> Decimal:
    micro = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return Decimal(micro) / Decimal(1_000_000)


def text(value: Decimal) -> str:
    """A decimal without exponent or trailing zeros ("90", "1.5")."""
    normal = value.normalize()
    return format(normal, "f") if normal == normal.to_integral() else str(normal)


def ratio(numerator: int, denominator: int) -> dict[str, Any]:
    if denominator == 0:
        return {"numerator": 0, "denominator": 0, "fraction": None, "percent": None}
    share = Fraction(numerator, denominator)
    percent = Decimal(share.numerator * 100) / Decimal(share.denominator)
    return {
        "numerator": numerator,
        "denominator": denominator,
        "fraction": f"{share.numerator}/{share.denominator}",
        "percent": str(percent.quantize(Decimal("0.01"), ROUND_HALF_EVEN)),
    }


def mean(total: int, count: int) -> dict[str, Any]:
    """An exact mean ("p/q") and its value to two places (half-even)."""
    if count == 0:
        return {"fraction": None, "decimal": None}
    value = Fraction(total, count)
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return {
        "fraction": f"{value.numerator}/{value.denominator}",
        "decimal": str(exact.quantize(Decimal("0.01"), ROUND_HALF_EVEN)),
    }


def stats(values: Sequence[Decimal]) -> dict[str, Any]:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return {
            "count": 0,
            "min_seconds": None,
            "median_seconds": None,
            "mean_seconds": None,
            "max_seconds": None,
        }
    middle = ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2
    mean = (sum(ordered, Decimal(0)) / n).quantize(Decimal("0.000001"), ROUND_HALF_EVEN)
    return {
        "count": n,
        "min_seconds": text(ordered[0]),
        "median_seconds": text(middle),
        "mean_seconds": text(mean),
        "max_seconds": text(ordered[-1]),
    }


def compute(facts: dict[str, list[Row]], window: Window) -> dict[str, Any]:
    """Every measure for the window, keyed by id, in DEFINITIONS order."""
    releases = facts["governance_releases"]
    released = [r for r in releases if window.holds(r["released_at"])]
    superseded = [r for r in releases if window.holds(r["superseded_at"])]
    holds = facts["governance_holds"]
    values: dict[str, dict[str, Any]] = {
        "lane_acceptance": _lane_acceptance(released),
        "time_to_first_release": _first_release(
            facts["governance_packets"], releases, window
        ),
        "time_source_change_to_superseding_release": _drift_to_release(
            releases, superseded, facts["governance_source_changes"], window
        ),
        "supersessions_by_cause": _by_cause(superseded),
        "blockers_before_vs_after": _blockers(
            releases, released, superseded, holds, window
        ),
        "suggestions_rejected_by_category": _rejections(
            facts["governance_suggestions"], window
        ),
        "residual_objections_per_release": _residuals(released),
        "hold_reasons_by_frequency": _hold_frequency(holds, window),
        "blocked_asks": _blocked_asks(facts, releases, window),
        "ranking_changes_per_review_cycle": _ranking_changes(facts, window),
    }
    out: dict[str, Any] = {}
    for key, (title, definition) in DEFINITIONS.items():
        measure: dict[str, Any] = {
            "title": title,
            "definition": definition,
            "available": key not in UNAVAILABLE,
        }
        if key in values:
            measure["value"] = values[key]
        out[key] = measure
    return out


def _lane_acceptance(released: Sequence[Row]) -> dict[str, Any]:
    decided = [r for r in released if r["decision"]]
    accepted = sum(1 for r in decided if r["decision"] == "accepted")
    by_category = {c: 0 for c in RETURN_CATEGORIES}
    for r in decided:
        if r["decision"] == "returned":
            category = r["reason_category"] or "other"
            by_category[category] = by_category.get(category, 0) + 1
    governance = sum(by_category[c] for c in GOVERNANCE_RETURNS)
    return {
        "released": len(released),
        "decided": len(decided),
        "undecided": len(released) - len(decided),
        "accepted": accepted,
        "returned": len(decided) - accepted,
        "returned_by_category": by_category,
        "governance_returns": governance,
        "share_accepted": ratio(accepted, len(decided)),
        "share_without_governance_return": ratio(
            len(decided) - governance, len(decided)
        ),
    }


def _first_release(
    packets: Sequence[Row], releases: Sequence[Row], window: Window
) -> dict[str, Any]:
    first: dict[str, datetime] = {}
    for r in releases:
        if r["released_at"] is None:
            continue
        at = parse(r["released_at"])
        if r["packet_id"] not in first or at < first[r["packet_id"]]:
            first[r["packet_id"]] = at
    durations = [
        seconds(first[p["packet_id"]] - parse(p["opened_at"]))
        for p in packets
        if p["packet_id"] in first
        and p["opened_at"] is not None
        and window.contains(first[p["packet_id"]])
    ]
    return stats(durations)


def _drift_to_release(
    releases: Sequence[Row],
    superseded: Sequence[Row],
    changes: Sequence[Row],
    window: Window,
) -> dict[str, Any]:
    approvals: dict[tuple[str, str], list[tuple[datetime, str]]] = {}
    for o in releases:
        if o["released_at"] is not None:
            approvals.setdefault((o["packet_id"], o["lane_id"]), []).append(
                (parse(o["released_at"]), o["release_id"])
            )
    durations: list[Decimal] = []
    waiting = 0
    for r in superseded:
        if r["cause"] != "SOURCE_DRIFT":
            continue
        start = parse(r["superseded_at"])
        later = [
            at
            for at, rid in approvals.get((r["packet_id"], r["lane_id"]), [])
            if rid != r["release_id"] and at >= start
        ]
        if later:
            durations.append(seconds(min(later) - start))
        else:
            waiting += 1
    return {
        **stats(durations),
        "waiting": waiting,
        "material_changes": sum(
            1 for c in changes if c["material"] and window.holds(c["at"])
        ),
    }


def _by_cause(superseded: Sequence[Row]) -> dict[str, Any]:
    counts = {c: 0 for c in SUPERSESSION_CAUSES}
    for r in superseded:
        counts[r["cause"]] = counts.get(r["cause"], 0) + 1
    return {"total": len(superseded), "by_cause": counts}


def _blockers(
    releases: Sequence[Row],
    released: Sequence[Row],
    superseded: Sequence[Row],
    holds: Sequence[Row],
    window: Window,
) -> dict[str, Any]:
    cohort = {(r["packet_id"], r["release_id"]) for r in released}
    held = {(h["packet_id"], h["release_id"]) for h in holds}
    before = sum(
        1
        for h in holds
        if (h["packet_id"], h["release_id"]) in cohort
        and h["code"] not in SIGNING_STEPS
    )
    after = sum(1 for r in superseded if r["cause"] != REPLACEMENT)
    cancelled = sum(
        1
        for r in releases
        if window.holds(r["cancelled_at"]) and (r["packet_id"], r["release_id"]) in held
    )
    return {
        "before": before,
        "after": after,
        "share_before": ratio(before, before + after),
        "held_then_cancelled": cancelled,
    }


def _rejections(suggestions: Sequence[Row], window: Window) -> dict[str, Any]:
    counts = {c: 0 for c in (*REJECTION_CATEGORIES, UNCATEGORIZED)}
    rejected = [s for s in suggestions if window.holds(s["rejected_at"])]
    for s in rejected:
        category = s["category"] or UNCATEGORIZED
        counts[category] = counts.get(category, 0) + 1
    return {
        "proposed": sum(1 for s in suggestions if window.holds(s["proposed_at"])),
        "rejected": len(rejected),
        "by_category": counts,
    }


def _blocked_asks(
    facts: dict[str, list[Row]], releases: Sequence[Row], window: Window
) -> dict[str, Any]:
    out_of_band: dict[str, set[str]] = {
        m["packet_id"]: set(json.loads(m["blocked"]))
        | set(json.loads(m["escalation_only"]))
        for m in facts["governance_matrices"]
    }
    first_release: dict[str, datetime] = {}
    for r in releases:
        if r["released_at"] is not None:
            at = parse(r["released_at"])
            pid = r["packet_id"]
            first_release[pid] = min(at, first_release.get(pid, at))
    asks = [a for a in facts["governance_asks"] if window.holds(a["at"])]
    blocked = [a for a in asks if a["type"] in out_of_band.get(a["packet_id"], ())]
    before = [
        a
        for a in blocked
        if a["packet_id"] not in first_release
        or parse(a["at"]) < first_release[a["packet_id"]]
    ]
    by_type: dict[str, int] = {}
    for a in blocked:
        by_type[a["type"]] = by_type.get(a["type"], 0) + 1
    return {
        "all_asks": len(asks),
        "blocked": len(blocked),
        "before_release": len(before),
        "after_release": len(blocked) - len(before),
        "share_before": ratio(len(before), len(blocked)),
        "by_type": dict(sorted(by_type.items())),
    }


def _ranking_changes(facts: dict[str, list[Row]], window: Window) -> dict[str, Any]:
    previous: dict[str, str | None] = {}
    changes = preferred_changes = 0
    for r in sorted(
        facts["governance_rankings"], key=lambda r: (r["packet_id"], r["version"])
    ):
        pid = r["packet_id"]
        if pid in previous and window.holds(r["at"]):
            changes += 1
            if r["preferred"] != previous[pid]:
                preferred_changes += 1
        previous[pid] = r["preferred"]
    cycles = sum(
        1
        for c in facts["governance_cuts"]
        if c["packet_id"] in previous and window.holds(c["at"])
    )
    return {
        "changes": changes,
        "preferred_changes": preferred_changes,
        "cycles": cycles,
        "per_cycle": mean(changes, cycles),
        "preferred_per_cycle": mean(preferred_changes, cycles),
    }


def _residuals(released: Sequence[Row]) -> dict[str, Any]:
    counts = [int(r["residuals"]) for r in released]
    distribution: dict[str, int] = {}
    for n in sorted(counts):
        distribution[str(n)] = distribution.get(str(n), 0) + 1
    total = sum(counts)
    return {
        "releases": len(counts),
        "total": total,
        "mean": mean(total, len(counts)),
        "max": max(counts, default=0),
        "distribution": distribution,
    }


def _hold_frequency(holds: Sequence[Row], window: Window) -> dict[str, Any]:
    releases: dict[str, int] = {}
    evaluations: dict[str, int] = {}
    for h in holds:
        if window.holds(h["first_at"]):
            releases[h["code"]] = releases.get(h["code"], 0) + 1
            evaluations[h["code"]] = evaluations.get(h["code"], 0) + int(
                h["occurrences"]
            )
    ranked = sorted(releases, key=lambda code: (-releases[code], code))
    return {
        "total": sum(releases.values()),
        "by_code": [
            {"code": c, "releases": releases[c], "evaluations": evaluations[c]}
            for c in ranked
        ],
    }


# ------------------------------------------------------------------- CSV
def csv_rows(measures: dict[str, Any]) -> Iterable[tuple[str, str, str]]:
    """(measure, field, value) rows: nested fields joined with dots."""
    for key, measure in measures.items():
        yield key, "available", "true" if measure["available"] else "false"
        if "value" in measure:
            yield from (
                (key, path, value) for path, value in _flatten(measure["value"])
            )
        yield key, "definition", measure["definition"]


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, str]]:
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _flatten(item, f"{prefix}.{name}" if prefix else str(name))
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, dict) and "code" in item:
                rest = {k: v for k, v in item.items() if k != "code"}
                yield from _flatten(rest, f"{prefix}.{item['code']}")
    else:
        yield prefix, "" if value is None else str(value)


def to_csv(measures: dict[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("measure", "field", "value"))
    writer.writerows(csv_rows(measures))
    return out.getvalue()

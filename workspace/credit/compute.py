"""The service-credit calculation: facts and rules in, figures, flags and the
derivation out. Pure: no I/O, exact fractions throughout.

Order (documented in docs/API-additions.md): clip each outage to the period
(and to the service start), clip and merge maintenance, exclude maintenance
(per `maintenance_handling`), merge overlaps (largest users impacted at each
instant) or keep windows apart to sum them, bucket, drop runs under the
minimum, then numerator / denominator, uptime, band or tier or multiplier,
cap. Quire computes; it never decides whether a credit is owed.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from workspace.credit import windows as w
from workspace.credit.errors import CalculationInputError
from workspace.credit.numbers import cents, minutes, pct6, ratio, round_half_up
from workspace.credit.periods import format_instant as iso
from workspace.credit.rules import Facts, Outage, Rules, parse_request

_START = operator.itemgetter(0)
_END = operator.itemgetter(1)

NOTE = (
    "Quire computes under the rules given; it does not decide whether a credit "
    "is owed, approve one, or change billing. Flags name what a human must check."
)


@dataclass
class Trace:
    """Flags (one per code, with the windows concerned) and steps, in order."""

    flags: dict[str, dict[str, Any]] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)

    def flag(self, code: str, detail: str, window: str | None = None) -> None:
        entry = self.flags.setdefault(code, {"code": code, "detail": detail})
        if window is not None:
            entry.setdefault("windows", []).append(window)

    def step(self, name: str, detail: str, **data: Any) -> None:
        self.steps.append({"step": name, "detail": detail, **data})


def _min(seconds: int | Fraction) -> str:
    value = minutes(Fraction(seconds) / 60)
    return f"{value:,}" if isinstance(value, int) else f"{value:f}"


def _span(a: int, b: int) -> str:
    return f"{iso(a)}..{iso(b)}"


def _clip_outages(facts: Facts, rules: Rules, lo: int, trace: Trace) -> list[w.Segment]:
    period = facts.period
    outages = facts.outages
    if not outages or (
        min(map(_START, outages)) >= lo and max(map(_END, outages)) <= period.end
    ):
        kept = _weighted(
            facts, rules, outages
        )  # nothing to clip: what _clip_each gives
    else:
        kept = _clip_each(facts, rules, lo, trace)
    trace.step(
        "clip",
        f"{len(kept)} of {len(outages)} outage windows counted in "
        f"{_span(lo, period.end)}",
    )
    return kept


def _clip_each(facts: Facts, rules: Rules, lo: int, trace: Trace) -> list[w.Segment]:
    """Each outage cut to [lo, period end), with a flag and a step for each
    window cut or left out."""
    period = facts.period
    kept: list[w.Segment] = []
    for i, (start, end, users) in enumerate(facts.outages):
        cut = w.clip(start, end, lo, period.end)
        name = "" if cut == (start, end) else f"outages[{i}]"
        if cut is None:
            inside = w.clip(start, end, period.start, period.end)
            code = "OUTAGE_BEFORE_SERVICE_START" if inside else "OUTAGE_OUTSIDE_PERIOD"
            trace.flag(code, "windows left out: no part lies in the counted span", name)
            trace.step("clip", f"{name} {_span(start, end)} left out")
            continue
        if cut != (start, end):
            trace.flag(
                "OUTAGE_CLIPPED_TO_PERIOD", "windows cut at the period's edges", name
            )
            trace.step("clip", f"{name} {_span(start, end)} clipped to {_span(*cut)}")
        kept += _weighted(facts, rules, [(cut[0], cut[1], users)])
    return kept


def _weighted(facts: Facts, rules: Rules, outages: Sequence[Outage]) -> list[w.Segment]:
    """Outages as segments weighted 1, or by their users impacted (the licensed
    users when not given); windows of weight 0 left out."""
    if not rules.weight_by_users:
        return [(a, b, 1) for a, b, _ in outages]
    licensed = facts.licensed_users
    return [
        (a, b, weight)
        for a, b, users in outages
        if (weight := (licensed if users is None else users) or 0)
    ]


def _maintenance(facts: Facts, trace: Trace) -> list[w.Interval]:
    period = facts.period
    clipped = []
    for i, (a, b) in enumerate(facts.maintenance):
        cut = w.clip(a, b, period.start, period.end)
        if cut is None:
            trace.flag(
                "MAINTENANCE_OUTSIDE_PERIOD",
                "maintenance windows left out",
                f"maintenance[{i}]",
            )
        else:
            clipped.append(cut)
    merged = w.merge(clipped)
    if facts.maintenance:
        trace.step(
            "maintenance",
            f"{len(clipped)} maintenance windows in the period, merged into "
            f"{len(merged)} ({_min(w.length(merged))} minutes)",
        )
    return merged


def _downtime(
    segments: list[w.Segment], facts: Facts, rules: Rules, lo: int, trace: Trace
) -> tuple[list[w.Segment], list[w.Segment], list[w.Interval]]:
    """One window (sum mode) or all merged: bucketed, then short runs dropped."""
    size = rules.granularity_minutes * 60
    period = facts.period
    if rules.bucket_policy == "any_overlap":
        bucketed = w.bucket_any_overlap(segments, size, period.start, lo, period.end)
    else:
        bucketed = w.bucket_full(segments, size, period.start, period.end)
    kept, dropped = w.drop_short_runs(bucketed, rules.min_downtime_period_minutes * 60)
    return bucketed, kept, dropped


def _eligible(
    facts: Facts, rules: Rules, lo: int, maintenance: list[w.Interval], trace: Trace
) -> int:
    """The numerator in seconds (or user-seconds)."""
    clipped = _clip_outages(facts, rules, lo, trace)
    ordered = sorted(clipped)  # sorted once: the sweeps below re-sort in linear time
    inside = w.covered(ordered, maintenance)
    for a, b, _ in clipped if inside else ():
        if (a, b) in inside:
            trace.flag(
                "OUTAGE_WHOLLY_IN_MAINTENANCE",
                f"outage windows wholly inside maintenance "
                f"(handling: {rules.maintenance_handling})",
                _span(a, b),
            )
    excluding = rules.maintenance_handling != "none"
    overlap = w.overlapping_pairs(ordered)
    if rules.merge_overlaps:
        groups = [w.combine_max(ordered)]
        lengths = [w.weighted_length(groups[0])]
        if overlap:
            trace.flag(
                "OVERLAPPING_OUTAGES_MERGED",
                "overlapping outage windows were counted once"
                + (
                    " (largest users impacted at each instant)"
                    if rules.weight_by_users
                    else ""
                ),
            )
        trace.step(
            "merge",
            f"{len(clipped)} windows merged into {len(groups[0])} segments, "
            f"{_min(lengths[0])} {_unit(rules)}",
        )
    else:
        groups = [[seg] for seg in ordered]
        lengths = [(b - a) * weight for a, b, weight in ordered]
        if overlap:
            trace.flag(
                "OVERLAPPING_OUTAGES_SUMMED",
                "overlapping outage windows were each counted (merge_overlaps false)",
            )
        trace.step("merge", f"{len(clipped)} windows kept apart and summed")
    raw = sum(lengths)
    total, excluded, bucketed_total, dropped_all = 0, 0, 0, []
    for group, before in zip(groups, lengths, strict=True):
        if excluding:
            group = w.subtract(group, maintenance)
            excluded += before - w.weighted_length(group)
        bucketed, kept, dropped = _downtime(group, facts, rules, lo, trace)
        bucketed_length = w.weighted_length(bucketed)
        bucketed_total += bucketed_length
        dropped_all.extend(dropped)
        total += w.weighted_length(kept) if dropped else bucketed_length
    if excluding:
        trace.step(
            "exclude",
            f"maintenance ({rules.maintenance_handling}) removed "
            f"{_min(excluded)} {_unit(rules)} from downtime",
        )
    else:
        trace.step("exclude", "maintenance_handling none: nothing excluded")
    trace.step(
        "bucket",
        f"{rules.granularity_minutes}-minute buckets aligned to "
        f"{iso(facts.period.start)}, {rules.bucket_policy}: "
        f"{_min(raw - excluded)} -> {_min(bucketed_total)} {_unit(rules)}",
    )
    if dropped_all:
        trace.flag(
            "SHORT_RUNS_IGNORED",
            f"{len(dropped_all)} downtime runs under "
            f"{rules.min_downtime_period_minutes} minutes were not counted",
        )
        trace.step(
            "min_runs",
            f"{len(dropped_all)} runs under {rules.min_downtime_period_minutes} "
            f"minutes ignored: "
            + ", ".join(_span(a, b) for a, b in dropped_all[:20])
            + (" ..." if len(dropped_all) > 20 else ""),
        )
    if bucketed_total != raw - excluded:
        trace.flag(
            "PARTIAL_BUCKETS_ROUNDED",
            f"bucketing changed downtime from {_min(raw - excluded)} to "
            f"{_min(bucketed_total)} {_unit(rules)}",
        )
    return total


def _unit(rules: Rules) -> str:
    return "user-minutes" if rules.weight_by_users else "minutes"


def _denominator(
    facts: Facts, rules: Rules, lo: int, maintenance: list[w.Interval], trace: Trace
) -> int:
    start = lo if rules.denominator == "since_service_start" else facts.period.start
    seconds = facts.period.end - start
    span = _span(start, facts.period.end)
    text = f"{rules.denominator}: {span} = {_min(seconds)} minutes"
    if rules.maintenance_handling == "exclude_from_downtime_and_base":
        out = w.length(
            c for a, b in maintenance if (c := w.clip(a, b, start, facts.period.end))
        )
        seconds -= out
        text += f" minus {_min(out)} minutes of maintenance"
    if rules.weight_by_users:
        seconds *= facts.licensed_users or 0
        text += f" x {facts.licensed_users} licensed users"
    if seconds <= 0:
        raise CalculationInputError(
            "DENOMINATOR_EMPTY", "no time is left to measure uptime against"
        )
    trace.step("denominator", f"{text} = {_min(seconds)} {_unit(rules)}")
    return seconds


def _boundaries(rules: Rules) -> list[Fraction]:
    points = [rules.commitment_pct]
    for band in rules.bands or ():
        points += [p for p in (band.min, band.max) if p is not None]
    points += [t.below_pct for t in rules.tiers or ()]
    return points


def _band(rules: Rules, pct: Fraction, trace: Trace) -> tuple[Fraction, Any]:
    below = pct < rules.commitment_pct
    chosen: dict[str, Any] | None = None
    credit = Fraction(0)
    if rules.bands is not None:
        for i, band in enumerate(rules.bands):
            if band.holds(pct):
                credit = band.credit_pct
                chosen = {
                    "index": i,
                    "min": None if band.min is None else pct6(band.min),
                    "min_inclusive": band.min_inclusive,
                    "max": None if band.max is None else pct6(band.max),
                    "max_inclusive": band.max_inclusive,
                    "credit_pct": pct6(band.credit_pct),
                }
    elif rules.tiers is not None:
        under = [
            (t.below_pct, i, t) for i, t in enumerate(rules.tiers) if pct < t.below_pct
        ]
        if under:
            _, i, tier = min(under)
            credit = tier.credit_pct
            chosen = {
                "index": i,
                "below_pct": pct6(tier.below_pct),
                "credit_pct": pct6(tier.credit_pct),
            }
    if rules.multiplier is None:
        if chosen is None and below:
            trace.flag(
                "NO_BAND_MATCHES", "uptime is under the commitment but no band holds it"
            )
        if credit and not below:
            trace.flag(
                "BAND_DISAGREES_WITH_COMMITMENT",
                "a band grants credit at or above the commitment "
                "(bands are authoritative)",
            )
        trace.step(
            "band",
            f"band {chosen['index'] if chosen else 'none'}: credit {pct6(credit):f}%",
        )
    return credit, chosen


def compute(facts: Facts, rules: Rules) -> dict[str, Any]:
    trace = Trace()
    period = facts.period
    trace.step(
        "period",
        f"{period.label}: {_span(period.start, period.end)} "
        f"({_min(period.seconds)} minutes)",
    )
    lo = period.start
    if facts.service_start is not None and facts.service_start > period.start:
        lo = facts.service_start
        trace.flag("SERVICE_STARTED_MID_PERIOD", f"service started {iso(lo)}")
    maintenance = _maintenance(facts, trace)
    numerator = _eligible(facts, rules, lo, maintenance, trace)
    denominator = _denominator(facts, rules, lo, maintenance, trace)
    trace.step("numerator", f"eligible downtime {_min(numerator)} {_unit(rules)}")
    if numerator > denominator:
        trace.flag(
            "DOWNTIME_EXCEEDS_BASE", "downtime exceeds the base; uptime shown as 0"
        )
    uptime = max(Fraction(0), 1 - Fraction(numerator, denominator))
    pct = uptime * 100
    trace.step(
        "uptime",
        f"1 - {_min(numerator)}/{_min(denominator)} = {ratio(uptime)} = {pct6(pct):f}%",
    )
    for point in _boundaries(rules):
        if pct == point:
            trace.flag("UPTIME_ON_BAND_BOUNDARY", f"uptime is exactly {pct6(point):f}%")
        elif pct6(pct) == pct6(point):
            trace.flag(
                "UPTIME_ROUNDS_TO_BOUNDARY",
                f"uptime shows as {pct6(point):f}% but is not exactly that",
            )
    credit_pct, band = _band(rules, pct, trace)
    amount = _amount(facts, rules, pct, numerator, credit_pct, trace)
    shown = cents(amount)
    if rules.multiplier is not None:
        base = facts.cap_base_amount
        credit_pct = Fraction(shown) / base * 100 if base else Fraction(0)
        trace.step("credit_pct", f"{shown:f} / {base} x 100 = {pct6(credit_pct):f}%")
    return {
        "eligible_downtime_minutes": minutes(Fraction(numerator, 60)),
        "denominator_minutes": minutes(Fraction(denominator, 60)),
        "units": _unit(rules),
        "uptime_exact_fraction": ratio(uptime),
        "uptime_pct": pct6(pct),
        "credit_pct": pct6(credit_pct),
        "credit_amount": shown,
        "band": band,
        "flags": list(trace.flags.values()),
        "steps": trace.steps,
        "note": NOTE,
    }


def _amount(
    facts: Facts,
    rules: Rules,
    pct: Fraction,
    numerator: int,
    credit_pct: Fraction,
    trace: Trace,
) -> Fraction:
    if rules.multiplier is not None:
        if pct < rules.commitment_pct:
            per_minute = facts.fee_per_minute or Fraction(0)
            amount = rules.multiplier * per_minute * Fraction(numerator, 60)
            trace.step(
                "credit",
                f"{rules.multiplier} x {per_minute} per minute x "
                f"{_min(numerator)} {_unit(rules)} = {round_half_up(amount, 6):f}",
            )
        else:
            amount = Fraction(0)
            trace.step("credit", "uptime meets the commitment: multiplier not applied")
    else:
        amount = credit_pct / 100 * facts.fee_amount
        trace.step(
            "credit",
            f"{pct6(credit_pct):f}% of {facts.fee_amount} = "
            f"{round_half_up(amount, 6):f}",
        )
    if rules.cap_pct is not None:
        cap = rules.cap_pct / 100 * facts.cap_base_amount
        if amount > cap:
            trace.flag(
                "CREDIT_CAPPED",
                f"credit capped at {pct6(rules.cap_pct):f}% of {facts.cap_base_amount}",
            )
            trace.step(
                "cap",
                f"{round_half_up(amount, 6):f} capped to {round_half_up(cap, 6):f}",
            )
            amount = cap
    return amount


def calculate(body: Any, max_windows: int) -> dict[str, Any]:
    """Parses `{facts, rules}` and computes (CalculationInputError if bad)."""
    facts, rules = parse_request(body, max_windows)
    return compute(facts, rules)


__all__: Sequence[str] = ["NOTE", "calculate", "compute"]

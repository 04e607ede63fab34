"""Properties of the interval arithmetic and the calculation (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.credit_helpers import body, window
from workspace.credit import calculate
from workspace.credit import windows as w

spans = st.tuples(st.integers(0, 200), st.integers(1, 60)).map(
    lambda t: (t[0], t[0] + t[1])
)
weighted = st.tuples(spans, st.integers(1, 5)).map(lambda t: (*t[0], t[1]))

APRIL = datetime(2024, 4, 1, tzinfo=UTC)


def at(minute: int) -> str:
    return (APRIL + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def down(seconds: list[tuple[int, int]]) -> set[int]:
    return {t for a, b in seconds for t in range(a, b)}


@given(st.lists(spans, max_size=20), st.randoms())
def test_merging_is_idempotent_and_order_independent(
    items: list[tuple[int, int]], rnd: Any
) -> None:
    merged = w.merge(items)
    assert w.merge(merged) == merged
    shuffled = list(items)
    rnd.shuffle(shuffled)
    assert w.merge(shuffled) == merged
    assert down(merged) == down(items)


@given(st.lists(spans, max_size=20), st.integers(0, 60))
def test_splitting_a_window_changes_nothing_when_merging(
    items: list[tuple[int, int]], cut: int
) -> None:
    split = []
    for a, b in items:
        c = min(b - 1, a + cut)
        split += [(a, c), (c, b)] if a < c else [(a, b)]
    assert w.merge(split) == w.merge(items)


@given(spans, st.integers(0, 200), st.integers(1, 100))
def test_clipping_to_the_period_is_exact(
    item: tuple[int, int], lo: int, size: int
) -> None:
    cut = w.clip(*item, lo, lo + size)
    inside = {t for t in range(*item) if lo <= t < lo + size}
    assert (set(range(*cut)) if cut else set()) == inside


@given(st.lists(weighted, max_size=12), st.integers(2, 9), st.integers(150, 300))
def test_buckets_match_a_walk_over_every_unit(
    items: list[tuple[int, int, int]], size: int, hi: int
) -> None:
    segments = w.combine_max(items)
    weight = {
        t: max(x for a, b, x in items if a <= t < b)
        for t in down([(a, b) for a, b, _ in items])
    }
    any_expected = full_expected = 0
    for start in range(0, hi, size):
        units = range(start, min(start + size, hi))
        seen = [weight.get(t, 0) for t in units]
        any_expected += max(seen) * len(units)
        full_expected += (min(seen) if all(seen) else 0) * len(units)
    clipped = [s for a, b, x in segments if (s := (a, min(b, hi), x))[0] < s[1]]
    assert w.weighted_length(w.bucket_any_overlap(clipped, size, 0, 0, hi)) == (
        any_expected
    )
    assert w.weighted_length(w.bucket_full(clipped, size, 0, hi)) == full_expected


@given(st.lists(spans, max_size=10), st.lists(spans, max_size=5))
def test_subtract_removes_exactly_the_cuts(
    items: list[tuple[int, int]], cuts: list[tuple[int, int]]
) -> None:
    segments = [(a, b, 1) for a, b in w.merge(items)]
    left = w.subtract(segments, w.merge(cuts))
    assert down([(a, b) for a, b, _ in left]) == down(items) - down(cuts)


def outages_of(items: list[tuple[int, int]]) -> list[dict[str, Any]]:
    return [window(at(a * 37), at(a * 37 + n)) for a, n in items]


calc_windows = st.lists(
    st.tuples(st.integers(0, 1100), st.integers(1, 300)), max_size=8
)
rule_sets = st.fixed_dictionaries(
    {
        "granularity_minutes": st.sampled_from([1, 5, 60]),
        "bucket_policy": st.sampled_from(["any_overlap", "full_bucket"]),
        "min_downtime_period_minutes": st.sampled_from([0, 10]),
        "merge_overlaps": st.booleans(),
    }
)


@settings(max_examples=60, deadline=None)
@given(calc_windows, st.tuples(st.integers(0, 1100), st.integers(1, 300)), rule_sets)
def test_more_downtime_never_raises_uptime(
    items: list[tuple[int, int]], extra: tuple[int, int], rules: dict[str, Any]
) -> None:
    before = calculate(body(outages=outages_of(items), **rules), 100)
    after = calculate(body(outages=outages_of([*items, extra]), **rules), 100)
    assert Fraction(after["uptime_exact_fraction"]) <= Fraction(
        before["uptime_exact_fraction"]
    )


@settings(max_examples=60, deadline=None)
@given(
    calc_windows,
    st.integers(1, 100),
    st.integers(0, 100),
    st.integers(0, 10_000),
)
def test_the_credit_never_exceeds_the_cap(
    items: list[tuple[int, int]], multiplier: int, cap_pct: int, fee: int
) -> None:
    result = calculate(
        body(
            outages=outages_of(items),
            fee=fee,
            facts={"fee_per_minute": "7/3", "cap_base_amount": fee},
            commitment_pct=100,
            multiplier=multiplier,
            cap_pct=cap_pct,
        ),
        100,
    )
    assert result["credit_amount"] <= Decimal(cap_pct * fee) / 100 + Decimal("0.005")
    assert result["credit_pct"] <= cap_pct

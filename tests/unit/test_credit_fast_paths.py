"""The calculator's sweeps against the straightforward readings (hypothesis):
a walk over every unit of time, widening then merging, clipping each window."""

from __future__ import annotations

import itertools
from fractions import Fraction

from hypothesis import example, given, settings
from hypothesis import strategies as st

from workspace.credit import windows as w
from workspace.credit.compute import Trace, _clip_each, _clip_outages
from workspace.credit.periods import parse_period
from workspace.credit.rules import Facts, parse_rules

weighted = st.tuples(st.integers(0, 200), st.integers(1, 40), st.integers(1, 4)).map(
    lambda t: (t[0], t[0] + t[1], t[2])
)


def canonical(weight: dict[int, int]) -> list[tuple[int, int, int]]:
    """A weight per unit as maximal runs of one weight (the unit walk)."""
    result: list[tuple[int, int, int]] = []
    for t in sorted(weight):
        if result and result[-1][1] == t and result[-1][2] == weight[t]:
            result[-1] = (result[-1][0], t + 1, weight[t])
        else:
            result.append((t, t + 1, weight[t]))
    return result


def largest(items: list[tuple[int, int, int]]) -> dict[int, int]:
    weight: dict[int, int] = {}
    for a, b, x in items:
        for t in range(a, b):
            weight[t] = max(weight.get(t, 0), x)
    return weight


@given(st.lists(weighted, max_size=25))
def test_combine_max_is_the_unit_walk_exactly(
    items: list[tuple[int, int, int]],
) -> None:
    assert w.combine_max(items) == canonical(largest(items))
    unweighted = [(a, b, 1) for a, b, _ in items]
    assert w.combine_max(unweighted) == canonical(largest(unweighted))
    assert w.merge([(a, b) for a, b, _ in items]) == [
        (a, b) for a, b, _ in canonical(largest(unweighted))
    ]


@given(st.lists(weighted, max_size=25))
@example([(0, 5, 1), (5, 9, 2)])  # touching is not overlapping
@example([(0, 5, 1), (9, 12, 1), (4, 6, 1)])
def test_overlap_is_two_windows_sharing_a_unit(
    items: list[tuple[int, int, int]],
) -> None:
    shared = any(
        max(a, c) < min(b, d)
        for (a, b, _), (c, d, _) in itertools.combinations(items, 2)
    )
    assert w.overlapping_pairs(items) == shared


@given(
    st.lists(weighted, max_size=25),
    st.lists(st.tuples(st.integers(0, 220), st.integers(1, 50)), max_size=6),
)
def test_covered_windows_are_those_inside_one_cut(
    items: list[tuple[int, int, int]], raw_cuts: list[tuple[int, int]]
) -> None:
    cuts = w.merge([(a, a + n) for a, n in raw_cuts])
    inside = {(a, b) for a, b, _ in items if any(c <= a and b <= d for c, d in cuts)}
    assert w.covered(items, cuts) == inside


@given(
    st.lists(weighted, max_size=25),
    st.lists(st.tuples(st.integers(0, 220), st.integers(1, 50)), max_size=6),
)
@example([(0, 10, 1)], [(5, 5)])  # a segment ending where a cut ends
@example([(0, 10, 1), (30, 40, 2)], [(5, 5), (20, 15)])
@example([(0, 30, 1)], [(5, 5), (20, 10)])  # its rest ending where the next cut ends
def test_subtract_cuts_each_segment_exactly(
    items: list[tuple[int, int, int]], raw_cuts: list[tuple[int, int]]
) -> None:
    """Bisected between the cuts, against each segment walked unit by unit."""
    segments = w.combine_max(items)
    cuts = w.merge([(a, a + n) for a, n in raw_cuts])
    cut = {t for c, d in cuts for t in range(c, d)}
    expected = []
    for a, b, x in segments:
        pieces: list[tuple[int, int, int]] = []
        for t in range(a, b):
            if t in cut:
                continue
            if pieces and pieces[-1][1] == t:
                pieces[-1] = (pieces[-1][0], t + 1, x)
            else:
                pieces.append((t, t + 1, x))
        expected += pieces
    assert w.subtract(segments, cuts) == expected


@given(
    st.lists(weighted, max_size=25),
    st.integers(2, 9),
    st.integers(0, 8),
    st.integers(0, 60),
    st.integers(150, 260),
)
@example([(0, 1, 1), (2, 3, 2)], 5, 0, 0, 200)  # a heavier one in the same bucket
@example([(0, 1, 2), (2, 3, 1), (4, 9, 2)], 5, 0, 0, 200)
def test_any_overlap_buckets_are_the_widened_windows_merged(
    items: list[tuple[int, int, int]], size: int, origin: int, lo: int, hi: int
) -> None:
    """The one pass in bucket numbers against widening each segment to its
    buckets, cutting to [lo, hi) and merging again (the former way)."""
    segments = w.combine_max(items)
    widened = []
    for a, b, x in segments:
        first = origin + (a - origin) // size * size
        last = origin + -(-(b - origin) // size) * size
        cut = w.clip(first, last, lo, hi)
        if cut:
            widened.append((cut[0], cut[1], x))
    assert w.bucket_any_overlap(segments, size, origin, lo, hi) == w.combine_max(
        widened
    )


APRIL = parse_period("2024-04")


@settings(deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-200, 200), st.integers(1, 300), st.integers(0, 9)),
        max_size=10,
    ),
    st.booleans(),
    st.sampled_from([None, 9]),
    st.sampled_from([APRIL.start, APRIL.start + 60, APRIL.end - 3_600]),
)
def test_clipping_at_once_is_clipping_each_window(
    spans: list[tuple[int, int, int]],
    by_users: bool,
    licensed: int | None,
    lo: int,
) -> None:
    """Windows near the counted span's two edges: when none needs cutting,
    they are taken at once, and that is what clipping each gives."""
    outages = tuple(
        (at + a, at + a + n, None if u == 9 else u)
        for i, (a, n, u) in enumerate(spans)
        for at in [lo if i % 2 else APRIL.end - 150]
    )
    facts = Facts(
        period=APRIL,
        outages=outages,
        maintenance=(),
        service_start=None,
        licensed_users=licensed,
        fee_amount=Fraction(1),
        fee_per_minute=None,
        cap_base_amount=Fraction(1),
    )
    rules = parse_rules(
        {"commitment_pct": 99, "multiplier": 1, "weight_by_users": by_users}
    )
    each_trace, trace = Trace(), Trace()
    expected = _clip_each(facts, rules, lo, each_trace)
    assert _clip_outages(facts, rules, lo, trace) == expected
    assert trace.flags == each_trace.flags
    assert trace.steps[:-1] == each_trace.steps
    assert trace.steps[-1]["step"] == "clip"

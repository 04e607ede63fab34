"""Half-open time windows as integer seconds: clip, merge, subtract, bucket.

A *segment* is `(start, end, weight)` with `start < end`; lists of segments
returned here are sorted and disjoint. Unweighted downtime has weight 1;
user-weighted downtime carries the users impacted. Every function is a sort
and a sweep over the windows (never a walk over the minutes of the period).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Iterable, Sequence

Interval = tuple[int, int]
Segment = tuple[int, int, int]


def clip(start: int, end: int, lo: int, hi: int) -> Interval | None:
    """[start, end) cut to [lo, hi), or None when nothing is left."""
    a, b = max(start, lo), min(end, hi)
    return (a, b) if a < b else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union as sorted, disjoint intervals (touching ones join)."""
    result: list[Interval] = []
    for a, b in sorted(intervals):
        if result and a <= result[-1][1]:
            if b > result[-1][1]:
                result[-1] = (result[-1][0], b)
        else:
            result.append((a, b))
    return result


def overlapping_pairs(intervals: Sequence[Interval]) -> bool:
    """Whether any two intervals share a positive length of time."""
    reach = None
    for a, b in sorted(intervals):
        if reach is not None and a < reach:
            return True
        reach = b if reach is None else max(reach, b)
    return False


def combine_max(segments: Iterable[Segment]) -> list[Segment]:
    """Overlapping weighted windows as one weight per instant: the largest
    (the same users cannot be down twice at once). Equal neighbours join.

    Windows are mostly apart: they are cut into runs that overlap among
    themselves, and only a run of several is swept with a heap."""
    items = sorted(segments)
    if not items:
        return []
    if len({w for _, _, w in items}) == 1:
        weight = items[0][2]
        return [(a, b, weight) for a, b in merge((a, b) for a, b, _ in items)]
    result: list[Segment] = []
    run = [items[0]]
    reach = items[0][1]
    for seg in items[1:]:
        if seg[0] < reach:
            run.append(seg)
            if seg[1] > reach:
                reach = seg[1]
        else:
            _sweep(run, result)
            run = [seg]
            reach = seg[1]
    _sweep(run, result)
    return result


def _append(result: list[Segment], a: int, b: int, w: int) -> None:
    if result and result[-1][1] == a and result[-1][2] == w:
        result[-1] = (result[-1][0], b, w)
    else:
        result.append((a, b, w))


def _sweep(run: list[Segment], result: list[Segment]) -> None:
    """The largest weight at each instant of one run of overlapping windows
    (sorted by start), appended to `result`."""
    if len(run) == 1:
        _append(result, *run[0])
        return
    times = sorted({t for a, b, _ in run for t in (a, b)})
    active: list[tuple[int, int]] = []  # (-weight, end)
    i = 0
    for t, nxt in itertools.pairwise(times):
        while i < len(run) and run[i][0] <= t:
            heapq.heappush(active, (-run[i][2], run[i][1]))
            i += 1
        while active and active[0][1] <= t:
            heapq.heappop(active)
        if active:
            _append(result, t, nxt, -active[0][0])


def subtract(segments: Sequence[Segment], cuts: Sequence[Interval]) -> list[Segment]:
    """Sorted disjoint segments minus sorted disjoint cuts (a sweep)."""
    result: list[Segment] = []
    j = 0
    for a, b, w in segments:
        while j < len(cuts) and cuts[j][1] <= a:
            j += 1
        k, pos = j, a
        while k < len(cuts) and cuts[k][0] < b:
            if cuts[k][0] > pos:
                result.append((pos, cuts[k][0], w))
            pos = max(pos, cuts[k][1])
            k += 1
        if pos < b:
            result.append((pos, b, w))
    return result


def covered(start: int, end: int, cuts: Sequence[Interval]) -> bool:
    """Whether [start, end) lies wholly inside one of the merged cuts."""
    lo, hi = 0, len(cuts)
    while lo < hi:  # the last cut starting at or before `start`
        mid = (lo + hi) // 2
        if cuts[mid][0] <= start:
            lo = mid + 1
        else:
            hi = mid
    return lo > 0 and cuts[lo - 1][1] >= end


def runs(segments: Sequence[Segment]) -> list[list[Segment]]:
    """Sorted disjoint segments grouped into contiguous runs."""
    groups: list[list[Segment]] = []
    for seg in segments:
        if groups and groups[-1][-1][1] == seg[0]:
            groups[-1].append(seg)
        else:
            groups.append([seg])
    return groups


def bucket_any_overlap(
    segments: Sequence[Segment], size: int, origin: int, lo: int, hi: int
) -> list[Segment]:
    """Every clock-aligned bucket (from `origin`, cut at `hi`) touched by
    downtime counts whole, at the largest weight seen in it; kept in [lo, hi)."""
    if size == 1:
        return list(segments)
    widened = []
    for a, b, w in segments:
        first = origin + (a - origin) // size * size
        last = origin + -(-(b - origin) // size) * size
        cut = clip(first, last, lo, hi)
        if cut:
            widened.append((cut[0], cut[1], w))
    return combine_max(widened)


def bucket_full(
    segments: Sequence[Segment], size: int, origin: int, hi: int
) -> list[Segment]:
    """Only buckets wholly covered by downtime count, at the smallest weight
    seen in them; the last bucket ends at `hi` if the period does."""
    if size == 1:
        return list(segments)
    result: list[Segment] = []
    for run in runs(segments):
        run_start, run_end = run[0][0], run[-1][1]
        first = origin + -(-(run_start - origin) // size) * size
        stop = run_end if run_end == hi else origin + (run_end - origin) // size * size
        if stop <= first:
            continue
        partial: dict[int, int] = {}  # bucket start -> smallest weight in it
        for a, b, w in run:
            full_a = max(first, origin + -(-(a - origin) // size) * size)
            full_b = min(stop, b if b == hi else origin + (b - origin) // size * size)
            if full_a < full_b:
                result.append((full_a, full_b, w))
            # The (at most two) buckets this segment touches but does not fill.
            for edge in (a, b - 1):
                start = origin + (edge - origin) // size * size
                end = min(start + size, hi)
                if first <= start < stop and not (a <= start and b >= end):
                    partial[start] = min(partial.get(start, w), w)
        result.extend((s, min(s + size, hi), w) for s, w in partial.items())
    return combine_max(result)


def drop_short_runs(
    segments: Sequence[Segment], minimum: int
) -> tuple[list[Segment], list[Interval]]:
    """Keeps contiguous runs of at least `minimum` seconds; returns the kept
    segments and the dropped runs."""
    kept: list[Segment] = []
    dropped: list[Interval] = []
    for run in runs(segments):
        if run[-1][1] - run[0][0] >= minimum:
            kept.extend(run)
        else:
            dropped.append((run[0][0], run[-1][1]))
    return kept, dropped


def weighted_length(segments: Iterable[Segment]) -> int:
    return sum((b - a) * w for a, b, w in segments)


def length(intervals: Iterable[Interval]) -> int:
    return sum(b - a for a, b in intervals)

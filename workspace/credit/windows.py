"""Half-open time windows as integer seconds: clip, merge, subtract, bucket.

A *segment* is `(start, end, weight)` with `start < end`; lists of segments
returned here are sorted and disjoint. Unweighted downtime has weight 1;
user-weighted downtime carries the users impacted. Every function is a sort
and a sweep over the windows (never a walk over the minutes of the period).
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import operator
from collections.abc import Iterable, Sequence

Interval = tuple[int, int]
Segment = tuple[int, int, int]

_START = operator.itemgetter(0)
_END = operator.itemgetter(1)
_WEIGHT = operator.itemgetter(2)
_INTERVAL = operator.itemgetter(0, 1)


def clip(start: int, end: int, lo: int, hi: int) -> Interval | None:
    """[start, end) cut to [lo, hi), or None when nothing is left."""
    a, b = max(start, lo), min(end, hi)
    return (a, b) if a < b else None


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """The union as sorted, disjoint intervals (touching ones join): a new
    interval begins where a start passes the furthest end before it (found
    with C-level maps, not a Python step per interval)."""
    items = sorted(intervals)
    if not items:
        return []
    starts = list(map(_START, items))
    reach = list(itertools.accumulate(map(_END, items), max))
    firsts = [
        0,
        *itertools.compress(range(1, len(items)), map(operator.gt, starts[1:], reach)),
    ]
    lasts = [*map(operator.sub, firsts[1:], itertools.repeat(1)), len(items) - 1]
    firsts_at = map(starts.__getitem__, firsts)
    return list(zip(firsts_at, map(reach.__getitem__, lasts), strict=True))


def overlapping_pairs(intervals: Iterable[Interval] | Iterable[Segment]) -> bool:
    """Whether any two windows share a positive length of time: some window
    starts before the furthest end of those sorted ahead of it (C-level maps;
    a sorted input is sorted again in linear time)."""
    items = sorted(intervals)
    reach = itertools.accumulate(map(_END, items), max)
    return any(map(operator.lt, map(_START, itertools.islice(items, 1, None)), reach))


def combine_max(segments: Iterable[Segment]) -> list[Segment]:
    """Overlapping weighted windows as one weight per instant: the largest
    (the same users cannot be down twice at once). Equal neighbours join, so
    the result is the one canonical form of that step function.

    One sweep in start order with a heap of the open windows (largest weight
    on top; windows that have ended are dropped when they surface)."""
    items = sorted(segments)
    if not items:
        return []
    if len(set(map(_WEIGHT, items))) == 1:
        merged = merge(map(_INTERVAL, items))
        return list(
            zip(map(_START, merged), map(_END, merged), itertools.repeat(items[0][2]))
        )
    result: list[Segment] = []
    active: list[tuple[int, int]] = []  # (-weight, end)
    pos = items[0][0]  # everything before `pos` is in `result`
    push, pop = heapq.heappush, heapq.heappop
    horizon = max(map(_END, items))  # a last, empty window there drains the heap
    for a, b, w in itertools.chain(items, ((horizon, horizon, 0),)):
        while active and pos < a:
            top, end = active[0]
            if end > pos:
                stop = end if end < a else a
                last = result[-1] if result else None
                if last is not None and last[1] == pos and last[2] == -top:
                    result[-1] = (last[0], stop, -top)
                else:
                    result.append((pos, stop, -top))
                pos = stop
            if end <= pos:
                pop(active)
        if pos < a:
            pos = a
        push(active, (-w, b))
    return result


def subtract(segments: Sequence[Segment], cuts: Sequence[Interval]) -> list[Segment]:
    """Sorted disjoint segments minus sorted disjoint cuts. The segments
    between two cuts are copied as they are (found by bisection); only those
    a cut touches are cut, and what is left of one past a cut is `carry`."""
    result: list[Segment] = []
    i = 0  # segments[:i] are done
    carry: Segment | None = None  # a segment's rest after a cut, before segments[i]
    for c, d in cuts:
        if carry is not None:
            a, b, w = carry
            if a < c:
                result.append((a, min(b, c), w))
            carry = (d, b, w) if b > d else None
            if carry is not None:  # the cut lies inside it
                continue
        j = bisect.bisect_right(segments, c, lo=i, key=_END)
        result += segments[i:j]
        i = bisect.bisect_left(segments, d, lo=j, key=_START)
        for a, b, w in segments[j:i]:  # each ends after c and starts before d
            if a < c:
                result.append((a, c, w))
            if b > d:  # only the last one can
                carry = (d, b, w)
    if carry is not None:
        result.append(carry)
    result += segments[i:]
    return result


def covered(windows: Iterable[Segment], cuts: Sequence[Interval]) -> set[Interval]:
    """The windows lying wholly inside one of the merged cuts. A window starting
    in a cut [c, d) lies inside it exactly when it ends by d (merged cuts are
    apart), so each cut looks at the windows starting in it (bisected)."""
    items = sorted(windows)
    found: set[Interval] = set()
    for c, d in cuts:
        first = bisect.bisect_left(items, c, key=_START)
        last = bisect.bisect_left(items, d, lo=first, key=_START)
        found.update((a, b) for a, b, _ in items[first:last] if b <= d)
    return found


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
    downtime counts whole, at the largest weight seen in it; kept in [lo, hi).

    `segments` are sorted and disjoint (as returned here), so the buckets a
    segment covers are its own but for the first, which it may share with the
    segments before it: one pass in bucket numbers, no second merge."""
    if size == 1:
        return list(segments)
    if not segments:
        return []
    spans: list[Segment] = []  # (first bucket, end bucket, weight), canonical
    a, b, lw = segments[0]  # the last span is (lk, le, lw), not yet in `spans`
    lk, le = (a - origin) // size, -(-(b - origin) // size)
    for a, b, w in itertools.islice(segments, 1, None):
        k = (a - origin) // size
        end = -(-(b - origin) // size)
        if le > k:  # bucket k is the last span's too
            if w <= lw:
                k += 1
                if k == end:
                    continue
            elif lk == k:
                lk, le, lw = spans.pop() if spans else (k, k, w)
            else:
                le = k
        if le == k and lw == w:
            le = end
        else:
            spans.append((lk, le, lw))
            lk, le, lw = k, end, w
    spans.append((lk, le, lw))
    starts = [origin + k * size for k, _, _ in spans]
    ends = [origin + end * size for _, end, _ in spans]
    cut = starts[0] < lo or ends[-1] > hi
    if cut:  # to [lo, hi)
        starts = [lo if a < lo else a for a in starts]
        ends = [hi if b > hi else b for b in ends]
    result = list(zip(starts, ends, map(_WEIGHT, spans), strict=True))
    return [seg for seg in result if seg[0] < seg[1]] if cut else result


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
    if minimum <= 0:
        return list(segments), []
    kept: list[Segment] = []
    dropped: list[Interval] = []
    for run in runs(segments):
        if run[-1][1] - run[0][0] >= minimum:
            kept.extend(run)
        else:
            dropped.append((run[0][0], run[-1][1]))
    return kept, dropped


def weighted_length(segments: Iterable[Segment]) -> int:
    items = segments if isinstance(segments, list) else list(segments)
    lengths = map(operator.sub, map(_END, items), map(_START, items))
    return sum(map(operator.mul, lengths, map(_WEIGHT, items)))


def length(intervals: Iterable[Interval]) -> int:
    items = intervals if isinstance(intervals, list) else list(intervals)
    total: int = sum(map(_END, items)) - sum(map(_START, items))
    return total

"""Benchmark: the service-credit calculator (interval sweep) beside a naive
minute-by-minute array measured in the same run.

Two workloads: a month at one-minute granularity with 10,000 outage windows
(overlapping, with maintenance excluded), and a quarter with 5-minute
any_overlap buckets and user weighting. The calculator's time includes
parsing and validating the facts and rules and writing the steps; the
baseline only counts minutes. Target: well under 50 ms each.
Run: `.venv/bin/python bench/bench_credit.py`.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workspace.credit import calculate
from workspace.credit.compute import compute
from workspace.credit.rules import parse_request

WINDOWS = 10_000
REPEATS = 7
BANDS = [
    {"min": "99.0", "max": "99.99", "credit_pct": 10},
    {"min": "95.0", "max": "99.0", "credit_pct": 30},
    {"max": "95.0", "credit_pct": 100},
]


def iso(base: datetime, minute: int) -> str:
    return (base + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ")


def workload(
    period: str, base: datetime, minutes: int, weighted: bool
) -> tuple[dict[str, Any], list[tuple[int, int, int]], list[tuple[int, int]]]:
    rnd = random.Random(2)
    spans = []
    for _ in range(WINDOWS):
        start = rnd.randrange(0, minutes - 30)
        spans.append((start, start + rnd.randint(1, 30), rnd.randint(1, 500)))
    maint = [(d * 1440 + 120, d * 1440 + 180) for d in range(0, minutes // 1440, 7)]
    outages = []
    for a, b, users in spans:
        item = {"start": iso(base, a), "end": iso(base, b)}
        if weighted:
            item["users_impacted"] = users
        outages.append(item)
    facts: dict[str, Any] = {
        "period": period,
        "outages": outages,
        "maintenance": [{"start": iso(base, a), "end": iso(base, b)} for a, b in maint],
        "fee_amount": "12000",
    }
    rules: dict[str, Any] = {
        "commitment_pct": "99.99",
        "bands": BANDS,
        "maintenance_handling": "exclude_from_downtime",
    }
    if weighted:
        facts["licensed_users"] = 500
        rules.update(weight_by_users=True, granularity_minutes=5)
    return {"facts": facts, "rules": rules}, spans, maint


def naive(
    minutes: int,
    spans: list[tuple[int, int, int]],
    maint: list[tuple[int, int]],
    weighted: bool,
    bucket: int,
) -> int:
    """Minute array: the largest users down in each minute, maintenance
    cleared, then each bucket counted whole at its largest weight."""
    down = [0] * minutes
    for a, b, users in spans:
        w = users if weighted else 1
        for m in range(a, b):
            if down[m] < w:
                down[m] = w
    for a, b in maint:
        for m in range(a, b):
            down[m] = 0
    total = 0
    for start in range(0, minutes, bucket):
        chunk = down[start : start + bucket]
        total += max(chunk) * len(chunk)
    return total


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    samples, result = [], None
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples), result


def run(label: str, period: str, base: datetime, minutes: int, weighted: bool) -> None:
    body, spans, maint = workload(period, base, minutes, weighted)
    quire_ms, result = timed(lambda: calculate(body, 50_000))
    facts, rules = parse_request(body, 50_000)
    compute_ms, _ = timed(lambda: compute(facts, rules))
    bucket = 5 if weighted else 1
    naive_ms, expected = timed(lambda: naive(minutes, spans, maint, weighted, bucket))
    assert result["eligible_downtime_minutes"] == expected, (result, expected)
    print(
        f"{label}: calculator {quire_ms:.1f} ms (median of {REPEATS}; "
        f"{compute_ms:.1f} ms of it computing, the rest parsing and checking "
        f"20,000 timestamps), "
        f"naive minute array {naive_ms:.1f} ms; "
        f"{result['eligible_downtime_minutes']:,} {result['units']} down, "
        f"uptime {result['uptime_pct']}%",
        flush=True,
    )


if __name__ == "__main__":
    run("month, 1-minute, 10,000 windows", "2024-01",
        datetime(2024, 1, 1, tzinfo=UTC), 31 * 1440, weighted=False)  # fmt: skip
    run("quarter, 5-minute buckets, user-weighted, 10,000 windows", "2024-Q1",
        datetime(2024, 1, 1, tzinfo=UTC), 91 * 1440, weighted=True)  # fmt: skip

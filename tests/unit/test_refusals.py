"""The refusal coalescer on its own: windows, exact counts, bounded memory."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from workspace.accounts import Principal
from workspace.refusals import RefusalCoalescer

RITA = Principal("rita", "Rita", frozenset())
BEN = Principal("ben", "Ben", frozenset())


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 3, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.records: list[tuple[str, str, int]] = []
        self.fail = False

    def __call__(self, who: Principal, fields: dict[str, Any], count: int) -> None:
        if self.fail:
            raise RuntimeError("database away")
        self.records.append((who.user_id, fields["request"], count))


def test_repeats_in_a_window_become_one_counted_record_on_the_next_refusal() -> None:
    clock, record = Clock(), Recorder()
    refusals = RefusalCoalescer(record, clock, window_seconds=60)
    for _ in range(5):
        refusals.refused(RITA, "POST /a", "ROLE_NOT_ALLOWED", "no", "p1")
    refusals.refused(BEN, "POST /a", "ROLE_NOT_ALLOWED", "no", "p1")  # another key
    assert record.records == [("rita", "POST /a", 1), ("ben", "POST /a", 1)]
    clock.now += timedelta(seconds=60)
    refusals.refused(RITA, "POST /a", "ROLE_NOT_ALLOWED", "no", "p1")
    assert record.records[2:] == [("rita", "POST /a", 4), ("rita", "POST /a", 1)]
    refusals.close()
    assert sum(c for _, _, c in record.records) == 7


def test_memory_is_bounded_and_an_evicted_window_is_recorded_not_lost() -> None:
    clock, record = Clock(), Recorder()
    refusals = RefusalCoalescer(record, clock, max_keys=3)
    for n in range(10):
        for _ in range(3):
            refusals.refused(RITA, f"POST /{n}", "X", "no", None)
    assert len(refusals._windows) == 3
    refusals.flush(everything=True)
    assert sum(c for _, _, c in record.records) == 30
    assert len(record.records) == 20  # per key: the first, then the repeats


def test_a_failed_write_keeps_the_count_for_later() -> None:
    clock, record = Clock(), Recorder()
    refusals = RefusalCoalescer(record, clock)
    for _ in range(4):
        refusals.refused(RITA, "POST /a", "X", "no", None)
    record.fail = True
    with pytest.raises(RuntimeError):
        refusals.flush(everything=True)
    assert refusals.pending() == 3
    record.fail = False
    refusals.close()
    assert [c for _, _, c in record.records] == [1, 3]


def test_the_flusher_records_a_closed_window_without_another_refusal() -> None:
    flushed = threading.Event()
    counts: list[int] = []

    def record(who: Principal, fields: dict[str, Any], count: int) -> None:
        counts.append(count)
        if count > 1:
            flushed.set()

    clock = Clock()
    refusals = RefusalCoalescer(record, clock, window_seconds=0.2)
    for _ in range(3):
        refusals.refused(RITA, "POST /a", "X", "no", None)
    clock.now += timedelta(seconds=1)  # the window closes; nobody refuses again
    assert flushed.wait(10), counts
    refusals.close()
    assert counts == [1, 2]

"""Service periods and instants: UTC calendar months, quarters, explicit spans.

Everything is whole seconds since the Unix epoch (ints), so arithmetic stays
exact; minutes are derived as fractions at the end.
"""

from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workspace.credit.errors import CalculationInputError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


@dataclass(frozen=True)
class Period:
    """The half-open span [start, end) in epoch seconds, with its label."""

    label: str
    start: int
    end: int

    @property
    def seconds(self) -> int:
        return self.end - self.start


def _epoch(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


def _month_span(year: int, month: int, months: int) -> tuple[int, int]:
    end_year, end_month = divmod(month - 1 + months, 12)
    return _epoch(year, month), _epoch(year + end_year, end_month + 1)


def parse_instant(value: Any, where: str) -> int:
    """An ISO-8601 instant with a zone (`Z` or an offset), in whole seconds."""
    if not isinstance(value, str):
        raise CalculationInputError(
            "TIMESTAMP_INVALID", f"{where}: expected an ISO-8601 string"
        )
    try:  # the common forms, parsed by the C implementation (20,000 in ~5 ms)
        moment = datetime.fromisoformat(value)
    except ValueError:
        pass
    else:
        if moment.utcoffset() is not None and not moment.microsecond:
            return int(moment.timestamp())  # whole seconds: exact
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise CalculationInputError(
            "TIMESTAMP_INVALID", f"{where}: {value!r} is not ISO-8601"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise CalculationInputError(
            "TIMESTAMP_INVALID", f"{where}: {value!r} has no zone (use Z for UTC)"
        )
    if moment.microsecond:
        raise CalculationInputError(
            "TIMESTAMP_INVALID", f"{where}: {value!r} has a fraction of a second"
        )
    return int(moment.timestamp())


_TZINFO = operator.attrgetter("tzinfo")
_MICROSECOND = operator.attrgetter("microsecond")
_DAYS = operator.attrgetter("days")
_SECONDS = operator.attrgetter("seconds")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_instants(values: list[Any]) -> list[int] | None:
    """Many instants at once without a Python call per value, or None when one
    needs `parse_instant`'s closer look (which then gives its value or error).
    What passes is exactly `parse_instant`'s first branch: parsed by
    `datetime.fromisoformat`, with a zone (its zones are fixed offsets, so a
    zone means an offset) and whole seconds."""
    try:
        moments = list(map(datetime.fromisoformat, values))
        if None in set(map(_TZINFO, moments)) or any(map(_MICROSECOND, moments)):
            return None
        # What `timestamp()` computes, in whole seconds without a float.
        since = list(map(operator.sub, moments, itertools.repeat(_EPOCH)))
    except (TypeError, ValueError, OverflowError):
        return None
    days = map(operator.mul, map(_DAYS, since), itertools.repeat(86_400))
    return list(map(operator.add, days, map(_SECONDS, since)))


def format_instant(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_period(value: Any) -> Period:
    """`"YYYY-MM"`, `"YYYY-Qn"` or `{start, end}` (UTC, half-open)."""
    if isinstance(value, str):
        month = _MONTH.match(value)
        if month and 1 <= int(month.group(2)) <= 12 and int(month.group(1)) >= 1:
            start, end = _month_span(int(month.group(1)), int(month.group(2)), 1)
            return Period(value, start, end)
        quarter = _QUARTER.match(value)
        if quarter and int(quarter.group(1)) >= 1:
            first_month = 3 * (int(quarter.group(2)) - 1) + 1
            start, end = _month_span(int(quarter.group(1)), first_month, 3)
            return Period(value, start, end)
        raise CalculationInputError(
            "PERIOD_INVALID",
            f"period {value!r} is not YYYY-MM, YYYY-Qn or {{start, end}}",
        )
    if isinstance(value, dict):
        if set(value) != {"start", "end"}:
            raise CalculationInputError(
                "PERIOD_INVALID", "a period object has exactly `start` and `end`"
            )
        start = parse_instant(value["start"], "period.start")
        end = parse_instant(value["end"], "period.end")
        if end <= start:
            raise CalculationInputError(
                "PERIOD_INVALID", "the period's end must be after its start"
            )
        return Period(f"{format_instant(start)}/{format_instant(end)}", start, end)
    raise CalculationInputError(
        "PERIOD_INVALID", "period is a string YYYY-MM / YYYY-Qn or {start, end}"
    )

"""Windows parsed all at once against the same windows one by one (hypothesis):
what the fast parse accepts is what `parse_instant` and `_window` accept, with
the same values; anything else is left to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from workspace.credit import CalculationInputError
from workspace.credit.periods import parse_instant, parse_instants
from workspace.credit.rules import _OUTAGE_FIELDS, _at_once, _window

OFFSETS = st.sampled_from([0, 0, 0, 60, -300, 330, 345, 14 * 60 - 1]).map(
    lambda m: timezone(timedelta(minutes=m))
)
moments = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)
).map(lambda d: d.replace(microsecond=0))


def spelled(moment: datetime, zone: timezone, form: int) -> Any:
    aware = moment.replace(tzinfo=UTC).astimezone(zone)
    return [
        aware.isoformat().replace("+00:00", "Z"),
        aware.isoformat(),
        aware.isoformat(timespec="minutes"),
        aware.isoformat().replace("+00:00", "z"),
        f" {aware.isoformat()}",
        moment.isoformat(),  # no zone
        aware.replace(microsecond=5).isoformat(),
        aware.isoformat(sep=" "),
        int(aware.timestamp()),
        "2024-02-30T00:00:00Z",
    ][form]  # fmt: skip


values = st.builds(spelled, moments, OFFSETS, st.integers(0, 9))


def one_by_one(value: Any) -> int | str:
    try:
        return parse_instant(value, "x")
    except CalculationInputError as error:
        return error.code


@given(st.lists(values, max_size=12))
def test_instants_at_once_are_parse_instant_or_none(items: list[Any]) -> None:
    at_once = parse_instants(items)
    if at_once is not None:
        assert at_once == [one_by_one(v) for v in items]


@given(st.lists(st.builds(spelled, moments, OFFSETS, st.integers(0, 2)), max_size=12))
def test_the_usual_spellings_are_parsed_at_once(items: list[Any]) -> None:
    assert parse_instants(items) == [parse_instant(v, "x") for v in items]


def raw_window(start: Any, end: Any, users: Any, extra: bool) -> Any:
    item = {"start": start, "end": end}
    if users is not None:
        item["users_impacted"] = users
    if extra:
        item["note"] = "x"
    return item


raw_windows = st.lists(
    st.one_of(
        st.builds(
            raw_window,
            values,
            values,
            st.one_of(st.none(), st.integers(-1, 12), st.just(True)),
            st.just(False),
        ),
        st.builds(
            raw_window,
            st.builds(spelled, moments, OFFSETS, st.just(0)),
            st.builds(spelled, moments, OFFSETS, st.just(0)),
            st.one_of(st.none(), st.integers(0, 10)),
            st.booleans(),
        ),
        st.just(["not", "a", "window"]),
    ),
    max_size=8,
)


def each(raw: list[Any], licensed: int | None) -> list[tuple[int, int, Any]] | None:
    """The windows one by one as `_window` reads them, or None where one is refused."""
    result = []
    for i, item in enumerate(raw):
        try:
            start, end, users = _window(item, "outages", i, _OUTAGE_FIELDS)
        except CalculationInputError:
            return None
        if users is not None and (
            type(users) is not int or users < 0 or (licensed and users > licensed)
        ):
            return None
        result.append((start, end, users))
    return result


@given(raw_windows, st.sampled_from([None, 10]))
def test_windows_at_once_are_the_windows_one_by_one(
    raw: list[Any], licensed: int | None
) -> None:
    at_once = _at_once(raw, _OUTAGE_FIELDS, licensed)
    if at_once is not None:
        assert at_once == each(raw, licensed)


@given(
    st.lists(st.one_of(st.none(), st.integers(-1, 11), st.just(True)), max_size=6),
    st.sampled_from([None, 10]),
)
@example([3, 11], 10)
@example([None, -1], None)
@example([True], None)
def test_users_impacted_at_once_are_checked_as_one_by_one(
    users: list[Any], licensed: int | None
) -> None:
    raw = [
        raw_window("2024-04-01T00:00:00Z", "2024-04-01T00:05:00Z", u, False)
        for u in users
    ]
    assert _at_once(raw, _OUTAGE_FIELDS, licensed) == each(raw, licensed)

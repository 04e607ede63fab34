"""Facts and rules: parsed and checked into frozen values, or refused with a
stable code (CalculationInputError). Numbers are exact: JSON integers, decimal
numbers (parsed as Decimal, never float), decimal strings, or "num/den"."""

from __future__ import annotations

import itertools
import operator
import re
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from typing import Any

from workspace.credit.errors import CalculationInputError
from workspace.credit.periods import (
    Period,
    parse_instant,
    parse_instants,
    parse_period,
)

MAINTENANCE_POLICIES = (
    "none",
    "exclude_from_downtime",
    "exclude_from_downtime_and_base",
)
BUCKET_POLICIES = ("any_overlap", "full_bucket")
DENOMINATORS = ("full_period", "since_service_start")
MAX_BANDS = 100

_FACTS = {
    "period", "outages", "maintenance", "service_start", "licensed_users",
    "fee_amount", "fee_per_minute", "cap_base_amount",
}  # fmt: skip
_RULES = {
    "commitment_pct", "bands", "tiers", "granularity_minutes", "bucket_policy",
    "min_downtime_period_minutes", "maintenance_handling", "merge_overlaps",
    "weight_by_users", "multiplier", "cap_pct", "denominator",
}  # fmt: skip
_DECIMAL = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_RATIO = re.compile(r"^\s*([+-]?\d+)\s*/\s*(\d+)\s*$")


#: One outage window: start, end (epoch seconds) and the users impacted if
#: given. A plain tuple: tens of thousands are built per request.
Outage = tuple[int, int, int | None]


@dataclass(frozen=True)
class Facts:
    period: Period
    outages: tuple[Outage, ...]
    maintenance: tuple[tuple[int, int], ...]
    service_start: int | None
    licensed_users: int | None
    fee_amount: Fraction
    fee_per_minute: Fraction | None
    cap_base_amount: Fraction


@dataclass(frozen=True)
class Band:
    min: Fraction | None
    min_inclusive: bool
    max: Fraction | None
    max_inclusive: bool
    credit_pct: Fraction

    def holds(self, pct: Fraction) -> bool:
        above = self.min is None or (
            pct >= self.min if self.min_inclusive else pct > self.min
        )
        below = self.max is None or (
            pct <= self.max if self.max_inclusive else pct < self.max
        )
        return above and below


@dataclass(frozen=True)
class Tier:
    below_pct: Fraction
    credit_pct: Fraction


@dataclass(frozen=True)
class Rules:
    commitment_pct: Fraction
    bands: tuple[Band, ...] | None
    tiers: tuple[Tier, ...] | None
    granularity_minutes: int
    bucket_policy: str
    min_downtime_period_minutes: int
    maintenance_handling: str
    merge_overlaps: bool
    weight_by_users: bool
    multiplier: Fraction | None
    cap_pct: Fraction | None
    denominator: str


def _fail(code: str, message: str) -> CalculationInputError:
    return CalculationInputError(code, message)


def _object(value: Any, where: str, allowed: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("FIELD_INVALID", f"{where}: expected an object")
    if not allowed.issuperset(value):
        unknown = ", ".join(sorted(set(value) - allowed))
        raise _fail("UNKNOWN_FIELD", f"{where}: unknown field(s) {unknown}")
    return value


def number(value: Any, where: str) -> Fraction:
    """An exact number; floats are refused (they are not exact)."""
    if isinstance(value, bool | float):
        raise _fail("FIELD_INVALID", f"{where}: use an exact number, not {value!r}")
    if isinstance(value, int | Fraction):
        return Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise _fail("FIELD_INVALID", f"{where}: {value} is not a finite number")
        return Fraction(value)
    if isinstance(value, str):
        if _DECIMAL.match(value.strip()):
            return Fraction(Decimal(value.strip()))
        ratio = _RATIO.match(value)
        if ratio and int(ratio.group(2)) != 0:
            return Fraction(int(ratio.group(1)), int(ratio.group(2)))
    raise _fail("FIELD_INVALID", f"{where}: {value!r} is not a decimal or num/den")


def _pct(value: Any, where: str) -> Fraction:
    pct = number(value, where)
    if not 0 <= pct <= 100:
        raise _fail("PERCENT_OUT_OF_RANGE", f"{where}: {value} is outside 0..100")
    return pct


def _money(value: Any, where: str) -> Fraction:
    amount = number(value, where)
    if amount < 0:
        raise _fail("AMOUNT_NEGATIVE", f"{where}: {value} is negative")
    return amount


def _count(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise _fail("FIELD_INVALID", f"{where}: expected an integer >= {minimum}")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail("FIELD_INVALID", f"{where}: expected true or false")
    return value


def _policy(value: Any, where: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise _fail(
            "UNKNOWN_POLICY", f"{where}: {value!r} is not one of {', '.join(allowed)}"
        )
    return str(value)


def _window(
    value: Any, kind: str, index: int, fields: frozenset[str]
) -> tuple[int, int, Any]:
    """One window; its location (`facts.outages[3]`) is only spelled out in an
    error, since a request may hold tens of thousands of windows."""
    if type(value) is not dict or not fields.issuperset(value):
        _object(value, f"facts.{kind}[{index}]", set(fields))
    try:
        start = parse_instant(value["start"], "")
        end = parse_instant(value["end"], "")
    except (KeyError, CalculationInputError):
        where = f"facts.{kind}[{index}]"
        for key in ("start", "end"):
            if key not in value:
                raise _fail("FIELD_REQUIRED", f"{where}.{key} is required") from None
        start = parse_instant(value["start"], f"{where}.start")
        end = parse_instant(value["end"], f"{where}.end")
    if end <= start:
        raise _fail("WINDOW_EMPTY", f"facts.{kind}[{index}]: end must be after start")
    return start, end, value.get("users_impacted")


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise _fail("FIELD_INVALID", f"{where}: expected a list")
    return value


_OUTAGE_FIELDS = frozenset({"start", "end", "users_impacted"})
_WINDOW_FIELDS = frozenset({"start", "end"})
_STARTS = operator.itemgetter("start")
_ENDS = operator.itemgetter("end")


def _at_once(
    raw: list[Any], fields: frozenset[str], licensed: int | None
) -> list[Outage] | None:
    """All windows checked and parsed with C-level maps, or None when one needs
    a closer look: `_window` then goes through them one by one and refuses
    the first bad one. What passes here is what `_window` would accept, with
    the same values."""
    if not {dict}.issuperset(map(type, raw)) or not all(map(fields.issuperset, raw)):
        return None
    try:
        starts = parse_instants(list(map(_STARTS, raw)))
        ends = parse_instants(list(map(_ENDS, raw)))
    except KeyError:
        return None
    if starts is None or ends is None or any(map(operator.le, ends, starts)):
        return None
    users = list(map(dict.get, raw, itertools.repeat("users_impacted")))
    given = [u for u in users if u is not None]
    if given and (
        not {int}.issuperset(map(type, given))
        or min(given) < 0
        or (licensed is not None and max(given) > licensed)
    ):
        return None
    return list(zip(starts, ends, users, strict=True))


def _outages(raw: list[Any], licensed: int | None) -> list[Outage]:
    fast = _at_once(raw, _OUTAGE_FIELDS, licensed)
    if fast is not None:
        return fast
    outages: list[Outage] = []
    for i, item in enumerate(raw):
        start, end, users = _window(item, "outages", i, _OUTAGE_FIELDS)
        if users is not None:
            where = f"facts.outages[{i}]"
            users = _count(users, f"{where}.users_impacted", 0)
            if licensed is not None and users > licensed:
                raise _fail(
                    "USERS_INVALID", f"{where}: {users} users exceed licensed_users"
                )
        outages.append((start, end, users))
    return outages


def _maintenance(raw: list[Any]) -> list[tuple[int, int]]:
    fast = _at_once(raw, _WINDOW_FIELDS, None)
    if fast is not None:
        return [(start, end) for start, end, _ in fast]
    return [
        _window(item, "maintenance", i, _WINDOW_FIELDS)[:2]
        for i, item in enumerate(raw)
    ]


def parse_facts(value: Any, max_windows: int) -> Facts:
    body = _object(value, "facts", _FACTS)
    for key in ("period", "fee_amount"):
        if key not in body:
            raise _fail("FIELD_REQUIRED", f"facts.{key} is required")
    raw_outages = _list(body.get("outages", []), "facts.outages")
    raw_maintenance = _list(body.get("maintenance", []), "facts.maintenance")
    if len(raw_outages) + len(raw_maintenance) > max_windows:
        raise _fail(
            "TOO_MANY_WINDOWS",
            f"{len(raw_outages) + len(raw_maintenance)} windows; at most {max_windows}",
        )
    period = parse_period(body["period"])
    licensed = body.get("licensed_users")
    if licensed is not None:
        licensed = _count(licensed, "facts.licensed_users", 1)
    outages = _outages(raw_outages, licensed)
    maintenance = _maintenance(raw_maintenance)
    service_start = None
    if body.get("service_start") is not None:
        service_start = parse_instant(body["service_start"], "facts.service_start")
        if service_start >= period.end:
            raise _fail(
                "SERVICE_START_INVALID", "facts.service_start is after the period"
            )
    fee = _money(body["fee_amount"], "facts.fee_amount")
    per_minute = body.get("fee_per_minute")
    cap_base = body.get("cap_base_amount")
    return Facts(
        period=period,
        outages=tuple(outages),
        maintenance=tuple(maintenance),
        service_start=service_start,
        licensed_users=licensed,
        fee_amount=fee,
        fee_per_minute=None
        if per_minute is None
        else _money(per_minute, "facts.fee_per_minute"),
        cap_base_amount=fee
        if cap_base is None
        else _money(cap_base, "facts.cap_base_amount"),
    )


def _bands(value: Any) -> tuple[Band, ...]:
    items = _list(value, "rules.bands")
    if not items or len(items) > MAX_BANDS:
        raise _fail("FIELD_INVALID", f"rules.bands: 1 to {MAX_BANDS} bands")
    fields = {"min", "min_inclusive", "max", "max_inclusive", "credit_pct"}
    bands = []
    for i, item in enumerate(items):
        where = f"rules.bands[{i}]"
        body = _object(item, where, fields)
        if "credit_pct" not in body:
            raise _fail("FIELD_REQUIRED", f"{where}.credit_pct is required")
        low = None if body.get("min") is None else _pct(body["min"], f"{where}.min")
        high = None if body.get("max") is None else _pct(body["max"], f"{where}.max")
        band = Band(
            min=low,
            min_inclusive=_flag(
                body.get("min_inclusive", True), f"{where}.min_inclusive"
            ),
            max=high,
            max_inclusive=_flag(
                body.get("max_inclusive", False), f"{where}.max_inclusive"
            ),
            credit_pct=_pct(body["credit_pct"], f"{where}.credit_pct"),
        )
        if (
            low is not None
            and high is not None
            and (
                low > high
                or (low == high and not (band.min_inclusive and band.max_inclusive))
            )
        ):
            raise _fail("FIELD_INVALID", f"{where}: the band holds no uptime")
        bands.append(band)
    _check_disjoint(bands)
    return tuple(bands)


def _check_disjoint(bands: list[Band]) -> None:
    """Two bands that both hold some uptime would make the table ambiguous."""
    for i, one in enumerate(bands):
        for j in range(i + 1, len(bands)):
            other = bands[j]
            low = max(_or(one.min, -1), _or(other.min, -1))
            high = min(_or(one.max, 101), _or(other.max, 101))
            # Both hold everything strictly between the inner bounds; on a
            # single shared bound, the inclusive flags decide.
            if low < high or (low == high and one.holds(low) and other.holds(low)):
                raise _fail("BANDS_OVERLAP", f"rules.bands[{i}] and [{j}] overlap")


def _or(bound: Fraction | None, default: int) -> Fraction:
    return Fraction(default) if bound is None else bound


def _tiers(value: Any) -> tuple[Tier, ...]:
    items = _list(value, "rules.tiers")
    if not items or len(items) > MAX_BANDS:
        raise _fail("FIELD_INVALID", f"rules.tiers: 1 to {MAX_BANDS} tiers")
    tiers = []
    for i, item in enumerate(items):
        where = f"rules.tiers[{i}]"
        body = _object(item, where, {"below_pct", "credit_pct"})
        for key in ("below_pct", "credit_pct"):
            if key not in body:
                raise _fail("FIELD_REQUIRED", f"{where}.{key} is required")
        tiers.append(
            Tier(
                _pct(body["below_pct"], f"{where}.below_pct"),
                _pct(body["credit_pct"], f"{where}.credit_pct"),
            )
        )
    if len({t.below_pct for t in tiers}) != len(tiers):
        raise _fail("BANDS_OVERLAP", "rules.tiers: two tiers share a below_pct")
    return tuple(tiers)


def parse_rules(value: Any) -> Rules:
    body = _object(value, "rules", _RULES)
    if "commitment_pct" not in body:
        raise _fail("FIELD_REQUIRED", "rules.commitment_pct is required")
    schemes = [k for k in ("bands", "tiers", "multiplier") if body.get(k) is not None]
    if len(schemes) != 1:
        raise _fail(
            "RULES_CONFLICT" if schemes else "FIELD_REQUIRED",
            "rules need exactly one of bands, tiers or multiplier"
            + (f" (got {', '.join(schemes)})" if schemes else ""),
        )
    multiplier = None
    if body.get("multiplier") is not None:
        multiplier = number(body["multiplier"], "rules.multiplier")
        if multiplier <= 0:
            raise _fail("FIELD_INVALID", "rules.multiplier must be positive")
    return Rules(
        commitment_pct=_pct(body["commitment_pct"], "rules.commitment_pct"),
        bands=_bands(body["bands"]) if body.get("bands") is not None else None,
        tiers=_tiers(body["tiers"]) if body.get("tiers") is not None else None,
        granularity_minutes=_count(
            body.get("granularity_minutes", 1), "rules.granularity_minutes", 1
        ),
        bucket_policy=_policy(
            body.get("bucket_policy", "any_overlap"),
            "rules.bucket_policy",
            BUCKET_POLICIES,
        ),
        min_downtime_period_minutes=_count(
            body.get("min_downtime_period_minutes", 0),
            "rules.min_downtime_period_minutes",
            0,
        ),
        maintenance_handling=_policy(
            body.get("maintenance_handling", "none"),
            "rules.maintenance_handling",
            MAINTENANCE_POLICIES,
        ),
        merge_overlaps=_flag(body.get("merge_overlaps", True), "rules.merge_overlaps"),
        weight_by_users=_flag(
            body.get("weight_by_users", False), "rules.weight_by_users"
        ),
        multiplier=multiplier,
        cap_pct=None
        if body.get("cap_pct") is None
        else _pct(body["cap_pct"], "rules.cap_pct"),
        denominator=_policy(
            body.get("denominator", "full_period"), "rules.denominator", DENOMINATORS
        ),
    )


def parse_request(value: Any, max_windows: int) -> tuple[Facts, Rules]:
    """The whole `{facts, rules}` body, with the checks that need both."""
    body = _object(value, "body", {"facts", "rules"})
    for key in ("facts", "rules"):
        if key not in body:
            raise _fail("FIELD_REQUIRED", f"{key} is required")
    facts = parse_facts(body["facts"], max_windows)
    rules = parse_rules(body["rules"])
    if rules.weight_by_users and facts.licensed_users is None:
        raise _fail("FIELD_REQUIRED", "weight_by_users needs facts.licensed_users")
    if rules.multiplier is not None and facts.fee_per_minute is None:
        raise _fail("FIELD_REQUIRED", "a multiplier needs facts.fee_per_minute")
    if rules.denominator == "since_service_start" and facts.service_start is None:
        raise _fail(
            "SERVICE_START_INVALID",
            "denominator since_service_start needs service_start",
        )
    return facts, rules

"""Exact rounding and JSON text for the calculator's output.

Percentages are shown to 6 decimal places and money to cents, both rounded
half-up from the exact fraction (one rounding, never a float). `to_json`
writes each Decimal as a JSON number with exactly its digits (`99.950000`),
which the standard encoder (and FastAPI's, which goes through float) cannot.
"""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction
from typing import Any

from workspace.errors import InvalidInputError


def round_half_up(value: Fraction, places: int) -> Decimal:
    """`value` to `places` decimals, halves away from zero, exactly."""
    scale = 10**places
    sign = -1 if value < 0 else 1
    q, r = divmod(abs(value.numerator) * scale, value.denominator)
    if 2 * r >= value.denominator:
        q += 1
    return Decimal(sign * q).scaleb(-places)


def pct6(value: Fraction) -> Decimal:
    return round_half_up(value, 6)


def cents(value: Fraction) -> Decimal:
    return round_half_up(value, 2)


def minutes(value: Fraction) -> int | Decimal:
    """Whole minutes as an integer, otherwise 6 decimals."""
    return value.numerator if value.denominator == 1 else pct6(value)


def ratio(value: Fraction) -> str:
    return f"{value.numerator}/{value.denominator}"


def to_json(value: Any, indent: int | None = None) -> str:
    """JSON text in which Decimals keep their digits as JSON numbers."""
    return _encode(value, indent, 0)


def _encode(value: Any, indent: int | None, depth: int) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} has no JSON form")
        return f"{value:f}"
    if isinstance(value, dict):
        items = [
            f"{json.dumps(str(k), ensure_ascii=False)}: {_encode(v, indent, depth + 1)}"
            for k, v in value.items()
        ]
        return _join("{", items, "}", indent, depth)
    if isinstance(value, list | tuple):
        items = [_encode(v, indent, depth + 1) for v in value]
        return _join("[", items, "]", indent, depth)
    if isinstance(value, float):
        raise TypeError("floats are not exact: use Decimal")
    return json.dumps(value, ensure_ascii=False)


def _join(
    open_: str, items: list[str], close: str, indent: int | None, depth: int
) -> str:
    if not items:
        return open_ + close
    if indent is None:
        return open_ + ", ".join(items) + close
    inner = "\n" + " " * (indent * (depth + 1))
    return (
        open_
        + inner
        + ("," + inner).join(items)
        + "\n"
        + " " * (indent * depth)
        + close
    )


def from_json(raw: bytes | str) -> Any:
    """JSON with its decimal numbers kept exact (Decimal, never float).

    Malformed JSON is the caller's mistake, `MALFORMED_JSON` (as elsewhere)."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise InvalidInputError(
            "MALFORMED_JSON", "the body is not valid JSON"
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")

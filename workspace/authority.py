"""Options checked against a delegated-authority matrix (seeds 000 and 001).

Pure: no I/O, exact arithmetic (`Decimal`), no clock. Quire classifies an
option as the matrix reads; it never decides a concession. Each result says
why: which cap or type an option breaches, which condition it depends on.

Classification, most severe first:

- `blocked`: a component breaches the matrix (a blocked type, a cap exceeded,
  the quarter's remaining concession-cap balance exceeded);
- `escalation_only`: a component is of a type only the board may grant;
- `conditional`: allowed if a condition holds (an add-on not pre-approved for
  the tier needs a named additional approver, a type the matrix does not cap
  needs one too, and the caller's context may add refreshed impact accounting
  or precedent fit);
- `in_policy`: none of the above.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, cast

from workspace.errors import UnprocessableError, require_known_fields

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

#: Component types every matrix knows; a matrix adds its own blocked and
#: escalation-only types (permanent_rate_reduction, executive_access, ...).
BASE_TYPES = frozenset(
    {"service_credit", "support_add_on", "overage_waiver", "premium_staffing"}
)
LIMITS = ("percent", "amount", "months")
MAX_COMPONENTS = 50
MAX_NAMES = 200
TYPE_MAX = 64

IN_POLICY = "in_policy"
CONDITIONAL = "conditional"
BLOCKED = "blocked"
ESCALATION_ONLY = "escalation_only"
SEVERITY = {IN_POLICY: 0, CONDITIONAL: 1, ESCALATION_ONLY: 2, BLOCKED: 3}


@dataclass(frozen=True)
class Limit:
    percent: Decimal | None = None
    amount: Decimal | None = None
    months: int | None = None


@dataclass(frozen=True)
class Matrix:
    caps: Mapping[str, Limit]
    allowed_add_ons: frozenset[str]
    blocked_types: frozenset[str]
    escalation_only_types: frozenset[str]
    quarter_cap_balance: Decimal | None = None

    @property
    def known_types(self) -> frozenset[str]:
        return (
            BASE_TYPES
            | self.blocked_types
            | self.escalation_only_types
            | set(self.caps)
        )


class _Plain:
    """A frozen dataclass whose `as_dict` is its fields that are set (not
    None), in order, as plain data (decimals as their digits)."""

    def as_dict(self) -> dict[str, Any]:
        item = cast("DataclassInstance", self)
        values = {f.name: getattr(item, f.name) for f in fields(item)}
        return {
            key: str(value) if isinstance(value, Decimal) else value
            for key, value in values.items()
            if value is not None
        }


@dataclass(frozen=True)
class Component(_Plain):
    type: str
    percent: Decimal | None = None
    amount: Decimal | None = None
    months: int | None = None
    name: str | None = None


@dataclass(frozen=True)
class Finding(_Plain):
    """One reason: a breach, an escalation trigger or a condition."""

    code: str
    detail: str
    component: int | None = None


@dataclass(frozen=True)
class Classification:
    classification: str
    breaches: tuple[Finding, ...] = ()
    escalations: tuple[Finding, ...] = ()
    conditions: tuple[Finding, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "classification": self.classification,
            "breaches": [f.as_dict() for f in self.breaches],
            "escalations": [f.as_dict() for f in self.escalations],
            "conditions": [f.as_dict() for f in self.conditions],
        }


# ------------------------------------------------------------------ parsing
def _fail(code: str, message: str, **details: Any) -> UnprocessableError:
    return UnprocessableError(code, message, details)


def _decimal(value: object, what: str, *, percent: bool = False) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str | Decimal):
        raise _fail(
            "AMOUNT_INVALID", f"{what} is a decimal number or string", field=what
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _fail("AMOUNT_INVALID", f"{what} is not a number", field=what) from None
    if not number.is_finite():
        raise _fail("AMOUNT_INVALID", f"{what} is not a number", field=what)
    if number < 0:
        raise _fail("AMOUNT_NEGATIVE", f"{what} must be 0 or more", field=what)
    if percent and number > 100:
        raise _fail("PERCENT_OUT_OF_RANGE", f"{what} is 0 to 100", field=what)
    return number


def _months(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 600:
        raise _fail("MONTHS_INVALID", f"{what} is a whole number 0-600", field=what)
    return value


def _name(value: object, what: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= TYPE_MAX:
        raise _fail("NAME_INVALID", f"{what} is 1-{TYPE_MAX} characters", field=what)
    return value.strip()


def _limits(raw: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """A cap's or a component's percent, amount and months (None when
    absent); `prefix` names them in errors (`caps.service_credit.`,
    `component 2 `)."""
    percent, amount, months = (raw.get(key) for key in LIMITS)
    return {
        "percent": None
        if percent is None
        else _decimal(percent, f"{prefix}percent", percent=True),
        "amount": None if amount is None else _decimal(amount, f"{prefix}amount"),
        "months": None if months is None else _months(months, f"{prefix}months"),
    }


def _names(value: object, what: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or len(value) > MAX_NAMES:
        raise _fail("MATRIX_INVALID", f"{what} is a list of at most {MAX_NAMES}")
    return frozenset(_name(v, what) for v in value)


def parse_matrix(raw: object) -> Matrix:
    """The matrix from JSON; `MATRIX_INVALID` and friends (422) otherwise."""
    if not isinstance(raw, dict):
        raise _fail("MATRIX_INVALID", "the matrix is a JSON object")
    require_known_fields(
        raw,
        {
            "caps",
            "allowed_add_ons",
            "blocked_types",
            "escalation_only_types",
            "quarter_cap_balance",
        },
        "matrix",
    )
    caps_raw = raw.get("caps") or {}
    if not isinstance(caps_raw, dict) or len(caps_raw) > MAX_NAMES:
        raise _fail("MATRIX_INVALID", "caps maps a component type to its limits")
    caps: dict[str, Limit] = {}
    for type_, limit in caps_raw.items():
        type_ = _name(type_, "caps type")
        if not isinstance(limit, dict) or not limit:
            raise _fail(
                "MATRIX_INVALID", f"caps.{type_} is {{percent?, amount?, months?}}"
            )
        require_known_fields(limit, set(LIMITS), f"caps.{type_}")
        caps[type_] = Limit(**_limits(limit, f"caps.{type_}."))
    blocked = _names(raw.get("blocked_types"), "blocked_types")
    escalation = _names(raw.get("escalation_only_types"), "escalation_only_types")
    both = blocked & escalation
    if both:
        raise _fail(
            "MATRIX_INVALID",
            f"a type is either blocked or escalation-only: {', '.join(sorted(both))}",
        )
    balance = raw.get("quarter_cap_balance")
    return Matrix(
        caps=caps,
        allowed_add_ons=_names(raw.get("allowed_add_ons"), "allowed_add_ons"),
        blocked_types=blocked,
        escalation_only_types=escalation,
        quarter_cap_balance=None
        if balance is None
        else _decimal(balance, "quarter_cap_balance"),
    )


def parse_components(raw: object, matrix: Matrix) -> tuple[Component, ...]:
    """An option's components; unknown types and bad numbers are 422."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_COMPONENTS:
        raise _fail("COMPONENTS_INVALID", f"components is a list of 1-{MAX_COMPONENTS}")
    out: list[Component] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            raise _fail("COMPONENTS_INVALID", f"component {i} is an object")
        require_known_fields(item, {"type", *LIMITS, "name"}, f"component {i}")
        type_ = _name(item.get("type"), f"component {i} type")
        if type_ not in matrix.known_types:
            raise _fail(
                "COMPONENT_TYPE_UNKNOWN",
                f"component {i}: the matrix knows no type {type_!r}",
                component=i,
                known=sorted(matrix.known_types),
            )
        name = item.get("name")
        if type_ == "support_add_on" and name is None:
            raise _fail("NAME_INVALID", f"component {i}: an add-on names itself")
        out.append(
            Component(
                type=type_,
                **_limits(item, f"component {i} "),
                name=None if name is None else _name(name, f"component {i} name"),
            )
        )
    return tuple(out)


# ----------------------------------------------------------- classification
def classify(
    components: Sequence[Component],
    matrix: Matrix,
    *,
    context_conditions: Sequence[Finding] = (),
) -> Classification:
    """The option's classification against the matrix, with every reason."""
    breaches: list[Finding] = []
    escalations: list[Finding] = []
    conditions: list[Finding] = list(context_conditions)
    for i, c in enumerate(components):
        if c.type in matrix.blocked_types:
            breaches.append(
                Finding("TYPE_BLOCKED", f"{c.type} is blocked by the matrix", i)
            )
            continue
        if c.type in matrix.escalation_only_types:
            escalations.append(
                Finding(
                    "TYPE_ESCALATION_ONLY",
                    f"{c.type} is granted only by the account-governance board",
                    i,
                )
            )
            continue
        limit = matrix.caps.get(c.type)
        if c.type == "support_add_on" and c.name not in matrix.allowed_add_ons:
            conditions.append(
                Finding(
                    "ADD_ON_NOT_PREAPPROVED",
                    f"add-on {c.name!r} is not pre-approved for the account tier; "
                    "it needs a named additional approver",
                    i,
                )
            )
        elif limit is None and c.type != "support_add_on":
            conditions.append(
                Finding(
                    "TYPE_NOT_CAPPED",
                    f"the matrix sets no cap for {c.type}; "
                    "it needs a named additional approver",
                    i,
                )
            )
        if limit is not None:
            breaches.extend(_cap_breaches(i, c, limit))
    if matrix.quarter_cap_balance is not None:
        total = sum((c.amount for c in components if c.amount is not None), Decimal(0))
        if total > matrix.quarter_cap_balance:
            breaches.append(
                Finding(
                    "QUARTER_CAP_EXCEEDED",
                    f"the option's amounts total {total}, over the quarter's "
                    f"remaining concession-cap balance of "
                    f"{matrix.quarter_cap_balance}",
                )
            )
    if breaches:
        result = BLOCKED
    elif escalations:
        result = ESCALATION_ONLY
    elif conditions:
        result = CONDITIONAL
    else:
        result = IN_POLICY
    return Classification(
        result, tuple(breaches), tuple(escalations), tuple(conditions)
    )


def _cap_breaches(i: int, c: Component, limit: Limit) -> list[Finding]:
    out: list[Finding] = []
    for key, code in (
        ("percent", "CAP_PERCENT_EXCEEDED"),
        ("amount", "CAP_AMOUNT_EXCEEDED"),
        ("months", "CAP_MONTHS_EXCEEDED"),
    ):
        have, cap = getattr(c, key), getattr(limit, key)
        if have is not None and cap is not None and have > cap:
            out.append(
                Finding(code, f"{c.type} {key} {have} is over the cap of {cap}", i)
            )
    return out


def in_band(classification: str) -> bool:
    """Whether a local release may rest on an option of this classification."""
    return classification in (IN_POLICY, CONDITIONAL)


# ------------------------------------------------------------- precedents
PRECEDENT_DIMENSIONS = (
    "outage_minutes",
    "support_tier",
    "segment",
    "renewal_posture",
    "exception_basis",
)
#: Outage durations match within this share of the precedent's duration.
OUTAGE_TOLERANCE = Decimal("0.25")


def parse_dimensions(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail("DIMENSIONS_INVALID", "dimensions is an object")
    require_known_fields(raw, set(PRECEDENT_DIMENSIONS), "dimensions")
    missing = [d for d in PRECEDENT_DIMENSIONS if d not in raw]
    if missing:
        raise _fail(
            "DIMENSIONS_INVALID",
            f"dimensions lacks {', '.join(missing)}",
            missing=missing,
        )
    minutes = raw["outage_minutes"]
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 0:
        raise _fail("DIMENSIONS_INVALID", "outage_minutes is a whole number >= 0")
    out: dict[str, Any] = {"outage_minutes": minutes}
    for key in PRECEDENT_DIMENSIONS[1:]:
        out[key] = _name(raw[key], key)
    return out


def compare_precedent(
    case: Mapping[str, Any], precedent: Mapping[str, Any]
) -> dict[str, list[str]]:
    """Which dimensions of this case match a precedent's, and which do not.

    Outage durations match within 25% of the precedent's; the others match
    when equal, ignoring case and surrounding spaces.
    """
    matched: list[str] = []
    differ: list[str] = []
    for key in PRECEDENT_DIMENSIONS:
        a, b = case.get(key), precedent.get(key)
        if key == "outage_minutes":
            same = (
                isinstance(a, int)
                and isinstance(b, int)
                and abs(Decimal(a) - Decimal(b)) <= OUTAGE_TOLERANCE * Decimal(b)
            )
        else:
            same = (
                isinstance(a, str)
                and isinstance(b, str)
                and a.strip().casefold() == b.strip().casefold()
            )
        (matched if same else differ).append(key)
    return {"matched": matched, "differ": differ}


# ---------------------------------------------------- blocked-path register
#: The register flags drift beyond delegated scope when blocked or
#: escalation-only asks reach this many, or any one such type is asked twice.
DRIFT_TOTAL = 3
DRIFT_REPEATS = 2


def ask_classification(type_: str, matrix: Matrix) -> str:
    """An ask's type as the matrix reads it (an ask carries no amounts, so a
    capped type is in policy subject to its cap; an uncapped one needs an
    additional approver)."""
    if type_ in matrix.blocked_types:
        return BLOCKED
    if type_ in matrix.escalation_only_types:
        return ESCALATION_ONLY
    return IN_POLICY if type_ in matrix.caps else CONDITIONAL


def register_summary(
    asks: Sequence[Mapping[str, Any]], matrix: Matrix
) -> dict[str, Any]:
    """Each ask type with its classification and how often it was asked, and
    whether repeated out-of-band asks suggest the case is drifting."""
    counts: dict[str, int] = {}
    for ask in asks:
        counts[ask["type"]] = counts.get(ask["type"], 0) + 1
    classes = {t: ask_classification(t, matrix) for t in counts}
    rows = [
        {"type": t, "classification": classes[t], "count": n} for t, n in counts.items()
    ]
    out_of_band = [t for t in counts if classes[t] in (BLOCKED, ESCALATION_ONLY)]
    total = sum(counts[t] for t in out_of_band)
    repeated = [t for t in out_of_band if counts[t] >= DRIFT_REPEATS]
    drifting = total >= DRIFT_TOTAL or bool(repeated)
    return {
        "types": rows,
        "out_of_band_asks": total,
        "repeated_out_of_band": repeated,
        "drifting_beyond_scope": drifting,
    }

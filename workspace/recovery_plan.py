"""Service recovery plans (seed 004): parsing, checks, incident classification
and a Markdown rendering. Pure: no I/O, no clock.

The seed's constraints become checks, each naming the row at fault:

- `REMEDIATION_APPROVER_MISSING`: a remediation row without a named approver
  who is a Quire user ("all remediation decisions must have a named approver
  at each tier");
- `ACKNOWLEDGMENT_TOO_LATE`: a severity with no customer acknowledgment at or
  before its own expected-contact threshold ("initial customer acknowledgment
  must be sent before customers start contacting support");
- `CUSTOMER_FOLLOW_UP_MISSING`: no customer-facing post-incident summary
  ("post-incident follow-up must include a customer-facing summary").

`classify` recommends a severity for an incident's facts; it never declares an
incident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from workspace.errors import UnprocessableError, require_known_fields

REMEDIATION_APPROVER_MISSING = "REMEDIATION_APPROVER_MISSING"
ACKNOWLEDGMENT_TOO_LATE = "ACKNOWLEDGMENT_TOO_LATE"
CUSTOMER_FOLLOW_UP_MISSING = "CUSTOMER_FOLLOW_UP_MISSING"

AUDIENCES = ("customer", "internal")
KINDS = ("acknowledgment", "update", "resolution", "post_incident_summary")
#: The plan's tables (its parts) and the fields of each table's rows.
FIELDS = {
    "severities": {
        "level",
        "criteria",
        "notify_within_minutes",
        "expected_customer_contact_minutes",
        "owner",
    },
    "communications": {
        "severity",
        "at_minutes",
        "audience",
        "kind",
        "channel",
        "content",
        "owner",
    },
    "remediation": {"tier", "severity", "offer", "eligibility", "approver"},
    "escalation": {"severity", "at_minutes", "notify", "info"},
    "review": {"within_days", "what", "participants", "customer_facing"},
}
PARTS = tuple(FIELDS)
MAX_ROWS = 200
TEXT_MAX = 2000
MINUTES_MAX = 60 * 24 * 366


@dataclass(frozen=True)
class Check:
    code: str
    detail: str
    part: str
    row: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------ parsing
def _fail(code: str, message: str, **details: Any) -> UnprocessableError:
    return UnprocessableError(code, message, details)


def _opt_text(value: object, where: str) -> str | None:
    return None if value is None else _text(value, where)


def _text(value: object, where: str) -> str:
    if not isinstance(value, str) or not 1 <= len(value.strip()) <= TEXT_MAX:
        raise _fail("PLAN_INVALID", f"{where} is 1-{TEXT_MAX} characters", field=where)
    return value.strip()


def _minutes(value: object, where: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(
            "PLAN_INVALID", f"{where} is a whole number of minutes", field=where
        )
    if not 0 <= value <= MINUTES_MAX:
        raise _fail("PLAN_INVALID", f"{where} is 0 to {MINUTES_MAX}", field=where)
    return value


def _choice(value: object, where: str, options: Sequence[str]) -> str:
    if value not in options:
        raise _fail(
            "PLAN_INVALID", f"{where} is one of {', '.join(options)}", field=where
        )
    return str(value)


def _rows(raw: Mapping[str, Any], part: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each row of table `part` (all checked to be objects first) with where
    it stands (`part[i]`), its fields checked against `FIELDS[part]`."""
    rows = raw.get(part, [])
    if not isinstance(rows, list) or len(rows) > MAX_ROWS:
        raise _fail("PLAN_INVALID", f"{part} is a list of at most {MAX_ROWS} rows")
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _fail("PLAN_INVALID", f"{part}[{i}] is an object")
    for i, row in enumerate(rows):
        where = f"{part}[{i}]"
        require_known_fields(row, FIELDS[part], where)
        yield where, row


def _percent(value: object, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _fail("PLAN_INVALID", f"{where} is a percentage", field=where)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise _fail("PLAN_INVALID", f"{where} is a percentage", field=where) from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise _fail("PERCENT_OUT_OF_RANGE", f"{where} is 0 to 100", field=where)
    return str(number)


def parse_plan(raw: object) -> dict[str, Any]:
    """The plan as canonical plain data (hashable as packet content)."""
    if not isinstance(raw, dict):
        raise _fail("PLAN_INVALID", "the plan is a JSON object")
    require_known_fields(raw, set(PARTS), "plan")
    severities = []
    levels: list[str] = []
    for where, row in _rows(raw, "severities"):
        level = _text(row.get("level"), f"{where}.level")
        if level in levels:
            raise _fail("PLAN_INVALID", f"severity {level} is listed twice")
        levels.append(level)
        criteria = row.get("criteria") or {}
        if not isinstance(criteria, dict):
            raise _fail("PLAN_INVALID", f"{where}.criteria is an object")
        require_known_fields(
            criteria,
            {"min_duration_minutes", "min_customers_pct", "core_feature"},
            f"{where}.criteria",
        )
        core = criteria.get("core_feature")
        if core is not None and not isinstance(core, bool):
            raise _fail("PLAN_INVALID", f"{where}.criteria.core_feature is a boolean")
        severities.append(
            {
                "level": level,
                "criteria": {
                    "min_duration_minutes": _minutes(
                        criteria.get("min_duration_minutes"),
                        f"{where}.criteria.min_duration_minutes",
                        optional=True,
                    ),
                    "min_customers_pct": _percent(
                        criteria.get("min_customers_pct"),
                        f"{where}.criteria.min_customers_pct",
                    ),
                    "core_feature": core,
                },
                "notify_within_minutes": _minutes(
                    row.get("notify_within_minutes"), f"{where}.notify_within_minutes"
                ),
                "expected_customer_contact_minutes": _minutes(
                    row.get("expected_customer_contact_minutes"),
                    f"{where}.expected_customer_contact_minutes",
                ),
                "owner": _text(row.get("owner"), f"{where}.owner"),
            }
        )

    def severity_of(value: object, where: str) -> str:
        return _choice(value, where, levels)

    communications = []
    for where, row in _rows(raw, "communications"):
        communications.append(
            {
                "severity": severity_of(row.get("severity"), f"{where}.severity"),
                "at_minutes": _minutes(row.get("at_minutes"), f"{where}.at_minutes"),
                "audience": _choice(
                    row.get("audience"), f"{where}.audience", AUDIENCES
                ),
                "kind": _choice(row.get("kind"), f"{where}.kind", KINDS),
                "channel": _text(row.get("channel"), f"{where}.channel"),
                "content": _text(row.get("content"), f"{where}.content"),
                "owner": _text(row.get("owner"), f"{where}.owner"),
            }
        )
    remediation = []
    for where, row in _rows(raw, "remediation"):
        approver = row.get("approver")
        if approver is not None and not isinstance(approver, str):
            raise _fail("PLAN_INVALID", f"{where}.approver is a user id")
        remediation.append(
            {
                "tier": _text(row.get("tier"), f"{where}.tier"),
                "severity": severity_of(row.get("severity"), f"{where}.severity"),
                "offer": _text(row.get("offer"), f"{where}.offer"),
                "eligibility": _opt_text(
                    row.get("eligibility"), f"{where}.eligibility"
                ),
                "approver": (approver or "").strip() or None,
            }
        )
    escalation = []
    for where, row in _rows(raw, "escalation"):
        notify = row.get("notify")
        if not isinstance(notify, list) or not 1 <= len(notify) <= 50:
            raise _fail("PLAN_INVALID", f"{where}.notify lists 1-50 people or roles")
        escalation.append(
            {
                "severity": severity_of(row.get("severity"), f"{where}.severity"),
                "at_minutes": _minutes(row.get("at_minutes"), f"{where}.at_minutes"),
                "notify": [_text(n, f"{where}.notify") for n in notify],
                "info": _text(row.get("info"), f"{where}.info"),
            }
        )
    review = []
    for where, row in _rows(raw, "review"):
        days = row.get("within_days")
        if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 366:
            raise _fail("PLAN_INVALID", f"{where}.within_days is 0 to 366")
        participants = row.get("participants")
        if not isinstance(participants, list) or len(participants) > 50:
            raise _fail("PLAN_INVALID", f"{where}.participants is a list")
        facing = row.get("customer_facing")
        if not isinstance(facing, bool):
            raise _fail("PLAN_INVALID", f"{where}.customer_facing is a boolean")
        review.append(
            {
                "within_days": days,
                "what": _text(row.get("what"), f"{where}.what"),
                "participants": [
                    _text(p, f"{where}.participants") for p in participants
                ],
                "customer_facing": facing,
            }
        )
    return {
        "severities": severities,
        "communications": communications,
        "remediation": remediation,
        "escalation": escalation,
        "review": review,
    }


# ------------------------------------------------------------------- checks
def check_plan(plan: Mapping[str, Any], is_user: Callable[[str], bool]) -> list[Check]:
    """Every rule the plan breaks, each naming the row at fault."""
    found: list[Check] = []
    for i, row in enumerate(plan["remediation"]):
        approver = row["approver"]
        if not approver or not is_user(approver):
            who = f"{approver!r} is not a Quire user" if approver else "no approver"
            found.append(
                Check(
                    REMEDIATION_APPROVER_MISSING,
                    f"remediation for tier {row['tier']} at {row['severity']}: {who}",
                    "remediation",
                    i,
                )
            )
    for i, severity in enumerate(plan["severities"]):
        threshold = severity["expected_customer_contact_minutes"]
        acks = [
            c["at_minutes"]
            for c in plan["communications"]
            if c["severity"] == severity["level"]
            and c["audience"] == "customer"
            and c["kind"] == "acknowledgment"
        ]
        first = min(acks) if acks else None
        if first is None or first > threshold:
            said = (
                "no customer acknowledgment"
                if first is None
                else f"the first customer acknowledgment is at T+{first} min"
            )
            found.append(
                Check(
                    ACKNOWLEDGMENT_TOO_LATE,
                    f"{severity['level']}: {said}; customers are expected to "
                    f"contact support at T+{threshold} min",
                    "severities",
                    i,
                )
            )
    has_summary = any(
        c["audience"] == "customer" and c["kind"] == "post_incident_summary"
        for c in plan["communications"]
    ) or any(r["customer_facing"] for r in plan["review"])
    if not has_summary:
        found.append(
            Check(
                CUSTOMER_FOLLOW_UP_MISSING,
                "no customer-facing post-incident summary of what was fixed and "
                "what prevents recurrence",
                "review",
            )
        )
    return found


def remediation_approvers(plan: Mapping[str, Any]) -> list[str]:
    """The named approvers, each once, in the plan's order (release signers)."""
    seen: list[str] = []
    for row in plan["remediation"]:
        if row["approver"] and row["approver"] not in seen:
            seen.append(row["approver"])
    return seen


# ----------------------------------------------------------- classification
def parse_facts(raw: object) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise _fail("FACTS_INVALID", "facts is an object")
    require_known_fields(
        raw, {"duration_minutes", "customers_affected_pct", "core_feature"}, "facts"
    )
    core = raw.get("core_feature")
    if not isinstance(core, bool):
        raise _fail("FACTS_INVALID", "facts.core_feature is a boolean")
    pct = _percent(raw.get("customers_affected_pct"), "facts.customers_affected_pct")
    if pct is None:
        raise _fail("FACTS_INVALID", "facts.customers_affected_pct is required")
    return {
        "duration_minutes": _minutes(
            raw.get("duration_minutes"), "facts.duration_minutes"
        ),
        "customers_affected_pct": pct,
        "core_feature": core,
    }


def classify(plan: Mapping[str, Any], facts: Mapping[str, Any]) -> dict[str, Any]:
    """The most severe level whose criteria all hold (levels are listed most
    severe first), with the criteria it met; `severity: null` if none holds.
    A recommendation for humans, never an incident declaration."""
    for severity in plan["severities"]:
        met = _criteria_met(severity["criteria"], facts)
        if met is not None:
            return {"severity": severity["level"], "criteria_met": met}
    return {"severity": None, "criteria_met": []}


def _criteria_met(
    criteria: Mapping[str, Any], facts: Mapping[str, Any]
) -> list[str] | None:
    met: list[str] = []
    if criteria["min_duration_minutes"] is not None:
        if facts["duration_minutes"] < criteria["min_duration_minutes"]:
            return None
        met.append("min_duration_minutes")
    if criteria["min_customers_pct"] is not None:
        if Decimal(facts["customers_affected_pct"]) < Decimal(
            criteria["min_customers_pct"]
        ):
            return None
        met.append("min_customers_pct")
    if criteria["core_feature"] is not None:
        if facts["core_feature"] != criteria["core_feature"]:
            return None
        met.append("core_feature")
    return met


# ---------------------------------------------------------------- markdown
def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def render_markdown(title: str, plan: Mapping[str, Any]) -> str:
    """The plan as Markdown tables, one per part, for print and export."""

    def criteria(c: Mapping[str, Any]) -> str:
        parts = []
        if c["min_duration_minutes"] is not None:
            parts.append(f">= {c['min_duration_minutes']} min")
        if c["min_customers_pct"] is not None:
            parts.append(f">= {c['min_customers_pct']}% of customers")
        if c["core_feature"] is not None:
            parts.append("core feature" if c["core_feature"] else "non-core feature")
        return ", ".join(parts) or "any"

    out = [f"# {_cell(title)}", "", "## Severity classification", ""]
    out += _table(
        [
            "Severity",
            "Criteria",
            "Notify within",
            "Customers expected to contact",
            "Owner",
        ],
        [
            (
                s["level"],
                criteria(s["criteria"]),
                f"{s['notify_within_minutes']} min",
                f"T+{s['expected_customer_contact_minutes']} min",
                s["owner"],
            )
            for s in plan["severities"]
        ],
    )
    out += ["", "## Customer communication sequence", ""]
    out += _table(
        ["Severity", "When", "Audience", "Kind", "Channel", "Content", "Owner"],
        [
            (
                c["severity"],
                f"T+{c['at_minutes']} min",
                c["audience"],
                c["kind"],
                c["channel"],
                c["content"],
                c["owner"],
            )
            for c in sorted(
                plan["communications"], key=lambda c: (c["severity"], c["at_minutes"])
            )
        ],
    )
    out += ["", "## Remediation matrix", ""]
    out += _table(
        ["Tier", "Severity", "Offer", "Eligibility", "Approver"],
        [
            (
                r["tier"],
                r["severity"],
                r["offer"],
                r["eligibility"] or "",
                r["approver"] or "**missing**",
            )
            for r in plan["remediation"]
        ],
    )
    out += ["", "## Internal escalation", ""]
    out += _table(
        ["Severity", "When", "Notify", "With"],
        [
            (
                e["severity"],
                f"T+{e['at_minutes']} min",
                ", ".join(e["notify"]),
                e["info"],
            )
            for e in plan["escalation"]
        ],
    )
    out += ["", "## Post-incident review", ""]
    out += _table(
        ["Within", "What", "Participants", "Customer-facing"],
        [
            (
                f"{r['within_days']} days",
                r["what"],
                ", ".join(r["participants"]),
                "yes" if r["customer_facing"] else "no",
            )
            for r in plan["review"]
        ],
    )
    return "\n".join(out) + "\n"

"""Calculation worksheets as packet content (issue 11, seed 002).

Hashed: each worksheet's title, facts, cites (with the digest each cited
source had when the facts were set) and its interpretations' rules. Results
are derived by the pure calculator and bound in the manifest, every
interpretation's, never one "preferred" figure. The gate holds
`WORKSHEET_SOURCE_STALE` while a cited source's digest differs from the one
the facts were set against, and `REVISION_STALE` when the packet's
worksheets no longer say what the revision says.

Quire computes under each interpretation; it never decides a credit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from workspace.content.base import Change, ContentModule, Hold, by_id
from workspace.content.registry import register
from workspace.credit import NOTE, compute
from workspace.credit.rules import parse_request
from workspace.domain.worksheets import (
    MAX_WINDOWS,
    worksheets,
)
from workspace.hashing import content_hash

WORKSHEET_SOURCE_STALE = "WORKSHEET_SOURCE_STALE"

#: What a manifest and the side-by-side view show of each result.
RESULT_FIELDS = (
    "eligible_downtime_minutes",
    "uptime_exact_fraction",
    "uptime_pct",
    "band",
    "credit_pct",
    "credit_amount",
    "flags",
)
#: The calculator's defaults, so that "left unset" and "set to the default"
#: are not reported as a difference between two interpretations.
RULE_DEFAULTS: dict[str, Any] = {
    "bands": None,
    "tiers": None,
    "multiplier": None,
    "cap_pct": None,
    "granularity_minutes": 1,
    "bucket_policy": "any_overlap",
    "min_downtime_period_minutes": 0,
    "maintenance_handling": "none",
    "merge_overlaps": True,
    "weight_by_users": False,
    "denominator": "full_period",
}


def result_of(facts: dict[str, Any], rules: dict[str, Any]) -> dict[str, Any]:
    """The calculator's whole result (steps included) for stored facts and
    rules (checked when they were stored)."""
    parsed = parse_request({"facts": facts, "rules": rules}, MAX_WINDOWS)
    return compute(*parsed)


def _plain(value: Any) -> Any:
    """Decimals as their digits (a manifest holds no floats)."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def summary(result: dict[str, Any]) -> dict[str, Any]:
    """The figures and flags a manifest binds, as plain JSON (strings for
    the 6-dp and cent figures)."""
    return {key: _plain(result[key]) for key in RESULT_FIELDS}


def facts_hash(facts: dict[str, Any]) -> str:
    return content_hash(facts)


def _rules_with_defaults(rules: dict[str, Any]) -> dict[str, Any]:
    return {**RULE_DEFAULTS, **rules}


def _change(a: Any, b: Any) -> dict[str, Any]:
    change: dict[str, Any] = {"from": a, "to": b}
    if isinstance(a, int | Decimal) and isinstance(b, int | Decimal):
        change["by"] = b - a
    return change


def differences(
    interpretations: list[dict[str, Any]], results: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Each pair of interpretations (in order): which rules differ, and
    what that changes in eligible minutes, uptime, band, credit % and
    amount (only what changes; `by` is b - a for numbers)."""
    found: list[dict[str, Any]] = []
    for i, a in enumerate(interpretations):
        for j in range(i + 1, len(interpretations)):
            b = interpretations[j]
            ra, rb = _rules_with_defaults(a["rules"]), _rules_with_defaults(b["rules"])
            rules = [
                {"rule": key, "a": ra.get(key), "b": rb.get(key)}
                for key in sorted(set(ra) | set(rb))
                if ra.get(key) != rb.get(key)
            ]
            changes = {
                key: _change(results[i][key], results[j][key])
                for key in (
                    "eligible_downtime_minutes",
                    "uptime_pct",
                    "band",
                    "credit_pct",
                    "credit_amount",
                )
                if results[i][key] != results[j][key]
            }
            found.append(
                {
                    "a": a["id"],
                    "b": b["id"],
                    "a_name": a["name"],
                    "b_name": b["name"],
                    "rules": rules,
                    "changes": changes,
                }
            )
    return found


def stale_cites(packet: Any, worksheet: dict[str, Any]) -> list[dict[str, Any]]:
    """Cites whose source's digest is no longer the one the facts were set
    against: `{fact, source_id, digest (then), current}`."""
    return [
        {
            "fact": fact,
            "source_id": cite["source_id"],
            "digest": cite["digest"],
            "current": packet.sources[cite["source_id"]]["digest"],
        }
        for fact, cite in sorted(worksheet["cites"].items())
        if packet.sources[cite["source_id"]]["digest"] != cite["digest"]
    ]


def view(packet: Any, worksheet: dict[str, Any]) -> dict[str, Any]:
    """The side-by-side view: facts, cites (with each cited source's title
    and current digest), every interpretation with its whole result, the
    differences and what is stale. Figures stay Decimals (`to_json`)."""
    results = [
        result_of(worksheet["facts"], i["rules"]) for i in worksheet["interpretations"]
    ]
    return {
        "worksheet_id": worksheet["id"],
        "title": worksheet["title"],
        "facts": worksheet["facts"],
        "facts_hash": facts_hash(worksheet["facts"]),
        "facts_version": worksheet["facts_version"],
        "facts_set_by": worksheet["facts_set_by"],
        "cites": {
            fact: {
                **cite,
                "title": packet.sources[cite["source_id"]]["title"],
                "kind": packet.sources[cite["source_id"]]["kind"],
                "current_digest": packet.sources[cite["source_id"]]["digest"],
            }
            for fact, cite in sorted(worksheet["cites"].items())
        },
        "cited_digests": {
            fact: cite["digest"] for fact, cite in sorted(worksheet["cites"].items())
        },
        "stale": stale_cites(packet, worksheet),
        "interpretations": [
            {
                "interpretation_id": i["id"],
                "name": i["name"],
                "rules": i["rules"],
                "objection_id": i["objection_id"],
                "result": result,
            }
            for i, result in zip(worksheet["interpretations"], results, strict=True)
        ],
        "differences": differences(worksheet["interpretations"], results),
        "note": NOTE,
    }


def _content(worksheet: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": worksheet["id"],
        "title": worksheet["title"],
        "facts": worksheet["facts"],
        "cites": {
            fact: {"source_id": c["source_id"], "digest": c["digest"]}
            for fact, c in sorted(worksheet["cites"].items())
        },
        "interpretations": [
            {
                "id": i["id"],
                "name": i["name"],
                "rules": i["rules"],
                "objection_id": i["objection_id"],
            }
            for i in worksheet["interpretations"]
        ],
    }


class Worksheets(ContentModule):
    name = "worksheets"
    order = 40

    def content(self, packet: Any) -> list[dict[str, Any]] | None:
        found = worksheets(packet)
        return [_content(w) for w in found.values()] if found else None

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        return [
            Hold(
                WORKSHEET_SOURCE_STALE,
                f"worksheet {w['id']} ({w['title']}): its {cite['fact']} facts were "
                f"set against {cite['source_id']} at {cite['digest']}, which is now "
                f"{cite['current']}; update the facts",
                {
                    "worksheet_id": w["id"],
                    "source_id": cite["source_id"],
                    "fact": cite["fact"],
                },
            )
            for w in worksheets(packet).values()
            for cite in stale_cites(packet, w)
        ]

    def changes(self, cut: Any, current: Any) -> list[Change]:
        """A worksheet added, changed (facts, cites, interpretations) or
        gone since the cut: one change each."""
        diff = by_id(cut or [], current or [])
        said = [
            (w["id"], w["title"], "was added")
            for w in diff["added"]
        ] + [
            (c["id"], c["to"]["title"], "changed (" + ", ".join(
                k for k in ("title", "facts", "cites", "interpretations")
                if c["from"].get(k) != c["to"].get(k)
            ) + ")")
            for c in diff["changed"]
        ] + [(w["id"], w["title"], "was removed") for w in diff["removed"]]  # fmt: skip
        return [
            Change(f"worksheet {wid} ({title}) {what}", {"worksheet_id": wid})
            for wid, title, what in said
        ]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        bound = content.get("worksheets")
        if not bound:
            return {}
        return {
            "worksheets": [
                {
                    "worksheet_id": w["id"],
                    "title": w["title"],
                    "facts_hash": facts_hash(w["facts"]),
                    "cited_digests": w["cites"],
                    "interpretations": [
                        {
                            "id": i["id"],
                            "name": i["name"],
                            "objection_id": i["objection_id"],
                            "result": summary(result_of(w["facts"], i["rules"])),
                        }
                        for i in w["interpretations"]
                    ],
                    "note": NOTE,
                }
                for w in bound
            ]
        }

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        if "worksheets" not in old and "worksheets" not in new:
            return None
        return by_id(old.get("worksheets") or [], new.get("worksheets") or [])


WORKSHEETS = register(Worksheets())

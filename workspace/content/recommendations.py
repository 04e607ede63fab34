"""Recommendation content (seeds 000, 001): the delegated-authority matrix,
the case's dimensions, accepted options with their computed classification,
the owner's ranking, the blocked-path register and the precedents; and, on
an escalation packet, the dossier assembled from its recommendation.

Hashed only when present (a packet without any keeps its hash). The gate
holds `NO_IN_BAND_OPTION` on a release while no accepted option is in band
(every one blocked or escalation-only): escalate instead. Agents' proposed
options and asks are not content until a human accepts them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workspace import authority
from workspace.content.base import Change, ContentModule, Hold, by_id
from workspace.content.registry import register
from workspace.domain import recommendations as rec
from workspace.domain.sources import SourceRefreshed, SourceWithdrawn

NO_IN_BAND_OPTION = "NO_IN_BAND_OPTION"

#: What makes a packet hold recommendation content (the escalation link
#: alone does not).
CONTENT_KEYS = ("authority", "case", "options", "asks", "precedents")


def accepted(items: dict[str, Any]) -> list[dict[str, Any]]:
    return [x for x in items.values() if x["state"] == "accepted"]


class Recommendations(ContentModule):
    name = rec.PART
    order = 60

    def content(self, packet: Any) -> dict[str, Any] | None:
        part = rec.state(packet)
        if not any(k in part for k in CONTENT_KEYS):
            return None
        auth = part.get("authority")
        ranking = part.get("ranking")
        return {
            "authority": None
            if auth is None
            else {k: auth[k] for k in ("source_id", "digest", "matrix")},
            "case": part.get("case"),
            "options": [
                {k: o[k] for k in ("id", *rec.OPTION_FIELDS)}
                for o in accepted(part.get("options", {}))
            ],
            "ranking": None
            if ranking is None
            else {"order": ranking["order"], "because": ranking["because"]},
            "asks": [
                {k: a[k] for k in ("id", *rec.ASK_FIELDS)}
                for a in accepted(part.get("asks", {}))
            ],
            "precedents": list(part.get("precedents", {}).values()),
        }

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        """Read from the packet as it stands: a revision whose options differ
        from it is held REVISION_STALE as well."""
        part = rec.state(packet)
        if record is None or "authority" not in part:
            return []
        options = accepted(part.get("options", {}))
        verdicts = {o["id"]: o["classification"]["classification"] for o in options}
        if any(authority.in_band(v) for v in verdicts.values()):
            return []
        listed = ", ".join(f"{oid} {v}" for oid, v in verdicts.items()) or "none"
        return [
            Hold(
                NO_IN_BAND_OPTION,
                "no accepted option is inside delegated authority (options: "
                f"{listed}); package an escalation for the board instead",
                {"options": verdicts},
            )
        ]

    def changes(self, cut: Any, current: Any) -> list[Change]:
        if cut == current:
            return []
        parts = sorted(
            k
            for k in {*(cut or {}), *(current or {})}
            if (cut or {}).get(k) != (current or {}).get(k)
        )
        return [
            Change(
                f"the recommendation's {', '.join(parts)} changed", {"changed": parts}
            )
        ]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        part = content.get(self.key)
        if part is None:
            return {}
        auth = part["authority"]
        return {
            "recommendation": {
                "authority": None
                if auth is None
                else {"source_id": auth["source_id"], "digest": auth["digest"]},
                "options": [
                    {
                        "option_id": o["id"],
                        "title": o["title"],
                        "classification": o["classification"]["classification"],
                    }
                    for o in part["options"]
                ],
                "ranking": part["ranking"],
                "computed_not_decided": True,
            }
        }

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        before, after = old.get(self.key), new.get(self.key)
        if before is None and after is None:
            return None
        before, after = before or {}, after or {}
        return {
            "authority_changed": before.get("authority") != after.get("authority"),
            "case_changed": before.get("case") != after.get("case"),
            "options": by_id(before.get("options", []), after.get("options", [])),
            "ranking": None
            if before.get("ranking") == after.get("ranking")
            else {"from": before.get("ranking"), "to": after.get("ranking")},
            "asks": by_id(before.get("asks", []), after.get("asks", [])),
            "precedents": by_id(
                before.get("precedents", []), after.get("precedents", [])
            ),
        }

    def react(self, packet: Any, pending: list[Any], meta: Any) -> None:
        """The matrix's source refreshed (material) or withdrawn in this save:
        every option is reclassified in the same save."""
        auth = rec.state(packet).get("authority")
        if auth is None:
            return
        for event in pending:
            if (
                isinstance(event, SourceRefreshed | SourceWithdrawn)
                and event.source_id == auth["source_id"]
            ):
                cause = (
                    rec.AUTHORITY_SOURCE_WITHDRAWN
                    if isinstance(event, SourceWithdrawn)
                    else rec.AUTHORITY_SOURCE_REFRESHED
                )
                rec.reclassify(packet, meta, cause)
                return


class Escalations(ContentModule):
    """The escalation packet's dossier, as assembled from its recommendation."""

    name = rec.ESCALATION_PART
    order = 61
    dependency = True

    def content(self, packet: Any) -> dict[str, Any] | None:
        part = rec.state(packet, rec.ESCALATION_PART)
        if not part:
            return None
        return {"from_packet_id": part["from_packet_id"], **part["dossier"]}

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        part = content.get(self.key)
        if part is None:
            return {}
        return {"escalated_from": part["from_packet_id"]}


RECOMMENDATIONS = register(Recommendations())
ESCALATIONS = register(Escalations())

"""Packaging an escalation (seeds 000, 001): when local authority is
exhausted, the release owner assembles, from the recommendation, a linked
escalation packet for the board's lane: its evidence (cited again, with the
same digests), every breach and escalation trigger, the unresolved trade-offs
(open objections, conditions), the blocked-path register, the precedents as
compared, the ranking and the owner. Both packets are saved in one save, each
linking to the other; the escalation packet then goes through the gate like
any packet. Quire packages; it decides no concession.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from release.commands import release_app
from release.lanes import validate_lane_id
from workspace import authority
from workspace.commands.base import Command, Context
from workspace.commands.recommendations import text
from workspace.content.recommendations import accepted
from workspace.domain import Packet, parse_time
from workspace.domain import recommendations as rec
from workspace.errors import NotFoundError, StateError

ESCALATION_KIND = "escalation"
NOTE = (
    "Assembled and classified by Quire from the recommendation; it approves "
    "no concession and makes no customer commitment: the board decides."
)


def dossier(packet: Packet, lane_id: str, reason: str | None) -> dict[str, Any]:
    part = rec.state(packet)
    auth = part["authority"]
    matrix = authority.parse_matrix(auth["matrix"])
    options = accepted(part.get("options", {}))
    asks = accepted(part.get("asks", {}))
    case = part.get("case")
    evidence = _evidence_ids(packet)
    return {
        "title": packet.title,
        "lane_id": lane_id,
        "owner": packet.release_owner,
        "reason": reason,
        "authority": {k: auth[k] for k in ("source_id", "digest", "matrix")},
        "case": case,
        "options": [
            {
                "id": o["id"],
                "title": o["title"],
                "components": o["components"],
                "rationale": o["rationale"],
                "evidence": o["evidence"],
                "classification": o["classification"],
            }
            for o in options
        ],
        "breaches": [
            {"option_id": o["id"], **finding}
            for o in options
            for finding in (
                o["classification"]["breaches"] + o["classification"]["escalations"]
            )
        ],
        "unresolved_trade_offs": [
            {"objection_id": oid, "text": obj["text"]}
            for oid, obj in packet.objections.items()
            if obj["state"] == "open"
        ]
        + [
            {"option_id": o["id"], **finding}
            for o in options
            for finding in o["classification"]["conditions"]
        ],
        "register": {
            **authority.register_summary(asks, matrix),
            "asks": [
                {k: a[k] for k in ("id", "type", "requested_by", "text")} for a in asks
            ],
        },
        "precedents": [
            {
                **p,
                "compared": None
                if case is None
                else authority.compare_precedent(case, p["dimensions"]),
            }
            for p in part.get("precedents", {}).values()
        ],
        "ranking": part.get("ranking", {}).get("order"),
        "evidence": [
            {
                "source_id": sid,
                **{
                    k: packet.sources[sid][k]
                    for k in ("kind", "title", "reference", "digest", "precedence")
                },
            }
            for sid in evidence
        ],
        "note": NOTE,
    }


def _evidence_ids(packet: Packet) -> list[str]:
    part = rec.state(packet)
    found = [part["authority"]["source_id"]]
    for option in accepted(part.get("options", {})):
        found.extend(s for s in option["evidence"] if s not in found)
    return [s for s in found if packet.sources[s]["status"] != "withdrawn"]


@dataclass(frozen=True)
class PrepareEscalation(Command, action="release_owner"):
    """The release owner (never an agent) packages the escalation. Refused
    (409 IN_BAND_OPTION_REMAINS) while an accepted option is in band, unless
    a `reason` says why none is defensible; once per packet."""

    lane_id: str
    reason: str | None = None

    def prepare(self, ctx: Context) -> None:
        validate_lane_id(self.lane_id)
        if release_app(ctx).find_lane(self.lane_id) is None:
            raise NotFoundError(
                "LANE_NOT_FOUND",
                f"no intake lane {self.lane_id!r}",
                {"lane_id": self.lane_id},
            )

    def decide(self, packet: Packet, ctx: Context) -> Packet:
        part = rec.state(packet)
        if "authority" not in part:
            raise StateError(
                "AUTHORITY_MISSING", "nothing to escalate: no matrix was set"
            )
        if "escalation" in part:
            raise StateError(
                "ALREADY_ESCALATED",
                f"escalated already as {part['escalation']['packet_id']}",
                {"packet_id": part["escalation"]["packet_id"]},
            )
        reason = (
            None if self.reason is None else text("REASON_EMPTY", "reason", self.reason)
        )
        in_band = [
            o["id"]
            for o in accepted(part.get("options", {}))
            if authority.in_band(o["classification"]["classification"])
        ]
        if in_band and reason is None:
            raise StateError(
                "IN_BAND_OPTION_REMAINS",
                f"options {', '.join(in_band)} are inside delegated authority; "
                "escalate only with a reason why none is defensible",
                {"options": in_band},
            )
        meta = ctx.meta(reason=reason)
        title = f"Escalation: {packet.title}"[: rec.TEXT_MAX]
        new = Packet.open(
            meta,
            kind=ESCALATION_KIND,
            title=title[:300],
            release_owner=packet.release_owner,
            authors=list(packet.authors),
            reviewers=list(packet.reviewers),
        )
        for sid in _evidence_ids(packet):
            source = packet.sources[sid]
            new.cite_source(
                meta,
                kind=source["kind"],
                title=source["title"],
                reference=source["reference"],
                digest=source["digest"],
                precedence=source["precedence"],
                valid_until=parse_time(source["valid_until"]),
            )
        new._trigger(
            rec.EscalationAssembled,
            meta,
            from_packet_id=str(packet.id),
            lane_id=self.lane_id,
            dossier=dossier(packet, self.lane_id, reason),
        )
        packet._trigger(
            rec.EscalationPrepared,
            meta,
            escalation_packet_id=str(new.id),
            lane_id=self.lane_id,
        )
        return new

    def others(self, result: Any, ctx: Context) -> list[Any]:
        return [result]

"""Recommendation packets (seeds 000, 001): the delegated-authority matrix,
options checked against it, the owner's ranking, the blocked-path register,
precedents, the case's own dimensions and the link to an escalation packet.

Events only fold into `packet.part("recommendation")` (or `"escalation"` on
an escalation packet); every check and every classification is made by the
command functions below, once, and stored in the event, so a replay never
re-decides. Classifications come from the pure rules of
`workspace/authority.py`; Quire classifies, it never decides a concession.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from workspace import authority
from workspace.domain.base import Meta, PacketEvent, copied, iso
from workspace.errors import UnprocessableError

if TYPE_CHECKING:
    from workspace.domain.packet import Packet

PART = "recommendation"
ESCALATION_PART = "escalation"
MATRIX_SOURCE_KIND = "concession-matrix"
TEXT_MAX = 4_000
EVIDENCE_MAX = 100

#: Conditions the packet adds to the matrix's own (docs/recommendations.md).
AUTHORITY_SOURCE_REFRESHED = "AUTHORITY_SOURCE_REFRESHED"
AUTHORITY_SOURCE_WITHDRAWN = "AUTHORITY_SOURCE_WITHDRAWN"
PRECEDENT_PARTIAL_FIT = "PRECEDENT_PARTIAL_FIT"
CASE_DIMENSIONS_MISSING = "CASE_DIMENSIONS_MISSING"

#: An option's and an ask's own fields, copied from the event that adds it
#: (the content module hashes them, with the id, once accepted).
OPTION_FIELDS = (
    "title",
    "components",
    "rationale",
    "evidence",
    "precedent_ids",
    "classification",
)
ASK_FIELDS = ("type", "requested_by", "text")


class RecommendationEvent(PacketEvent):
    """Base of this module's events (no TOPIC: never stored as such).
    `regates`: an open release's hold list may differ after it."""

    regates: ClassVar[bool] = True


class ProposalEvent(RecommendationEvent):
    """An event about an option or an ask, which an agent may propose and a
    human accepts (no TOPIC: the base of their events). Its `kind`
    (`option`) names its map in the part (`options`), their count
    (`option_count`, the next id's number) and its id field (`option_id`)."""

    kind: ClassVar[str]

    def ident(self) -> str:
        ident: str = getattr(self, f"{self.kind}_id")
        return ident

    def keep(
        self, packet: Packet, names: tuple[str, ...], proposed: bool, **by: str
    ) -> None:
        """Folds the event that adds one: counts it, and keeps under its id
        its id, the fields named, its state (`proposed` or accepted), who
        (`by`) and when."""
        part = packet.part(PART)
        part.setdefault(f"{self.kind}s", {})[self.ident()] = {
            "id": self.ident(),
            **copied(self, *names),
            "state": "proposed" if proposed else "accepted",
            **by,
            "at": iso(self.timestamp),
        }
        part[f"{self.kind}_count"] = part.get(f"{self.kind}_count", 0) + 1


class ProposalAccepted(ProposalEvent):
    """A human accepts a proposed option or ask (no TOPIC)."""

    def fold(self, packet: Packet) -> None:
        packet.part(PART)[f"{self.kind}s"][self.ident()].update(
            state="accepted", accepted_by=self.actor
        )


class AuthorityMatrixSet(RecommendationEvent):
    TOPIC = "quire.packet.AuthorityMatrixSet"
    source_id: str
    digest: str
    matrix: dict[str, Any]

    def fold(self, packet: Packet) -> None:
        packet.part(PART)["authority"] = {
            **copied(self, "source_id", "digest", "matrix"),
            "version": self.originator_version,
            "set_by": self.actor,
            "at": iso(self.timestamp),
        }


class CaseDimensionsSet(RecommendationEvent):
    TOPIC = "quire.packet.CaseDimensionsSet"
    dimensions: dict[str, Any]

    def fold(self, packet: Packet) -> None:
        packet.part(PART)["case"] = dict(self.dimensions)


class OptionAdded(ProposalEvent):
    TOPIC = "quire.packet.OptionAdded"
    kind = "option"
    option_id: str
    title: str
    components: list[dict[str, Any]]
    rationale: str
    evidence: list[str]
    precedent_ids: list[str]
    classification: dict[str, Any]
    proposed: bool

    def fold(self, packet: Packet) -> None:
        self.keep(
            packet,
            OPTION_FIELDS,
            self.proposed,
            added_by=self.actor,
            added_by_kind=self.actor_kind,
        )


class OptionAccepted(ProposalAccepted):
    TOPIC = "quire.packet.OptionAccepted"
    kind = "option"
    option_id: str


class OptionReclassified(RecommendationEvent):
    """A classification the rules now compute differently (the matrix, its
    source, the case's dimensions changed): computed, not authored."""

    TOPIC = "quire.packet.OptionReclassified"
    option_id: str
    previous: str
    classification: dict[str, Any]
    cause: str

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        part = packet.part(PART)
        part["options"][self.option_id]["classification"] = dict(self.classification)
        part.setdefault("history", []).append(
            {
                "kind": "reclassified",
                "version": self.originator_version,
                "at": iso(self.timestamp),
                "by": self.actor,
                "option_id": self.option_id,
                "from": self.previous,
                "to": self.classification["classification"],
                "cause": self.cause,
            }
        )


class OptionsRanked(RecommendationEvent):
    TOPIC = "quire.packet.OptionsRanked"
    order: list[str]
    because: dict[str, Any]

    # The release owner's judgement, like a residual acceptance: it does not
    # make her an author of the revision she then signs.
    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        part = packet.part(PART)
        previous = list(part.get("ranking", {}).get("order", []))
        part["ranking"] = self.record("order", "because")
        part.setdefault("history", []).append(
            self.record(
                "order",
                "because",
                kind="ranked",
                version=self.originator_version,
                previous=previous,
            )
        )


class AskRecorded(ProposalEvent):
    TOPIC = "quire.packet.AskRecorded"
    kind = "ask"
    ask_id: str
    type: str
    requested_by: str
    text: str
    proposed: bool

    def fold(self, packet: Packet) -> None:
        self.keep(packet, ASK_FIELDS, self.proposed, recorded_by=self.actor)


class AskAccepted(ProposalAccepted):
    TOPIC = "quire.packet.AskAccepted"
    kind = "ask"
    ask_id: str


class PrecedentRecorded(RecommendationEvent):
    TOPIC = "quire.packet.PrecedentRecorded"
    precedent_id: str
    case_ref: str
    dimensions: dict[str, Any]
    granted: str

    def fold(self, packet: Packet) -> None:
        part = packet.part(PART)
        part.setdefault("precedents", {})[self.precedent_id] = {
            "id": self.precedent_id,
            **copied(self, "case_ref", "dimensions", "granted"),
        }


class EscalationPrepared(RecommendationEvent):
    """The recommendation's side of the link to its escalation packet."""

    TOPIC = "quire.packet.EscalationPrepared"
    escalation_packet_id: str
    lane_id: str

    counts_as_work = False

    def fold(self, packet: Packet) -> None:
        packet.part(PART)["escalation"] = self.record(
            "lane_id", "reason", packet_id=self.escalation_packet_id
        )


class EscalationAssembled(RecommendationEvent):
    """The escalation packet's side: the dossier assembled from the
    recommendation (hashed content of the escalation packet)."""

    TOPIC = "quire.packet.EscalationAssembled"
    from_packet_id: str
    lane_id: str
    dossier: dict[str, Any]

    counts_as_work = False  # assembled by Quire from the recommendation

    def fold(self, packet: Packet) -> None:
        packet.part(ESCALATION_PART).update(
            copied(self, "from_packet_id", "lane_id", "dossier")
        )


# ----------------------------------------------------------------- reading
def state(packet: Any, name: str = PART) -> dict[str, Any]:
    """The module's state without creating it (reads must not add `parts`)."""
    found: dict[str, Any] = vars(packet).get("parts", {}).get(name, {})
    return found


def matrix_of(packet: Any) -> authority.Matrix | None:
    auth = state(packet).get("authority")
    return None if auth is None else authority.parse_matrix(auth["matrix"])


def context_conditions(
    packet: Any, option: dict[str, Any], overrides: dict[str, Any] | None = None
) -> list[authority.Finding]:
    """What the packet adds to the matrix's conditions: its matrix source
    refreshed or withdrawn since the matrix was set, or a cited precedent
    that does not match the case on every dimension."""
    part = state(packet)
    found: list[authority.Finding] = []
    auth = part.get("authority")
    if auth is not None:
        source = packet.sources.get(auth["source_id"])
        if source is None or source["status"] == "withdrawn":
            found.append(
                authority.Finding(
                    AUTHORITY_SOURCE_WITHDRAWN,
                    f"the matrix's source {auth['source_id']} was withdrawn; "
                    "the option needs a current matrix",
                )
            )
        elif source.get("material_version", 0) > auth["version"]:
            found.append(
                authority.Finding(
                    AUTHORITY_SOURCE_REFRESHED,
                    f"source {auth['source_id']} was refreshed "
                    f"({auth['digest']} -> {source['digest']}) after the matrix "
                    "was set; set the matrix again to confirm its limits",
                )
            )
    case = (overrides or {}).get("case", part.get("case"))
    for pid in option.get("precedent_ids", []):
        precedent = part.get("precedents", {}).get(pid)
        if precedent is None:
            continue
        if case is None:
            found.append(
                authority.Finding(
                    CASE_DIMENSIONS_MISSING,
                    f"the option relies on precedent {pid}, but the case's own "
                    "dimensions are not recorded (POST .../case)",
                )
            )
            continue
        fit = authority.compare_precedent(case, precedent["dimensions"])
        if fit["differ"]:
            found.append(
                authority.Finding(
                    PRECEDENT_PARTIAL_FIT,
                    f"precedent {pid} ({precedent['case_ref']}) differs on "
                    f"{', '.join(fit['differ'])}",
                )
            )
    return found


def classify_option(
    packet: Any,
    option: dict[str, Any],
    matrix: authority.Matrix,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    components = authority.parse_components(option["components"], matrix)
    result = authority.classify(
        components,
        matrix,
        context_conditions=context_conditions(packet, option, overrides),
    )
    return result.as_dict()


def reclassify(packet: Packet, meta: Meta, cause: str) -> list[str]:
    """Recomputes every option's classification on the packet as it stands
    (pending events folded); triggers `OptionReclassified` for each that
    changed. Returns the ids that changed."""
    part = state(packet)
    options = part.get("options", {})
    if not options or part.get("authority") is None:
        return []
    matrix = matrix_of(packet)
    assert matrix is not None
    changed: list[str] = []
    for oid, option in list(options.items()):
        try:
            now = classify_option(packet, option, matrix)
        except UnprocessableError as error:
            # A component type the new matrix no longer knows blocks the
            # option (it cannot be checked): a breach, never a silent pass.
            now = authority.Classification(
                authority.BLOCKED,
                breaches=(
                    authority.Finding(
                        "COMPONENT_NOT_CHECKABLE",
                        f"the matrix no longer reads this option: {error.message}",
                    ),
                ),
            ).as_dict()
        if now != option["classification"]:
            packet._trigger(
                OptionReclassified,
                meta,
                option_id=oid,
                previous=option["classification"]["classification"],
                classification=now,
                cause=cause,
            )
            changed.append(oid)
    return changed


def ranking_history(packet: Any) -> list[dict[str, Any]]:
    """Every ranking and reclassification, oldest first, each ranking with
    what it changed: the preferred option before and after, which options
    moved down (downgraded) and which were left out (removed), and why."""
    part = state(packet)
    out: list[dict[str, Any]] = []
    for entry in part.get("history", []):
        if entry["kind"] != "ranked":
            out.append(dict(entry))
            continue
        before, after = entry["previous"], entry["order"]
        downgraded = [
            oid
            for oid in after
            if oid in before and after.index(oid) > before.index(oid)
        ]
        removed = [oid for oid in before if oid not in after]
        out.append(
            {
                **entry,
                "preferred_before": before[0] if before else None,
                "preferred_after": after[0] if after else None,
                "preferred_changed": (before[:1] != after[:1]),
                "downgraded": downgraded,
                "removed": removed,
                "added": [oid for oid in after if oid not in before],
            }
        )
    return out


def option_view(packet: Any, option: dict[str, Any]) -> dict[str, Any]:
    """An option with its classification's reasons and, for each precedent it
    cites, which of the five dimensions match the case's and which differ."""
    part = state(packet)
    case = part.get("case")
    fits = []
    for pid in option["precedent_ids"]:
        precedent = part.get("precedents", {}).get(pid)
        if precedent is None:
            continue
        fits.append(
            {
                "precedent_id": pid,
                "case_ref": precedent["case_ref"],
                "granted": precedent["granted"],
                **(
                    {"matched": [], "differ": [], "case_missing": True}
                    if case is None
                    else {
                        **authority.compare_precedent(case, precedent["dimensions"]),
                        "case_missing": False,
                    }
                ),
            }
        )
    verdict = option["classification"]
    return {
        **{k: v for k, v in option.items() if k != "classification"},
        "classification": verdict["classification"],
        "breaches": verdict["breaches"],
        "escalations": verdict["escalations"],
        "conditions": verdict["conditions"],
        "in_band": authority.in_band(verdict["classification"]),
        "precedents": fits,
    }


def asks_view(packet: Any) -> dict[str, Any]:
    """The blocked-path register: accepted asks counted by type, each with
    its classification, the drift flag, and agents' proposals apart."""
    part = state(packet)
    asks = list(part.get("asks", {}).values())
    kept = [a for a in asks if a["state"] == "accepted"]
    auth = part.get("authority")
    if auth is None:
        summary: dict[str, Any] = {
            "types": [],
            "out_of_band_asks": 0,
            "repeated_out_of_band": [],
            "drifting_beyond_scope": False,
        }
    else:
        matrix = authority.parse_matrix(auth["matrix"])
        summary = authority.register_summary(kept, matrix)
        for row in summary["types"]:
            row["asks"] = [a for a in kept if a["type"] == row["type"]]
    return {
        **summary,
        "items": summary["types"],
        "proposed": [a for a in asks if a["state"] == "proposed"],
    }


def view(packet: Any) -> dict[str, Any]:
    """The whole recommendation as its members read it."""
    part = state(packet)
    return {
        "authority": part.get("authority"),
        "case": part.get("case"),
        "options": [option_view(packet, o) for o in part.get("options", {}).values()],
        "ranking": part.get("ranking"),
        "register": asks_view(packet),
        "precedents": list(part.get("precedents", {}).values()),
        "escalation": part.get("escalation"),
        "escalated_from": state(packet, ESCALATION_PART).get("from_packet_id"),
        "note": "Quire classifies options against the matrix; it decides no "
        "concession, credit or customer commitment.",
    }

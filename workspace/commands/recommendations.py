"""Recommendation commands (seeds 000, 001): set the authority matrix and the
case's dimensions, add and accept options, rank them, record and accept
asks, record precedents. Every check is made here, before an event is
triggered, so bad input (422, a stable code) writes nothing.

Agents listed as authors may propose options and asks (stored as proposed,
for a human co-author to accept); they never rank, and never set the matrix,
the case or precedents (403 AGENT_NOT_ALLOWED).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from workspace import authority, policy
from workspace.accounts import Principal
from workspace.commands.base import Command, Context
from workspace.domain import Packet, require_text
from workspace.domain import recommendations as rec
from workspace.errors import (
    InvalidInputError,
    NotFoundError,
    StateError,
    UnprocessableError,
)

MAX_OPTIONS = 100
MAX_ASKS = 1_000
MAX_PRECEDENTS = 200


def text(code: str, what: str, value: object, limit: int = rec.TEXT_MAX) -> str:
    """`require_text`, as a 422 (bad content of a recommendation)."""
    try:
        return require_text(code, what, value, limit)
    except InvalidInputError as error:
        raise UnprocessableError(error.code, error.message, error.details) from None


def _author_or_agent(principal: Principal, packet: Packet) -> bool:
    """Authorizes a proposal: a human co-author adds, an agent listed as an
    author proposes. Returns whether it is a proposal."""
    if principal.is_agent and policy.is_author(principal, packet):
        return True
    policy.require(principal, "edit", packet)
    return False


def _next_id(prefix: str, count: int, limit: int, code: str, message: str) -> str:
    """The id of the next entry of a list numbered from 1 (`opt-3`), holding
    `count` entries; 422 `code` when it holds `limit` already."""
    if count >= limit:
        raise UnprocessableError(code, message)
    return f"{prefix}-{count + 1}"


def _matrix(packet: Packet) -> authority.Matrix:
    matrix = rec.matrix_of(packet)
    if matrix is None:
        raise StateError(
            "AUTHORITY_MISSING",
            "set the delegated-authority matrix first (POST .../authority)",
        )
    return matrix


@dataclass(frozen=True)
class SetAuthority(Command, action="cite_source"):
    """The matrix options are checked against, bound to a cited source of
    kind `concession-matrix` by its digest; every option is reclassified in
    the same save."""

    source_id: str
    matrix: Any

    def decide(self, packet: Packet, ctx: Context) -> list[str]:
        parsed = authority.parse_matrix(self.matrix)
        source = (
            packet.sources.get(self.source_id)
            if isinstance(self.source_id, str)
            else None
        )
        if source is None or source["status"] == "withdrawn":
            raise UnprocessableError(
                "AUTHORITY_SOURCE_UNKNOWN",
                f"no current cited source {self.source_id!r} in this packet",
                {"source_id": self.source_id},
            )
        if source["kind"] != rec.MATRIX_SOURCE_KIND:
            raise UnprocessableError(
                "AUTHORITY_SOURCE_KIND",
                f"the matrix's source must be of kind {rec.MATRIX_SOURCE_KIND!r}, "
                f"not {source['kind']!r}",
                {"source_id": self.source_id, "kind": source["kind"]},
            )
        options = rec.state(packet).get("options", {})
        for option in options.values():  # a matrix that reads no option is refused
            try:
                authority.parse_components(option["components"], parsed)
            except UnprocessableError as error:
                raise UnprocessableError(
                    "MATRIX_DROPS_TYPE",
                    f"option {option['id']}: {error.message}",
                    {"option_id": option["id"], **error.details},
                ) from None
        meta = ctx.meta()
        packet._trigger(
            rec.AuthorityMatrixSet,
            meta,
            source_id=self.source_id,
            digest=source["digest"],
            matrix=_normal_matrix(parsed),
        )
        return rec.reclassify(packet, meta, "AUTHORITY_MATRIX_SET")


def _normal_matrix(matrix: authority.Matrix) -> dict[str, Any]:
    """The matrix as plain JSON (decimals as strings), in a stable order."""
    out: dict[str, Any] = {
        "caps": {
            t: {
                k: (str(v) if k != "months" else v)
                for k in authority.LIMITS
                if (v := getattr(limit, k)) is not None
            }
            for t, limit in sorted(matrix.caps.items())
        },
        "allowed_add_ons": sorted(matrix.allowed_add_ons),
        "blocked_types": sorted(matrix.blocked_types),
        "escalation_only_types": sorted(matrix.escalation_only_types),
    }
    if matrix.quarter_cap_balance is not None:
        out["quarter_cap_balance"] = str(matrix.quarter_cap_balance)
    return out


@dataclass(frozen=True)
class SetCaseDimensions(Command, action="edit"):
    """The case's own dimensions, which precedents are compared with."""

    dimensions: Any

    def decide(self, packet: Packet, ctx: Context) -> list[str]:
        dimensions = authority.parse_dimensions(self.dimensions)
        meta = ctx.meta()
        packet._trigger(rec.CaseDimensionsSet, meta, dimensions=dimensions)
        if rec.state(packet).get("authority") is None:
            return []
        return rec.reclassify(packet, meta, "CASE_DIMENSIONS_SET")


@dataclass(frozen=True)
class _Proposal(Command):
    """An entry checked against the matrix (an option, an ask): a human
    co-author adds it, an agent listed as an author proposes it (stored as
    proposed, for a human co-author to accept: `_AcceptProposal`)."""

    def authorize(self, principal: Principal, packet: Packet) -> None:
        _author_or_agent(principal, packet)

    def decide(self, packet: Packet, ctx: Context) -> dict[str, Any]:
        proposed = _author_or_agent(ctx.principal, packet)
        return self.propose(packet, ctx, _matrix(packet), proposed)

    def propose(
        self, packet: Packet, ctx: Context, matrix: authority.Matrix, proposed: bool
    ) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class _AcceptProposal(Command, action="accept_suggestion"):
    """A human co-author accepts an entry an agent proposed: 404
    `<ENTRY>_NOT_FOUND` for an unknown one, 409 `<ENTRY>_NOT_PROPOSED` for
    one accepted already."""

    #: The entry's kind ("option"): its map in the part is `<kind>s`, the
    #: command's field and the event's is `<kind>_id`.
    kind: ClassVar[str]
    accepted: ClassVar[type[rec.RecommendationEvent]]
    #: Said after "no <kind> 'id'" when it is unknown.
    where: ClassVar[str] = ""

    def decide(self, packet: Packet, ctx: Context) -> None:
        id_field = f"{self.kind}_id"
        entry_id = getattr(self, id_field)
        entry = rec.state(packet).get(f"{self.kind}s", {}).get(entry_id)
        code = self.kind.upper()
        if entry is None:
            raise NotFoundError(
                f"{code}_NOT_FOUND", f"no {self.kind} {entry_id!r}{self.where}"
            )
        if entry["state"] != "proposed":
            raise StateError(f"{code}_NOT_PROPOSED", f"{entry_id} is accepted")
        packet._trigger(self.accepted, ctx.meta(), **{id_field: entry_id})


@dataclass(frozen=True)
class AddOption(_Proposal):
    title: str
    components: Any
    rationale: str
    evidence: list[str]
    precedent_ids: list[str] = field(default_factory=list)

    def propose(
        self, packet: Packet, ctx: Context, matrix: authority.Matrix, proposed: bool
    ) -> dict[str, Any]:
        part = rec.state(packet)
        option_id = _next_id(
            "opt",
            part.get("option_count", 0),
            MAX_OPTIONS,
            "TOO_MANY_OPTIONS",
            f"a packet holds at most {MAX_OPTIONS} options",
        )
        title = text("TITLE_EMPTY", "title", self.title, 300)
        rationale = text("RATIONALE_EMPTY", "rationale", self.rationale)
        components = authority.parse_components(self.components, matrix)
        evidence = _ids(self.evidence, "evidence", EVIDENCE_UNKNOWN)
        for sid in evidence:
            source = packet.sources.get(sid)
            if source is None or source["status"] == "withdrawn":
                raise UnprocessableError(
                    EVIDENCE_UNKNOWN,
                    f"no current cited source {sid!r} in this packet",
                    {"source_id": sid},
                )
        if not evidence:
            raise UnprocessableError(
                EVIDENCE_UNKNOWN, "an option cites at least one source as evidence"
            )
        precedents = _ids(self.precedent_ids, "precedent_ids", "PRECEDENT_UNKNOWN")
        for pid in precedents:
            if pid not in part.get("precedents", {}):
                raise UnprocessableError(
                    "PRECEDENT_UNKNOWN",
                    f"no precedent {pid!r} in this packet",
                    {"precedent_id": pid},
                )
        option = {
            "components": [c.as_dict() for c in components],
            "precedent_ids": precedents,
        }
        classification = rec.classify_option(packet, option, matrix)
        packet._trigger(
            rec.OptionAdded,
            ctx.meta(),
            option_id=option_id,
            title=title,
            components=option["components"],
            rationale=rationale,
            evidence=evidence,
            precedent_ids=precedents,
            classification=classification,
            proposed=proposed,
        )
        return {"option_id": option_id, "proposed": proposed, **classification}


EVIDENCE_UNKNOWN = "EVIDENCE_UNKNOWN"


def _ids(value: object, what: str, code: str) -> list[str]:
    if not isinstance(value, list) or len(value) > rec.EVIDENCE_MAX:
        raise UnprocessableError(
            code, f"{what} is a list of at most {rec.EVIDENCE_MAX}"
        )
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise UnprocessableError(code, f"{what} lists ids (strings)")
        if item not in out:
            out.append(item)
    return out


@dataclass(frozen=True)
class AcceptOption(_AcceptProposal):
    """OPTION_NOT_FOUND, OPTION_NOT_PROPOSED."""

    kind = "option"
    accepted = rec.OptionAccepted
    where = " in this packet"
    option_id: str


@dataclass(frozen=True)
class RankOptions(Command, action="release_owner"):
    """The named release owner's ranking, with why (an objection or a
    comment); agents never rank. Only accepted, in-band options are ranked:
    the seed's owner ranks only what her authority band still permits."""

    order: Any
    objection_id: str | None = None
    comment: str | None = None

    def decide(self, packet: Packet, ctx: Context) -> list[str]:
        options = rec.state(packet).get("options", {})
        if not isinstance(self.order, list) or not self.order:
            raise UnprocessableError("RANKING_EMPTY", "order lists option ids")
        if len(self.order) > MAX_OPTIONS:
            raise UnprocessableError("RANKING_EMPTY", "order is too long")
        for position, oid in enumerate(self.order):
            if not isinstance(oid, str) or oid not in options:
                raise UnprocessableError(
                    "OPTION_UNKNOWN",
                    f"no option {oid!r} in this packet",
                    {"option_id": oid},
                )
            if oid in self.order[:position]:
                raise UnprocessableError(
                    "OPTION_DUPLICATE",
                    f"option {oid} is named twice",
                    {"option_id": oid},
                )
            option = options[oid]
            if option["state"] != "accepted":
                raise UnprocessableError(
                    "OPTION_NOT_ACCEPTED",
                    f"option {oid} is an agent's proposal no human accepted",
                    {"option_id": oid},
                )
            verdict = option["classification"]["classification"]
            if not authority.in_band(verdict):
                raise UnprocessableError(
                    "OPTION_NOT_IN_BAND",
                    f"option {oid} is {verdict}: only in-band options are ranked "
                    "locally (escalate the rest)",
                    {"option_id": oid, "classification": verdict},
                )
        if (self.objection_id is None) == (self.comment is None):
            raise UnprocessableError(
                "BECAUSE_INVALID", "because names an objection_id or a comment"
            )
        because: dict[str, Any]
        if self.objection_id is not None:
            objection = packet.objections.get(self.objection_id)
            if objection is None:
                raise UnprocessableError(
                    "OBJECTION_UNKNOWN",
                    f"no objection {self.objection_id!r} in this packet",
                    {"objection_id": self.objection_id},
                )
            because = {"objection_id": self.objection_id, "text": objection["text"]}
        else:
            because = {"comment": text("COMMENT_EMPTY", "comment", self.comment)}
        packet._trigger(
            rec.OptionsRanked, ctx.meta(), order=list(self.order), because=because
        )
        return list(self.order)


@dataclass(frozen=True)
class RecordAsk(_Proposal):
    """One request on the blocked-path register (a human records it; an
    agent's is a proposal a human accepts)."""

    type: str
    requested_by: str
    text: str

    def propose(
        self, packet: Packet, ctx: Context, matrix: authority.Matrix, proposed: bool
    ) -> dict[str, Any]:
        ask_id = _next_id(
            "ask",
            rec.state(packet).get("ask_count", 0),
            MAX_ASKS,
            "TOO_MANY_ASKS",
            f"at most {MAX_ASKS} asks",
        )
        type_ = text("ASK_TYPE_EMPTY", "type", self.type, authority.TYPE_MAX)
        if type_ not in matrix.known_types:
            raise UnprocessableError(
                "COMPONENT_TYPE_UNKNOWN",
                f"the matrix knows no type {type_!r}",
                {"known": sorted(matrix.known_types)},
            )
        packet._trigger(
            rec.AskRecorded,
            ctx.meta(),
            ask_id=ask_id,
            type=type_,
            requested_by=text(
                "REQUESTED_BY_EMPTY", "requested_by", self.requested_by, 300
            ),
            text=text("TEXT_EMPTY", "text", self.text),
            proposed=proposed,
        )
        return {
            "ask_id": ask_id,
            "proposed": proposed,
            "classification": authority.ask_classification(type_, matrix),
        }


@dataclass(frozen=True)
class AcceptAsk(_AcceptProposal):
    """ASK_NOT_FOUND, ASK_NOT_PROPOSED."""

    kind = "ask"
    accepted = rec.AskAccepted
    ask_id: str


@dataclass(frozen=True)
class RecordPrecedent(Command, action="edit"):
    """A historical case (concession history, confidential) to compare with."""

    case_ref: str
    dimensions: Any
    granted: str

    def decide(self, packet: Packet, ctx: Context) -> str:
        dimensions = authority.parse_dimensions(self.dimensions)
        precedent_id = _next_id(
            "prec",
            len(rec.state(packet).get("precedents", {})),
            MAX_PRECEDENTS,
            "TOO_MANY_PRECEDENTS",
            f"at most {MAX_PRECEDENTS} precedents",
        )
        packet._trigger(
            rec.PrecedentRecorded,
            ctx.meta(),
            precedent_id=precedent_id,
            case_ref=text("CASE_REF_EMPTY", "case_ref", self.case_ref, 300),
            dimensions=dimensions,
            granted=text("GRANTED_EMPTY", "granted", self.granted),
        )
        return precedent_id

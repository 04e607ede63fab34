"""Request and response bodies, named by role (`PacketCreate`, `PacketPublic`...).

Inputs forbid unknown fields, so a misspelt field is a 422 that names it rather
than a silently ignored value. Shapes follow shared/API.md; the domain still
validates every value. These schemas check types and what the domain cannot
see: versions are never negative, integers fit 64 bits, and times are ISO-8601
strings with a timezone (`Timestamp`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Path
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

from workspace.domain import RejectionCategory

#: Integers reach SQLite and PostgreSQL columns (64 bits) and the content hash,
#: whose canonical JSON (RFC 8785) holds only integers a double keeps exactly:
#: every integer a client sends is within +-(2^53 - 1).
INT_MAX = 2**53 - 1


def _iso_time(value: object) -> datetime:
    """An ISO-8601 date-time string with a timezone; not a number (pydantic
    would read `9.2e-11` as seconds since 1970), not a bare date, not a naive
    time, and not one that leaves the calendar when moved to UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not an ISO-8601 date-time") from None
    else:
        raise ValueError("must be an ISO-8601 date-time string with a timezone")
    if parsed.utcoffset() is None:
        raise ValueError("needs a timezone (e.g. Z or +02:00)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range once moved to UTC") from None


#: A point in time as clients send it: ISO-8601 with a timezone, kept in UTC.
Timestamp = Annotated[datetime, BeforeValidator(_iso_time)]
#: A packet version a write is based on (never negative).
Version = Annotated[StrictInt, Field(ge=0, le=INT_MAX)]
#: Any other integer (a precedence, a position, an offset).
SafeInt = Annotated[StrictInt, Field(ge=-INT_MAX, le=INT_MAX)]
#: A revision number in a path (`.../revisions/{a}/diff/{b}`)...
RevisionNumber = Annotated[int, Path(ge=1, le=INT_MAX)]
#: ...and in a body (it reaches the read models' BIGINT columns).
RevisionRef = Annotated[StrictInt, Field(ge=1, le=INT_MAX)]


class Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Output(BaseModel):
    model_config = ConfigDict(extra="allow")


class Write(Input):
    """A write, based on the packet version it names, if any (409
    VERSION_CLASH when the packet has moved on since)."""

    expected_version: Version | None = None


# ----------------------------------------------------------------- packets
class PacketCreate(Input):
    kind: str
    title: str
    release_owner: str
    authors: list[str] = Field(default_factory=list)
    reviewers: list[str] = Field(default_factory=list)


class PacketCreated(Output):
    id: str
    version: int


class MembersChange(Write):
    release_owner: str
    authors: list[str]
    reviewers: list[str]


class PacketSummary(Output):
    id: str
    kind: str
    title: str
    release_owner: str
    version: int


class PacketList(Output):
    items: list[PacketSummary]


class SectionPublic(Output):
    id: str
    heading: str
    text: str


class PacketPublic(Output):
    """One packet as it stands (or stood, with `?version=` or `?at=`)."""

    id: str
    kind: str
    title: str
    version: int
    release_owner: str
    authors: list[str]
    reviewers: list[str]
    sections: list[SectionPublic]
    sources: list[dict[str, Any]]
    prerequisites: list[dict[str, Any]]
    objections: list[dict[str, Any]]
    revisions: list[dict[str, Any]]
    releases: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    suggestions: list[dict[str, Any]]


class VersionPublic(Output):
    """The packet's version after a command."""

    version: int


# ----------------------------------------------------------------- sections
class SectionCreate(Write):
    heading: str
    text: str = ""
    position: SafeInt | None = None


class SectionCreated(Output):
    section_id: str
    version: int


class SectionRetitle(Write):
    heading: str


class SectionMove(Write):
    position: SafeInt


class SectionRemove(Write):
    pass


class OpIn(Input):
    """Replace `delete` characters at offset `at` with `insert`."""

    at: SafeInt
    delete: SafeInt
    insert: str


class EditCreate(Input):
    """A range edit (`ops`) or a whole new text (`text`), based on a version."""

    base_version: Version
    ops: list[OpIn] | None = None
    text: str | None = None
    client_id: str | None = None
    client_seq: Version | None = None


class BoundaryFlag(Output):
    """A commitment Quire must never make, found in text (workspace/boundary.py)."""

    category: str
    phrase: str


class EditResult(Output):
    version: int
    text: str
    suggestion_id: str | None = None
    #: Commitments this edit introduced: shown, never refused, for a human's
    #: own edit; an agent's flagged suggestion needs an override to accept.
    boundary_flags: list[BoundaryFlag] = []


# ------------------------------------------------------------------ sources
class SourceWatch(Input):
    """Poll every `poll_seconds`; hold SOURCE_UNREADABLE once reads have
    failed for longer than `tolerance_seconds` (default three polls)."""

    poll_seconds: SafeInt
    tolerance_seconds: SafeInt | None = None


class SourceCreate(Write):
    kind: str
    title: str
    reference: str
    digest: str
    precedence: SafeInt
    valid_until: Timestamp | None = None
    #: A live reference (file://, https://) the source watcher polls.
    watch: SourceWatch | None = None


class SourceCreated(Output):
    source_id: str
    version: int


class SourceRefresh(Write):
    """`material` defaults to true when the digest changed; only the release
    owner may send false for a changed digest (403 MATERIALITY_NOT_ALLOWED).
    `worksheet_facts` (`{worksheet_id: facts}`) corrects worksheets citing
    this source in the same save (`api/routers/worksheets.py`)."""

    digest: str
    material: StrictBool | None = None
    reason: str | None = None
    worksheet_facts: dict[str, Any] | None = None
    valid_until: Timestamp | None = None


class SourceWithdraw(Input):
    reason: str | None = None


class SupersedingResult(Output):
    """A change that may have superseded releases (in the same atomic save)."""

    version: int
    superseded_releases: list[str]


# ------------------------------------------------------------ prerequisites
class PrerequisiteCreate(Write):
    title: str
    satisfied: StrictBool = False
    valid_until: Timestamp | None = None


class PrerequisiteCreated(Output):
    prerequisite_id: str
    version: int


class PrerequisiteSatisfy(Write):
    evidence: str
    valid_until: Timestamp | None = None


# --------------------------------------------------------------- objections
class ObjectionCreate(Write):
    target: dict[str, str] = Field(default_factory=dict)
    text: str


class ObjectionCreated(Output):
    objection_id: str
    version: int


class ObjectionAnswer(Input):
    answer: str


class ObjectionResolve(Input):
    resolution: str


class ObjectionReopen(Input):
    reason: str


class ObjectionWithdraw(Input):
    pass


# ---------------------------------------------------------------- revisions
class RevisionCreate(Write):
    label: str | None = None


class RevisionCreated(Output):
    revision: int
    label: str | None
    content_hash: str
    version: int


# ------------------------------------------------- suggestions and conflicts
class ConflictResolve(Input):
    resolution: str


# --------------------------------------------------------------------- live
class LiveOp(Input):
    """A client's edit over the websocket (`type: "op"`)."""

    type: str
    section_id: str
    base_version: Version
    ops: list[OpIn] | None = None
    text: str | None = None
    client_id: str | None = None
    client_seq: Version | None = None


class LivePresence(Input):
    """Who views or edits which section (`type: "presence"`); not stored."""

    type: str
    section_id: str | None = None
    state: str = "viewing"


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any] = Field(default_factory=dict)


class ErrorPublic(BaseModel):
    """Every error: `{"error": {"code", "message", "details"}}`."""

    error: ErrorBody


class SuggestionAccept(Input):
    """Required for a boundary-flagged suggestion (409 BOUNDARY_FLAGGED)."""

    override_reason: str | None = None


class SuggestionReject(Input):
    """Why a suggestion is rejected; an unknown category is 422 INVALID_BODY."""

    reason: str | None = None
    category: RejectionCategory | None = None

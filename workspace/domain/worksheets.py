"""Calculation worksheets (seed 002, issue 11): events and the decisions that
trigger them.

A worksheet holds facts for the service-credit calculator (checked by its
parser, `workspace.credit`), the sources those facts are cited from with the
digest each had when the facts were set, and several named interpretations
(rule sets), each optionally argued by an objection. Results are never
stored: they are computed from facts and rules by the pure calculator.

The state lives under `packet.part("worksheets")` (worksheet id -> worksheet),
written by the folds only. Events are module-level `PacketEvent`s with their
own TOPICs; there is no mixin on `Packet` (CONTENT.md): the functions below
take the packet and trigger the events on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from workspace.credit.errors import CalculationInputError
from workspace.credit.rules import _FACTS, parse_facts, parse_request, parse_rules
from workspace.domain.base import (
    EntryEvent,
    Meta,
    PacketBase,
    copied,
    require_text,
)
from workspace.errors import StateError, UnprocessableError

if TYPE_CHECKING:
    from workspace.domain.packet import Packet

PART = "worksheets"
#: At most this many interpretations per worksheet...
MAX_INTERPRETATIONS = 20
#: ...and this many outage and maintenance windows in a worksheet's facts (they
#: are stored in events and in every revision; the calculator alone takes more).
MAX_WINDOWS = 5_000
#: Facts a worksheet may cite a source for (the calculator's fact fields).
CITABLE = frozenset(_FACTS)
#: Integers the content hash's canonical JSON keeps exactly.
INT_MAX = 2**53 - 1


class WorksheetEvent(EntryEvent, key="worksheet_id", id_prefix="ws"):
    """An event about one worksheet (no TOPIC: the base of those below);
    worksheet holds and staleness may change after it. Its entries live in
    the packet's part, not in an attribute."""

    regates = True
    worksheet_id: str

    def entry_map(self, packet: PacketBase) -> dict[str, dict[str, Any]]:
        return packet.part(PART)


class WorksheetCreated(WorksheetEvent):
    TOPIC = "quire.packet.WorksheetCreated"
    title: str
    facts: dict[str, Any]
    cites: dict[str, Any]  # fact -> {source_id, digest}

    def fold(self, packet: Packet) -> None:
        self.add_entry(
            packet,
            "title",
            "facts",
            cites={k: dict(v) for k, v in self.cites.items()},
            interpretations=[],
            created_by=self.actor,
            facts_set_by=self.actor,
            facts_version=self.originator_version,
        )


class WorksheetFactsUpdated(WorksheetEvent):
    """New facts; every cite now stands for its source's digest at this
    moment (`digests`). `source_id` names the refresh that carried them."""

    TOPIC = "quire.packet.WorksheetFactsUpdated"
    facts: dict[str, Any]
    digests: dict[str, str]  # fact -> digest
    source_id: str | None

    def fold(self, packet: Packet) -> None:
        worksheet = self.entry(packet)
        worksheet["facts"] = self.facts
        for fact, digest in self.digests.items():
            worksheet["cites"][fact]["digest"] = digest
        worksheet["facts_set_by"] = self.actor
        worksheet["facts_version"] = self.originator_version


class WorksheetInterpretationAdded(WorksheetEvent):
    TOPIC = "quire.packet.WorksheetInterpretationAdded"
    interpretation_id: str
    name: str
    rules: dict[str, Any]
    objection_id: str | None

    def fold(self, packet: Packet) -> None:
        packet.bump("interpretation")
        self.entry(packet)["interpretations"].append(
            {
                "id": self.interpretation_id,
                **copied(self, "name", "rules", "objection_id"),
                "added_by": self.actor,
            }
        )


# ------------------------------------------------------------------ reads
def worksheets(packet: Any) -> dict[str, dict[str, Any]]:
    """The packet's worksheets by id (empty when it has none; never creates
    the part, so a read leaves the state as a replay would)."""
    parts: dict[str, dict[str, Any]] = vars(packet).get("parts", {})
    return parts.get(PART, {})


def worksheet(packet: PacketBase, worksheet_id: str) -> dict[str, Any]:
    """The worksheet `worksheet_id`, or 404 `WORKSHEET_NOT_FOUND`."""
    return packet._lookup("worksheet", worksheets(packet), worksheet_id)


# ------------------------------------------------------------ validation
def plain(value: Any, where: str) -> Any:
    """Facts or rules as stored JSON: decimals become their digits as a
    string (the calculator reads them back exactly), integers stay within
    +-(2^53 - 1) (the content hash's canonical JSON), floats are refused."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        if abs(value) > INT_MAX:
            raise CalculationInputError(
                "FIELD_INVALID", f"{where}: {value} is beyond +-(2^53 - 1)"
            )
        return value
    if isinstance(value, float):
        raise CalculationInputError(
            "FIELD_INVALID", f"{where}: use an exact number, not {value!r}"
        )
    if isinstance(value, Mapping):
        return {str(k): plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    raise CalculationInputError("FIELD_INVALID", f"{where}: not a JSON value")


def checked_facts(facts: Any, max_windows: int) -> dict[str, Any]:
    """Facts the calculator's parser accepts (422 with its codes), as JSON."""
    parse_facts(facts, min(max_windows, MAX_WINDOWS))
    result: dict[str, Any] = plain(facts, "facts")
    return result


def checked_rules(rules: Any) -> dict[str, Any]:
    parse_rules(rules)
    result: dict[str, Any] = plain(rules, "rules")
    return result


def check_pair(facts: dict[str, Any], rules: dict[str, Any], name: str) -> None:
    """The checks that need facts and rules together (e.g. a multiplier
    needs `fee_per_minute`), naming the interpretation."""
    try:
        parse_request({"facts": facts, "rules": rules}, MAX_WINDOWS)
    except CalculationInputError as error:
        raise CalculationInputError(
            error.code, f"interpretation {name!r}: {error.message}"
        ) from None


def _cites(packet: Packet, cites: Any) -> dict[str, dict[str, str]]:
    if not isinstance(cites, Mapping):
        raise UnprocessableError("CITES_INVALID", "cites must be an object")
    found: dict[str, dict[str, str]] = {}
    for fact, source_id in cites.items():
        if fact not in CITABLE:
            raise UnprocessableError(
                "CITES_INVALID",
                f"cites: {fact!r} is not a fact ({', '.join(sorted(CITABLE))})",
                {"fact": fact},
            )
        if not isinstance(source_id, str):
            raise UnprocessableError("CITES_INVALID", f"cites.{fact}: a source id")
        source = packet.source(source_id)
        if source["status"] == "withdrawn":
            raise StateError(
                "SOURCE_WITHDRAWN",
                f"{source_id} was withdrawn; a worksheet cannot cite it",
                {"source_id": source_id},
            )
        found[str(fact)] = {"source_id": source_id, "digest": source["digest"]}
    return found


# -------------------------------------------------------------- decisions
def create_worksheet(
    packet: Packet,
    meta: Meta,
    *,
    title: str,
    facts: Any,
    cites: Any,
    max_windows: int,
) -> str:
    title = require_text("TITLE_EMPTY", "title", title)
    checked = checked_facts(facts, max_windows)
    cited = _cites(packet, cites)
    return packet._add_entry(
        WorksheetCreated, meta, title=title, facts=checked, cites=cited
    )


def prepare_facts(
    packet: Packet, worksheet_id: str, facts: Any, max_windows: int
) -> dict[str, Any]:
    """The new facts of a worksheet, checked alone and with every
    interpretation's rules (nothing is triggered)."""
    found = worksheet(packet, worksheet_id)
    checked = checked_facts(facts, max_windows)
    for interpretation in found["interpretations"]:
        check_pair(checked, interpretation["rules"], interpretation["name"])
    return checked


def update_facts(
    packet: Packet,
    meta: Meta,
    worksheet_id: str,
    facts: dict[str, Any],
    *,
    source_id: str | None = None,
) -> None:
    """Records checked facts (`prepare_facts`): each cite now stands for its
    source's current digest."""
    found = worksheet(packet, worksheet_id)
    packet._trigger(
        WorksheetFactsUpdated,
        meta,
        worksheet_id=worksheet_id,
        facts=facts,
        digests={
            fact: packet.sources[cite["source_id"]]["digest"]
            for fact, cite in found["cites"].items()
        },
        source_id=source_id,
    )


def add_interpretation(
    packet: Packet,
    meta: Meta,
    worksheet_id: str,
    *,
    name: str,
    rules: Any,
    objection_id: str | None,
) -> str:
    found = worksheet(packet, worksheet_id)
    name = require_text("NAME_EMPTY", "name", name, 200)
    if any(i["name"] == name for i in found["interpretations"]):
        raise StateError(
            "INTERPRETATION_NAME_TAKEN",
            f"worksheet {worksheet_id} already has an interpretation {name!r}",
            {"worksheet_id": worksheet_id, "name": name},
        )
    if len(found["interpretations"]) >= MAX_INTERPRETATIONS:
        raise UnprocessableError(
            "TOO_MANY_INTERPRETATIONS",
            f"a worksheet has at most {MAX_INTERPRETATIONS} interpretations",
            {"limit": MAX_INTERPRETATIONS},
        )
    if objection_id is not None:
        packet.objection(objection_id)
    checked = checked_rules(rules)
    check_pair(found["facts"], checked, name)
    interpretation_id = packet._next_id("interpretation", "int")
    packet._trigger(
        WorksheetInterpretationAdded,
        meta,
        worksheet_id=worksheet_id,
        interpretation_id=interpretation_id,
        name=name,
        rules=checked,
        objection_id=objection_id,
    )
    return interpretation_id

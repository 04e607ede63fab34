"""The boundary check: text that makes a commitment Quire must never make.

Pure, no I/O. Built from the seeds' own lists of what each workflow must not
do: approve or promise a credit or concession (000, 001, 002), contact the
customer or draft customer communications (001, 002, 003), change billing
(000, 001, 002), adjudicate entitlement (003), promise specialist staffing or
assign engineers (001, 003), classify or declare an incident (003), trigger
live diagnostics (003).

A flag is `{category, phrase}`: the category (the same names as a
suggestion's rejection categories) and the exact phrase that matched. Text
that only *reports* such a thing (the customer asked for a credit, whether a
credit is owed is for the lane, Quire does not contact customers) is not
flagged: a match is dropped when its clause is negated, hedged, a question or
attributes the ask to someone else. Precision and recall are measured on a
labelled set of sentences (`tests/data/boundary_sentences.tsv`,
`python bench/bench_boundary.py`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal, get_args

BoundaryCategory = Literal[
    "concession_recommendation",
    "customer_communication",
    "billing_execution",
    "entitlement_adjudication",
    "staffing_commitment",
    "incident_classification",
    "live_diagnostics",
]
CATEGORIES: tuple[BoundaryCategory, ...] = get_args(BoundaryCategory)

_CREDITISH = (
    r"(?:service[- ]credits?|credits?|concessions?|discounts?|rebates?|waivers?|"
    r"refunds?|accommodations?|recovery package|goodwill (?:credit|gesture)|"
    r"free (?:months?|term|support)|rate reduction)"
)
_CUSTOMER = (
    r"(?:the |our |this |that )?(?:customer|client|account contacts?|customer's \w+)"
)
_ENGINEER = (
    r"(?:engineers?|specialists?|(?:a |an |the )?(?:dedicated |named )?"
    r"(?:tam|technical account manager|engineering team|support engineer|"
    r"escalation engineer|specialist team|staff|staffing|on-?site engineer))"
)

#: (category, pattern). Patterns run on the lowercased text.
RULES: tuple[tuple[str, str], ...] = (
    # -- concessions and credits: approving, granting, promising, recommending
    (
        "concession_recommendation",
        rf"\b(?:approve[sd]?|approving|grant(?:s|ed|ing)?|award(?:s|ed)?|"
        rf"authori[sz]e[sd]?|sign(?:s|ed)? off on)\b[^.;]{{0,40}}\b{_CREDITISH}",
    ),
    (
        "concession_recommendation",
        rf"\b(?:we|i|quire|support|the team)\b[^.;]{{0,25}}\b(?:will|shall|'ll|can|"
        rf"are going to)\s+(?:offer|give|provide|extend|grant)\b[^.;]{{0,40}}"
        rf"\b{_CREDITISH}",
    ),
    (
        "concession_recommendation",
        rf"\b(?:recommend|propose|suggest)(?:s|ed|ing)?\b[^.;]{{0,30}}"
        rf"\b(?:offer(?:ing)?|grant(?:ing)?|giving|providing)\b[^.;]{{0,40}}"
        rf"\b{_CREDITISH}",
    ),
    (
        "concession_recommendation",
        rf"\b(?:we )?should (?:offer|give|grant|extend)\b[^.;]{{0,40}}\b{_CREDITISH}",
    ),
    (
        "concession_recommendation",
        rf"\b{_CREDITISH}\s+(?:is|are|has been|have been|will be)\s+"
        rf"(?:approved|granted|owed|due|guaranteed|confirmed|awarded)\b",
    ),
    (
        "concession_recommendation",
        rf"\b(?:is|are)\s+owed\b[^.;]{{0,30}}\b{_CREDITISH}|"
        rf"\bowe[sd]?\s+(?:the customer|them|the client)\b",
    ),
    (
        "concession_recommendation",
        rf"\b(?:entitled|eligible) to\b[^.;]{{0,30}}\b{_CREDITISH}",
    ),
    # -- customer communication: contacting, sending, telling
    (
        "customer_communication",
        rf"\b(?:email|e-mail|call|phone|notify|tell|inform|contact|message|"
        rf"write to|reach out to|reply to|respond to|update|send word to)\s+"
        rf"{_CUSTOMER}\b",
    ),
    (
        "customer_communication",
        rf"\bsend(?:s|ing)?\b[^.;]{{0,40}}\b(?:offer|email|message|letter|notice|"
        rf"reply|response|apology|summary|update)\b[^.;]{{0,20}}\bto\s+{_CUSTOMER}\b",
    ),
    (
        "customer_communication",
        r"\b(?:we|i)(?:'ll| will| shall)\s+(?:let (?:them|the customer) know|"
        r"get back to (?:them|the customer)|follow up with (?:them|the customer))\b",
    ),
    (
        "customer_communication",
        r"^\s*(?:dear|hello|hi)\s+(?:customer|valued|team|\w+),",
    ),
    # -- billing execution
    (
        "billing_execution",
        r"\b(?:apply|applied|applying|issue|issued|issuing|process|processed|post|"
        r"posted|book|booked)\b[^.;]{0,40}\b(?:credit|refund|adjustment|waiver)s?\b"
        r"[^.;]{0,30}\b(?:to|on|against)\b[^.;]{0,25}\b"
        r"(?:invoice|account|bill|billing|statement)",
    ),
    (
        "billing_execution",
        r"\b(?:change|update|amend|adjust|correct|modify)(?:s|d|ed)?\s+(?:the |their )?"
        r"(?:billing(?: record| records)?|invoice|invoices|rate plan|billing plan)\b",
    ),
    (
        "billing_execution",
        r"\b(?:waive|waived|waiving|write off|wrote off|refund|refunded|reverse|"
        r"reversed)\s+(?:the |their |all |any )?(?:\w+\s+)?(?:overage|charges?|"
        r"fees?|invoice|amount|payment)",
    ),
    (
        "billing_execution",
        r"\b(?:issue|issued|process|processed)\s+(?:a |the )?refund\b",
    ),
    # -- entitlement adjudication
    (
        "entitlement_adjudication",
        r"\b(?:customer|they|account|environment|environments|contact|rider|"
        r"addendum)\s+(?:is|are)\s+(?:fully |therefore |now |hereby |clearly )?"
        r"(?:not )?(?:entitled|covered|in scope|out of scope|eligible)\b",
    ),
    (
        "entitlement_adjudication",
        r"\bentitlement\s+(?:is|has been|was)\s+(?:confirmed|granted|approved|denied|"
        r"established|settled|resolved)\b",
    ),
    (
        "entitlement_adjudication",
        r"\b(?:we|i|quire)\s+(?:confirm|rule|determine|find|conclude|decide)s?\b"
        r"[^.;]{0,40}\b(?:entitle|entitlement|eligib|in scope|cover|appl(?:y|ies) to)",
    ),
    (
        "entitlement_adjudication",
        r"\bqualif(?:y|ies|ied) for\b[^.;]{0,30}"
        r"\b(?:lane|tier|coverage|specialist|premium)",
    ),
    # -- staffing commitments
    (
        "staffing_commitment",
        rf"\b(?:assign|assigned|assigning|dedicate|dedicated|allocate|allocated|"
        rf"commit|committed)\b[^.;]{{0,25}}\b{_ENGINEER}\b[^.;]{{0,25}}"
        rf"\b(?:to|for)\b",
    ),
    (
        "staffing_commitment",
        rf"\b(?:we|i|support|engineering)\b[^.;]{{0,15}}\b(?:will|shall|'ll|"
        rf"guarantee|promise)\b[^.;]{{0,30}}\b(?:provide|assign|dedicate|staff|"
        rf"have|put)?\b[^.;]{{0,20}}\b{_ENGINEER}",
    ),
    (
        "staffing_commitment",
        rf"\b(?:guarantee[sd]?|promise[sd]?)\b[^.;]{{0,40}}\b(?:{_ENGINEER}|"
        r"coverage|specialist (?:assignment|review|coverage))",
    ),
    # -- incident classification
    (
        "incident_classification",
        r"\b(?:this|the)\s+(?:incident|outage|event|issue)\s+(?:is|was|has been|"
        r"will be)\s+(?:hereby\s+)?(?:classified|declared|categori[sz]ed|rated)\b",
    ),
    (
        "incident_classification",
        r"\b(?:this|the)\s+(?:incident|outage)\s+is\s+(?:an?\s+)?"
        r"(?:s[1-4]|sev(?:erity)?[- ]?[1-4]|severity[- ]one|major incident)\b",
    ),
    (
        "incident_classification",
        r"\b(?:declare|declared|declaring|classify|classified|classifying)\s+"
        r"(?:this|it|the incident|the outage|an?)\b[^.;]{0,20}\b(?:as\s+)?"
        r"(?:an?\s+)?(?:s[1-4]|sev(?:erity)?[- ]?[1-4]|severity[- ]one|major incident|"
        r"incident)\b",
    ),
    # -- live diagnostics
    (
        "live_diagnostics",
        r"\b(?:run|running|ran|trigger|triggered|triggering|execute|executed|"
        r"executing|start|started|launch|launched|kick(?:ed)? off|initiate|"
        r"initiated)\b[^.;]{0,30}\b(?:live |remote |production )?"
        r"(?:diagnostics?|diagnostic (?:run|session|job|sweep|capture)|"
        r"packet capture|debug session|trace collection)\b",
    ),
)

#: Rules whose own pattern says "not" or "out of scope" (a negative ruling is
#: still a ruling): their matched text is not searched for hedges.
_NEGATION_IN_PATTERN = frozenset({"entitlement_adjudication"})

_COMPILED = tuple((cat, re.compile(pat)) for cat, pat in RULES)

#: A clause containing one of these before the match only reports, asks or
#: negates: "the customer asked us to approve a credit", "we must not ...".
_HEDGES = re.compile(
    r"\b(?:not|never|no|without|whether|if|unless|cannot|can't|won't|don't|"
    r"doesn't|didn't|isn't|aren't|wasn't|shouldn't|mustn't|neither|nor|"
    r"asks?|asked|asking|requests?|requested|requesting|wants?|wanted|demands?|"
    r"demanded|demanding|seeks?|sought|pressing|pushes|pushed|claims?|claimed|"
    r"argues?|argued|alleges?|insists?|insisted|expects?|expected|hopes?|"
    r"proposal to|would|could|might|may|downstream|separate workflow|"
    r"out of scope|outside|refuse[sd]?|refusing|declined?|blocked|prohibited|"
    r"forbidden|before anyone|rather than|instead of|avoid|avoids|"
    r"question|decide whether|reviewers decide|lane decides|nobody|no one|"
    r"prior|precedent|previously|earlier case|last year|historically)\b|n't\b"
)
#: Words after the match, in the same clause, that move it elsewhere:
#: "finance must approve any concession downstream".
_AFTER_HEDGES = re.compile(
    r"\b(?:downstream|separate workflow|separate approval|out of scope|"
    r"outside this|not part of|later)\b"
)
_CLAUSE_BREAK = re.compile(
    r"[.;:!?\n]|\bbut\b|\bhowever\b|\band then\b|,\s+(?:so|and)\b"
)


@dataclass(frozen=True)
class Flag:
    category: str
    phrase: str

    def as_dict(self) -> dict[str, str]:
        return {"category": self.category, "phrase": self.phrase}


def _clause_start(text: str, at: int) -> int:
    start = 0
    for found in _CLAUSE_BREAK.finditer(text, 0, at):
        start = found.end()
    return start


def _clause_end(text: str, at: int) -> int:
    found = _CLAUSE_BREAK.search(text, at)
    return found.start() if found else len(text)


def _is_question(text: str, end: int) -> bool:
    rest = text[end:]
    stop = re.search(r"[.!?\n]", rest)
    return bool(stop and stop.group() == "?")


def check(text: str, *, limit: int = 20) -> list[Flag]:
    """Every commitment the text makes that Quire must never make, with the
    phrase that makes it; at most `limit` flags, one per distinct phrase."""
    lowered = text.lower()
    flags: list[Flag] = []
    seen: set[tuple[str, int]] = set()
    for category, pattern in _COMPILED:
        for match in pattern.finditer(lowered):
            start, end = match.span()
            clause = lowered[
                _clause_start(lowered, start) : start
                if category in _NEGATION_IN_PATTERN
                else end
            ]
            after = lowered[end : _clause_end(lowered, end)]
            if (
                _HEDGES.search(clause)
                or _AFTER_HEDGES.search(after)
                or _is_question(lowered, end)
            ):
                continue
            if (category, start) in seen:
                continue
            seen.add((category, start))
            flags.append(Flag(category, text[start:end].strip()))
            if len(flags) >= limit:
                return flags
    return flags


def categories(text: str) -> set[str]:
    return {flag.category for flag in check(text)}

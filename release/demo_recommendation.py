"""Seeds 000 and 001 as demo stories: Maya Chen's bounded local
recommendation (three in-band options, five blocked asks, a ranking changed
by a reviewer's objection) and the requested severity-one recovery package,
which exceeds delegated authority: its local release is held
`NO_IN_BAND_OPTION` and it is packaged as an escalation for the
account-governance board.

The seeds name no figures: the matrix's caps, the quarter's balance, the
outage minutes and the precedent are illustrative, and labelled so. Quire
classifies; it approves no concession and makes no customer commitment.
The data below is also what the HTTP story tests send.
"""

from __future__ import annotations

import logging
from typing import Any

from release.application import ReleaseApp
from release.commands import RequestRelease
from release.demo_story import LaneSpec, add_cast, add_intake_lanes
from release.escalation import PrepareEscalation
from workspace.accounts import Principal
from workspace.commands import CiteSource, RaiseObjection
from workspace.commands.recommendations import (
    AddOption,
    RankOptions,
    RecordAsk,
    RecordPrecedent,
    SetAuthority,
    SetCaseDimensions,
)
from workspace.commands.revisions import CutRevision

log = logging.getLogger(__name__)

OWNER = "maya.chen"
OWNER_PASSPHRASE = "accommodation-demo"
REC_KIND = "accommodation-recommendation"
LOCAL_LANE = "premium-support-accommodation-review"
BOARD_LANE = "account-governance-board"

PEOPLE: dict[str, tuple[str, list[str]]] = {
    OWNER: ("Maya Chen, Premium-Support Escalation Manager", []),
    "raj.patel": ("Raj Patel, Support Account Escalation Analyst", []),
    "lucia.moreno": ("Lucia Moreno, Finance Concession Reviewer", []),
    "noor.haddad": ("Noor Haddad, Legal Reviewer", []),
    "accommodation-ranker": ("Accommodation option agent", ["agent"]),
    "sam.rivera": ("Sam Rivera, Director of Premium Support", []),
    "grace.okafor": ("Grace Okafor, Account-Governance Board Secretary", []),
}

SEED_001_TITLE = (
    "Regulated enterprise severe-incident service-credit accommodation recommendation"
)
SEED_000_TITLE = "Severity-one service-credit and recovery-package recommendation"

MATRIX_SOURCE: dict[str, Any] = {
    "kind": "concession-matrix",
    "title": "Delegated support concession matrix (premium support, FY Q3)",
    "reference": "finance://concession-matrix/premium-support/q3",
    "digest": "sha256:7d1c0e5a-matrix-q3",
    "precedence": 2,
}
ORDER_FORM: dict[str, Any] = {
    "kind": "order-form",
    "title": "Signed premium-support order form and service-level addenda",
    "reference": "contracts://premium-support/order-form/signed",
    "digest": "sha256:1a9f-order-form",
    "precedence": 1,
}
IMPACT_LEDGER: dict[str, Any] = {
    "kind": "impact-ledger",
    "title": "Post-incident service-impact ledger (three severe incidents, six weeks)",
    "reference": "support://impact-ledger/regulated-account",
    "digest": "sha256:55e2-impact-ledger",
    "precedence": 3,
}

#: Illustrative limits (the seeds name none).
MATRIX: dict[str, Any] = {
    "caps": {
        "service_credit": {"percent": "10", "months": 1},
        "support_add_on": {"months": 3},
        "overage_waiver": {"amount": "10000"},
    },
    "allowed_add_ons": ["temporary incident-review add-on"],
    "blocked_types": [
        "permanent_rate_reduction",
        "cross_product_rebate",
        "extended_free_term",
    ],
    "escalation_only_types": [
        "retention_concession",
        "staffing_guarantee",
        "executive_access",
        "premium_staffing",
    ],
    "quarter_cap_balance": "25000",
}

#: Seed 001's bounded option menu.
OPTIONS_001: list[dict[str, Any]] = [
    {
        "title": "Capped one-month premium-support service credit",
        "components": [{"type": "service_credit", "percent": "10", "months": 1}],
        "rationale": "Three severe incidents in six weeks meet the delegated "
        "trigger; the credit stays at the matrix cap for one month.",
    },
    {
        "title": "Split accommodation: smaller credit plus incident-review add-on",
        "components": [
            {"type": "service_credit", "percent": "5", "months": 1},
            {
                "type": "support_add_on",
                "name": "temporary incident-review add-on",
                "months": 1,
            },
        ],
        "rationale": "A smaller credit with the incident-review add-on already "
        "pre-approved for the account tier addresses the audit-export impact.",
    },
    {
        "title": "No credit, with documented rationale",
        "components": [
            {"type": "service_credit", "percent": "0", "months": 0, "name": "no credit"}
        ],
        "rationale": "Documented rationale that the incident cluster fails the "
        "delegated trigger threshold.",
    },
]

#: Seed 001's blocked requests, as the customer pressed them.
ASKS_001: list[dict[str, str]] = [
    {
        "type": "permanent_rate_reduction",
        "requested_by": "customer CIO",
        "text": "A permanent reduction of the premium-support rate.",
    },
    {
        "type": "cross_product_rebate",
        "requested_by": "customer procurement",
        "text": "A rebate across the identity and audit-export products.",
    },
    {
        "type": "extended_free_term",
        "requested_by": "customer procurement",
        "text": "An extended free premium-support term.",
    },
    {
        "type": "retention_concession",
        "requested_by": "account executive",
        "text": "A nonstandard retention concession ahead of renewal.",
    },
    {
        "type": "staffing_guarantee",
        "requested_by": "customer CIO",
        "text": "A direct engineering staffing guarantee.",
    },
]

#: Seed 000: the case's dimensions and the recovery package it asked for.
CASE_000 = {
    "outage_minutes": 410,
    "support_tier": "premium",
    "segment": "global enterprise",
    "renewal_posture": "renewal in negotiation",
    "exception_basis": "severity-one identity outage",
}
PRECEDENT_000: dict[str, Any] = {
    "case_ref": "Recovery package RP-2023-044 (illustrative)",
    "dimensions": {
        "outage_minutes": 380,
        "support_tier": "premium",
        "segment": "global enterprise",
        "renewal_posture": "renewed before the outage",
        "exception_basis": "severity-one identity outage",
    },
    "granted": "Two-month credit and six weeks of premium-support staffing, "
    "board-approved.",
}
RECOVERY_PACKAGE: dict[str, Any] = {
    "title": "Requested recovery package: credits, premium staffing, waived overages",
    "components": [
        {"type": "service_credit", "percent": "25", "months": 3},
        {"type": "premium_staffing", "months": 3, "name": "temporary staffing"},
        {"type": "overage_waiver", "amount": "40000"},
    ],
    "rationale": "The customer's requested recovery package after the "
    "prolonged identity-service outage.",
}
NARROWER_PACKAGE: dict[str, Any] = {
    "title": "Narrower package tied to documented impact, with premium staffing",
    "components": [
        {"type": "service_credit", "percent": "10", "months": 1},
        {"type": "premium_staffing", "months": 1, "name": "temporary staffing"},
    ],
    "rationale": "Credits within the cap for the documented impact; the "
    "temporary staffing still needs the board.",
}


LANES = (
    LaneSpec(
        LOCAL_LANE,
        "Premium-support accommodation review (local authority)",
        members=["sam.rivera"],
        accepts_kinds=[REC_KIND],
    ),
    LaneSpec(
        BOARD_LANE,
        "Account-governance board escalation intake",
        members=["grace.okafor"],
        accepts_kinds=["escalation"],
        # The owner packages the escalation from her own recommendation.
        policy={"signer_may_have_authored": True},
    ),
)


def _add_people(app: ReleaseApp) -> dict[str, str]:
    """Creates whoever is missing; returns the new users' bearer tokens."""
    return add_cast(app, PEOPLE, {OWNER: OWNER_PASSPHRASE})


def _add_lanes(app: ReleaseApp) -> None:
    add_intake_lanes(app, LANES)


class RecommendationStory:
    def __init__(self, app: ReleaseApp) -> None:
        self.app = app

    def who(self, user_id: str) -> Principal:
        return self.app.get_user(user_id).principal()

    def run(self, pid: str, user: str, command: Any) -> Any:
        return self.app.execute(pid, self.who(user), command).result

    def open(self, title: str) -> str:
        packet = self.app.open_packet(
            self.who("raj.patel"),
            kind=REC_KIND,
            title=title,
            release_owner=OWNER,
            authors=["raj.patel", "accommodation-ranker"],
            reviewers=["lucia.moreno", "noor.haddad"],
        )
        return str(packet.id)

    def sources(self, pid: str) -> dict[str, str]:
        return {
            name: self.run(pid, "raj.patel", CiteSource(**body))
            for name, body in (
                ("order_form", ORDER_FORM),
                ("matrix", MATRIX_SOURCE),
                ("ledger", IMPACT_LEDGER),
            )
        }

    def tell_001(self) -> str:
        pid = self.open(SEED_001_TITLE)
        src = self.sources(pid)
        self.run(pid, "raj.patel", SetAuthority(src["matrix"], MATRIX))
        ids = [
            self.run(
                pid,
                "raj.patel",
                AddOption(
                    **option, evidence=[src["order_form"], src["matrix"], src["ledger"]]
                ),
            )["option_id"]
            for option in OPTIONS_001
        ]
        for ask in ASKS_001:
            self.run(pid, "raj.patel", RecordAsk(**ask))
        self.run(
            pid,
            OWNER,
            RankOptions(
                ids,
                comment="Capped credit first: the ledger shows "
                "three severe incidents inside six weeks.",
            ),
        )
        objection = self.run(
            pid,
            "lucia.moreno",
            RaiseObjection(
                target={},
                text="The audit-export impact argues for the incident-review "
                "add-on; prefer the split accommodation.",
            ),
        )
        self.run(
            pid, OWNER, RankOptions([ids[1], ids[0], ids[2]], objection_id=objection)
        )
        return pid

    def tell_000(self) -> str:
        pid = self.open(SEED_000_TITLE)
        src = self.sources(pid)
        self.run(pid, "raj.patel", SetAuthority(src["matrix"], MATRIX))
        self.run(pid, "raj.patel", SetCaseDimensions(CASE_000))
        precedent = self.run(pid, "raj.patel", RecordPrecedent(**PRECEDENT_000))
        for option in (RECOVERY_PACKAGE, NARROWER_PACKAGE):
            self.run(
                pid,
                "raj.patel",
                AddOption(
                    **option,
                    evidence=[src["matrix"], src["ledger"]],
                    precedent_ids=[precedent],
                ),
            )
        number = self.run(pid, "raj.patel", CutRevision(label="RP-local-v1"))["number"]
        self.run(pid, "raj.patel", RequestRelease(number, LOCAL_LANE))
        self.run(pid, OWNER, PrepareEscalation(BOARD_LANE))
        return pid


def load_recommendation_demo(app: ReleaseApp) -> dict[str, str]:
    """Seeds 001 and 000, once each; returns the new users' bearer tokens."""
    tokens = _add_people(app)
    _add_lanes(app)
    titles = {app.get_packet(pid).title for pid in app.packet_ids()}
    story = RecommendationStory(app)
    if SEED_001_TITLE not in titles:
        story.tell_001()
        log.info("demo: seed 001 loaded")
    if SEED_000_TITLE not in titles:
        story.tell_000()
        log.info("demo: seed 000 loaded")
    return tokens

"""The seed stories 002, 003 and 004 (release/demo_recovery.py), told through
the commands a user would issue.

`load_demo` creates the stories' people, intake lanes and packets once (a
second run changes nothing) so a newcomer sees a held, a released and a
superseded packet as soon as `quire serve --demo` is up. The stories are
written as stages, which the integration tests drive one at a time.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from release import demo_worksheet
from release.application import ReleaseApp
from release.demo_recovery import (
    RECOVERY_PASSPHRASES,
    RECOVERY_PEOPLE,
    RECOVERY_TITLE,
    tell_recovery_story,
)
from release.demo_story import (
    Cited,
    LaneSpec,
    Prerequisite,
    Section,
    Story,
    add_cast,
    add_intake_lanes,
)
from workspace.commands import RefreshSource
from workspace.domain import Packet

log = logging.getLogger(__name__)

#: Signing passphrases of the demo release owners (printed by the demo).
DEMO_PASSPHRASES = {
    "elena.park": "premium-governance-demo",
    "dana.whitfield": "credit-release-demo",
    **RECOVERY_PASSPHRASES,
}

#: user id -> (name, roles)
PEOPLE: dict[str, tuple[str, list[str]]] = {
    "quire.admin": ("Quire Administrator", ["admin"]),
    "ada.auditor": ("Ada Auditor, Audit and Retention", ["auditor"]),
    # seed 003: premium support escalation and entitlement clarification
    "elena.park": ("Elena Park, Director of Premium Support Escalation Governance", []),
    "priya.nair": ("Priya Nair, Premium Support Escalation Manager", []),
    "tomas.berg": ("Tomas Berg, Entitlement Operations Analyst", []),
    "amara.osei": ("Amara Osei, Advanced Diagnostics Duty Lead", []),
    "lena.fischer": ("Lena Fischer, Sovereign-Support Compliance Reviewer", []),
    "entitlement-reconciler": ("Entitlement reconciliation agent", ["agent"]),
    "kenji.sato": ("Kenji Sato, Advanced Diagnostics Specialist", []),
    "ines.duarte": ("Ines Duarte, Advanced Diagnostics Specialist", []),
    # seed 002: contractual service-credit calculation clarification
    "dana.whitfield": ("Dana Whitfield, Support Release Owner", []),
    "marcus.lee": ("Marcus Lee, Strategic Support Renewal Manager", []),
    "sofia.ramirez": ("Sofia Ramirez, Billing Operations Analyst", []),
    "hannah.kim": ("Hannah Kim, Account-Governance Partner", []),
    "timeline-reconciler": ("Case timeline reconciliation agent", ["agent"]),
    "oliver.grant": ("Oliver Grant, Account-Governance Reviewer", []),
    "mei.chen": ("Mei Chen, Account-Governance Reviewer", []),
    # seed 004: service recovery plan (release/demo_recovery.py)
    **RECOVERY_PEOPLE,
}

DIAGNOSTICS_LANE = "restricted-advanced-diagnostics-intake"
GOVERNANCE_LANE = "restricted-account-governance-review"

ENTITLEMENT_KIND = "entitlement-clarification"
CREDIT_KIND = "service-credit-clarification"

ENTITLEMENT_TITLE = "Premium support escalation and entitlement clarification packet"
CREDIT_TITLE = "Contractual service-credit calculation clarification packet"

LANES = (
    LaneSpec(
        DIAGNOSTICS_LANE,
        "Restricted advanced diagnostics specialist intake",
        members=["kenji.sato", "ines.duarte"],
        accepts_kinds=[ENTITLEMENT_KIND],
    ),
    LaneSpec(
        GOVERNANCE_LANE,
        "Restricted account-governance review intake",
        members=["oliver.grant", "mei.chen"],
        accepts_kinds=[CREDIT_KIND],
    ),
)

#: Seed 003's packet as first written.
ENTITLEMENT_SECTIONS = {
    "request": Section(
        "priya.nair",
        "Escalation request and case chronology",
        "The customer asked for entry into the restricted advanced diagnostics "
        "specialist lane after three severity-2 escalations in nine days.",
    ),
    "scope": Section(
        "tomas.berg",
        "Entitlement scope by source precedence",
        "Signed order form and premium support addendum define premium scope. "
        "The renewal amendment is approved but not yet ingested.",
    ),
    "environments": Section(
        "amara.osei",
        "Attached environments and diagnostic inventory",
        "Production EU-1 and EU-2 are in the approved diagnostic inventory; "
        "the sovereign-region environment is listed but its rider is unclear.",
    ),
}
ENTITLEMENT_SOURCES = {
    "order_form": Cited(
        "tomas.berg",
        "order-form",
        "Signed enterprise order form",
        "sha256:order-form-2024-03",
        1,
    ),
    "addendum": Cited(
        "tomas.berg",
        "addendum",
        "Premium support addendum (current)",
        "sha256:premium-addendum-v4",
        1,
    ),
    "sop": Cited(
        "amara.osei",
        "policy",
        "Advanced-diagnostics intake SOP, version 7",
        "sha256:intake-sop-v7",
        2,
    ),
    "ledger": Cited(
        "tomas.berg",
        "entitlement-snapshot",
        "Entitlement ledger snapshot",
        "sha256:ledger-snapshot-0611",
        3,
    ),
    "crm": Cited(
        "priya.nair", "crm-note", "CRM account notes", "sha256:crm-notes-0611", 4
    ),
}
ENTITLEMENT_PREREQUISITES = {
    "addendum_in_force": Prerequisite("tomas.berg", "Premium addendum in force"),
    "renewal_ingested": Prerequisite(
        "tomas.berg", "Approved renewal amendment ingested", satisfied=False
    ),
    "named_contacts": Prerequisite(
        "priya.nair",
        "Named-contact register current (re-attested)",
        valid_for=timedelta(days=-3),
    ),
    "secure_upload": Prerequisite(
        "amara.osei",
        "Secure-upload authorization valid",
        valid_for=timedelta(hours=-1),
    ),
    "sop_attached": Prerequisite("amara.osei", "Active intake SOP version attached"),
}

#: Seed 002's packet as first written.
CREDIT_SECTIONS = {
    "dispute": Section(
        "marcus.lee",
        "Disputed interpretation",
        "The customer disputes how outage windows, excluded maintenance and the "
        "entitlement cap combine for the March service period.",
    ),
    "calculation": Section(
        "sofia.ramirez",
        "Calculation worksheet summary",
        "Outage minutes: 412. Excluded maintenance: 120. Cap: 10% of monthly fee.",
    ),
}
CREDIT_SOURCES = {
    "clause": Cited(
        "sofia.ramirez",
        "contract-clause",
        "Service-level obligation clause 7.2",
        "sha256:clause-7-2",
        1,
    ),
    "maintenance": Cited(
        "marcus.lee",
        "maintenance-calendar",
        "Maintenance calendar annotations, March",
        "sha256:maint-march",
        2,
    ),
    "telemetry": Cited(
        "sofia.ramirez",
        "telemetry-extract",
        "Uptime telemetry extract, March",
        "sha256:telemetry-march-a",
        3,
    ),
    "worksheet": Cited(
        "sofia.ramirez",
        "billing-worksheet",
        "Credit calculation worksheet",
        "sha256:worksheet-r1",
        3,
    ),
}
CREDIT_PREREQUISITES = {
    "severity": Prerequisite("marcus.lee", "Severity classification closed"),
    "period": Prerequisite("marcus.lee", "Covered service period agreed"),
}


def add_people(app: ReleaseApp) -> dict[str, str]:
    """Creates whoever of seeds 002, 003 and 004 is missing; returns the new
    users' bearer tokens."""
    return add_cast(app, PEOPLE, DEMO_PASSPHRASES)


def add_lanes(app: ReleaseApp) -> None:
    add_intake_lanes(app, LANES)


class EntitlementStory(Story):
    """Seed 003: held at v1, revised to v2 and v3, v3 approved by Elena Park
    for the restricted advanced diagnostics specialist intake lane."""

    def open(self) -> None:
        packet = self.app.open_packet(
            self.who("priya.nair"),
            kind=ENTITLEMENT_KIND,
            title=ENTITLEMENT_TITLE,
            release_owner="elena.park",
            authors=[
                "priya.nair",
                "tomas.berg",
                "amara.osei",
                "entitlement-reconciler",
            ],
            reviewers=["lena.fischer"],
        )
        self.packet_id = str(packet.id)
        self.write(ENTITLEMENT_SECTIONS, ENTITLEMENT_SOURCES, ENTITLEMENT_PREREQUISITES)
        self.object(
            "lena.fischer",
            "rider",
            "scope",
            "The sovereign-support rider mapping is disputed: the rider limits "
            "sovereign-region environments, yet the ledger maps them as entitled.",
        )

    def cut_v1(self) -> dict[str, Any]:
        return self.cut("priya.nair", "PSE-Entitlement-Clarification-Packet-v1")

    def revise_to_v2(self) -> dict[str, Any]:
        now = self.now()
        self.source(
            "renewal",
            Cited(
                "tomas.berg",
                "amendment",
                "Approved renewal amendment",
                "sha256:renewal-amendment-2025",
                1,
            ),
        )
        self.satisfy(
            "tomas.berg",
            "renewal_ingested",
            "Renewal amendment ingested into the entitlement system",
            None,
        )
        self.satisfy(
            "priya.nair",
            "named_contacts",
            "Named contacts re-attested by the customer's admin",
            now + timedelta(days=90),
        )
        self.satisfy(
            "amara.osei",
            "secure_upload",
            "Secure-upload authorization renewed for this escalation",
            now + timedelta(days=3),
        )
        self.rewrite(
            "tomas.berg",
            "scope",
            "Signed order form, premium support addendum and the ingested renewal "
            "amendment define premium scope; CRM notes are commentary only.",
        )
        return self.cut("priya.nair", "PSE-Entitlement-Clarification-Packet-v2")

    def correct_ledger(self) -> None:
        """The reconciliation agent finds the ledger snapshot out of date."""
        refresh = RefreshSource(
            source_id=self.ids["ledger"],
            digest="sha256:ledger-snapshot-0614",
            material=True,
            reason="ledger re-snapshotted after the renewal ingestion",
        )
        self.run("entitlement-reconciler", refresh)

    def revise_to_v3(self) -> dict[str, Any]:
        self.rewrite(
            "amara.osei",
            "environments",
            "Production EU-1 and EU-2 are entitled per the 0614 ledger snapshot; "
            "the sovereign-region environment stays a visible caveat.",
        )
        return self.cut("priya.nair", "PSE-Entitlement-Clarification-Packet-v3")

    def accept_rider(self, release_id: str) -> dict[str, Any]:
        return self.accept_residual(
            "elena.park",
            release_id,
            "rider",
            "The rider dispute stays visible to specialists; intake may narrow scope "
            "to EU-1 and EU-2. This is not an entitlement adjudication.",
        )

    def approve(self, release_id: str) -> dict[str, Any]:
        return self.sign(
            "elena.park",
            release_id,
            passphrase=DEMO_PASSPHRASES["elena.park"],
            meaning=(
                "Approved for restricted advanced diagnostics specialist intake "
                "review; not an entitlement decision, staffing promise or customer "
                "commitment"
            ),
            scope="Production EU-1 and EU-2; sovereign-region environment as caveat",
        )

    def tell(self) -> None:
        self.open()
        self.request("priya.nair", self.cut_v1()["number"], DIAGNOSTICS_LANE)
        second = self.revise_to_v2()
        self.correct_ledger()
        self.request("priya.nair", second["number"], DIAGNOSTICS_LANE)
        release = self.request(
            "priya.nair", self.revise_to_v3()["number"], DIAGNOSTICS_LANE
        )
        self.accept_rider(release["release_id"])
        self.approve(release["release_id"])


class CreditStory(Story):
    """Seed 002: released to account-governance review, superseded by a
    telemetry correction, revised and released again (lineage on both)."""

    def open(self) -> None:
        packet = self.app.open_packet(
            self.who("marcus.lee"),
            kind=CREDIT_KIND,
            title=CREDIT_TITLE,
            release_owner="dana.whitfield",
            authors=["marcus.lee", "sofia.ramirez", "timeline-reconciler"],
            reviewers=["hannah.kim"],
        )
        self.packet_id = str(packet.id)
        self.write(CREDIT_SECTIONS, CREDIT_SOURCES, CREDIT_PREREQUISITES)
        self.object(
            "hannah.kim",
            "maintenance_notice",
            "calculation",
            "The 14 March maintenance window had 36 hours' notice, not the 72 the "
            "clause requires; excluding it may be wrong.",
        )
        demo_worksheet.add_worksheet(self)

    def cut_v1(self) -> dict[str, Any]:
        return self.cut("sofia.ramirez", "Service-Credit-Clarification-v1")

    def accept_notice(self, release_id: str) -> dict[str, Any]:
        return self.accept_residual(
            "dana.whitfield",
            release_id,
            "maintenance_notice",
            "The notice question stays open for governance reviewers to weigh.",
        )

    def approve(self, release_id: str) -> dict[str, Any]:
        return self.sign(
            "dana.whitfield",
            release_id,
            passphrase=DEMO_PASSPHRASES["dana.whitfield"],
            meaning=(
                "Approved for restricted account-governance review intake; not a "
                "credit decision, concession or billing change"
            ),
            scope="March service period",
        )

    def correct_telemetry(self) -> Packet:
        """The corrected extract carries the worksheet's corrected facts (a
        human's: agents set no facts), recomputing both readings in the save
        that supersedes the release."""
        refresh = RefreshSource(
            source_id=self.ids["telemetry"],
            digest="sha256:telemetry-march-b",
            material=True,
            reason="telemetry correction: 37 outage minutes were double counted",
            worksheet_facts={self.ids["calc_worksheet"]: demo_worksheet.CORRECTED},
        )
        return self.run("sofia.ramirez", refresh).packet

    def revise_to_v2(self) -> dict[str, Any]:
        self.rewrite(
            "sofia.ramirez",
            "calculation",
            "Outage minutes: 375 (corrected telemetry). Excluded maintenance: 120. "
            "Cap: 10% of monthly fee.",
        )
        return self.cut("sofia.ramirez", "Service-Credit-Clarification-v2")

    def tell(self) -> None:
        self.open()
        first = self.request("marcus.lee", self.cut_v1()["number"], GOVERNANCE_LANE)
        self.accept_notice(first["release_id"])
        self.approve(first["release_id"])
        self.correct_telemetry()
        second = self.request(
            "marcus.lee", self.revise_to_v2()["number"], GOVERNANCE_LANE
        )
        self.accept_notice(second["release_id"])
        self.approve(second["release_id"])


def _told(app: ReleaseApp, title: str) -> bool:
    return any(app.get_packet(pid).title == title for pid in app.packet_ids())


def demo_people() -> dict[str, tuple[str, list[str]]]:
    """Everyone the demo creates, with their roles (every seed's cast)."""
    from release.demo_recommendation import PEOPLE as RECOMMENDATION_PEOPLE

    return {**PEOPLE, **RECOMMENDATION_PEOPLE}


def demo_passphrases() -> dict[str, str]:
    """Signing passphrases of every demo signer (printed by the demo)."""
    from release.demo_recommendation import OWNER, OWNER_PASSPHRASE

    return {**DEMO_PASSPHRASES, OWNER: OWNER_PASSPHRASE}


def load_demo(app: ReleaseApp) -> dict[str, str]:
    """Loads both stories once; returns bearer tokens of users created now
    (empty when the demo was already loaded)."""
    tokens = add_people(app)
    add_lanes(app)
    if not _told(app, CREDIT_TITLE):
        CreditStory(app).tell()
        log.info("demo: seed 002 loaded")
    if not _told(app, ENTITLEMENT_TITLE):
        EntitlementStory(app).tell()
        log.info("demo: seed 003 loaded")
    from release.demo_recommendation import load_recommendation_demo

    tokens.update(load_recommendation_demo(app))  # seeds 000 and 001
    if not _told(app, RECOVERY_TITLE):
        tell_recovery_story(app)
        log.info("demo: seed 004 loaded")
    return tokens

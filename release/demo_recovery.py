"""Seed 004, the service recovery designer: a B2B SaaS company's four-hour
outage (Tuesday, 10am-2pm EST, a database migration error, about 180
Enterprise and Growth companies affected; one email at 11:30am, nothing more
until 3pm) turned into a recovery plan with three tiers (Enterprise, Growth,
Starter) whose remediation decisions each have a named approver.

The plan's tables are the seed's own: the severity classification, the S1
communication sequence, the remediation matrix, the internal escalation
protocol and the post-incident review. What the seed leaves open is said
where it is filled in: which person approves which tier, and when customers
are expected to start contacting support (read from the seed's "customer
comms at" times). Quire checks and classifies the plan; it never declares an
incident, grants a credit or contacts a customer.

The story: the plan is set with no approver yet for the Starter tier; the
release is held (`REMEDIATION_APPROVER_MISSING`, one hold per Starter row);
the Support Manager is named, a new revision is cut, and since "all
remediation decisions must have a named approver at each tier", the VP
Support (release owner) makes every tier's remediation approver a signer of
the release (`NameSigners(plan_approvers=True)`): the Growth and Starter
approvers sign, the release stays held `SIGNATURE_MISSING` until the VP
Support signs last, and the plan is released to the internal lane with three
signatures on one manifest hash. The Incident Commander writes the packet, so
no signer signs their own revision (separation of duties per signer).
"""

from __future__ import annotations

import copy
from typing import Any

from release.application import ReleaseApp
from release.demo_story import LaneSpec, Story, add_intake_lanes
from release.signatures import NameSigners
from workspace.commands import AddSection, SetRecoveryPlan
from workspace.content.plan import RECOVERY_PLAN_KIND

RECOVERY_LANE = "internal-incident-review"
RECOVERY_TITLE = "Service recovery plan: Tuesday's four-hour outage"

#: user id -> (name, roles): the seed names roles, not people.
RECOVERY_PEOPLE: dict[str, tuple[str, list[str]]] = {
    "vp.support": ("VP Support (Enterprise tier remediation approver)", []),
    "vp.engineering": ("VP Engineering", []),
    "support.director": ("Support Director (Growth tier remediation approver)", []),
    "support.manager": ("Support Manager (Starter tier remediation approver)", []),
    "incident.commander": ("Incident Commander (Engineering lead)", []),
}
RECOVERY_PASSPHRASES = {
    "vp.support": "recovery-plan-demo",
    "support.director": "growth-tier-signs",
    "support.manager": "starter-tier-signs",
}

LANE = LaneSpec(
    RECOVERY_LANE,
    "Internal incident review (support and engineering leadership)",
    members=["vp.engineering"],
    accepts_kinds=[RECOVERY_PLAN_KIND],
)

#: Which named person approves each tier's remediation (the demo's choice;
#: the seed requires "a named approver at each tier").
TIER_APPROVERS = {
    "Enterprise": "vp.support",
    "Growth": "support.director",
    "Starter": "support.manager",
}

#: Tuesday's outage ran from T+0 (10am) to T+240 (2pm EST).
RESOLVED_AT = 240
#: Five business days from Tuesday 2pm is the next Tuesday 2pm.
FIVE_BUSINESS_DAYS = 7 * 24 * 60

_MATRIX = {
    # tier: (S1 over 2 hours, S1 under 2 hours, S2, S3), as in the seed
    "Enterprise": (
        "7-day service credit + named apology from VP",
        "3-day service credit",
        "1-day service credit",
        "Account acknowledgment, no credit",
    ),
    "Growth": (
        "3-day service credit",
        "1-day service credit",
        "Account acknowledgment",
        "Status page notification only",
    ),
    "Starter": (
        "Account acknowledgment",
        "Status page notification",
        "Status page notification",
        "None",
    ),
}
_COLUMNS = (
    ("S1", "S1 lasting more than 2 hours; credits applied automatically"),
    ("S1", "S1 lasting less than 2 hours; credits applied automatically"),
    ("S2", None),
    ("S3", None),
)


def _comm(
    severity: str,
    at: int,
    kind: str,
    channel: str,
    content: str,
    owner: str,
    audience: str = "customer",
) -> dict[str, Any]:
    return {
        "severity": severity,
        "at_minutes": at,
        "audience": audience,
        "kind": kind,
        "channel": channel,
        "content": content,
        "owner": owner,
    }


def seed_plan() -> dict[str, Any]:
    """Seed 004's framework as a plan (the body of `POST .../plan`)."""
    end = RESOLVED_AT
    return {
        "severities": [
            {
                "level": "S1",
                "criteria": {
                    "min_duration_minutes": 61,
                    "min_customers_pct": "100",
                    "core_feature": True,
                },
                "notify_within_minutes": 20,
                "expected_customer_contact_minutes": 30,
                "owner": "VP Engineering + VP Support; customer comms at 30 min",
            },
            {
                "level": "S2",
                "criteria": {"min_duration_minutes": 31},
                "notify_within_minutes": 30,
                "expected_customer_contact_minutes": 45,
                "owner": "Support Director; customer comms at 45 min",
            },
            {
                "level": "S3",
                "criteria": {"core_feature": False},
                "notify_within_minutes": 15,
                "expected_customer_contact_minutes": 15,
                "owner": "Support Manager; customer comms if proactively inquiring",
            },
        ],
        "communications": [
            _comm(
                "S1",
                20,
                "acknowledgment",
                "Status page",
                '"We are investigating an issue affecting [service]. Updates every '
                '15 minutes."',
                "VP Support",
            ),
            _comm(
                "S1",
                30,
                "update",
                "Email to account contacts",
                "Proactive email to all affected customers: issue confirmed, scope "
                "known, team actively working, next update in 30 min",
                "VP Support",
            ),
            _comm(
                "S1",
                30,
                "update",
                "Status page",
                "Status updates every 15 minutes while the incident is active",
                "VP Support",
            ),
            _comm(
                "S1",
                60,
                "update",
                "Email",
                "Email update if unresolved: current status, ETA if known, what's "
                "being done",
                "VP Support",
            ),
            _comm(
                "S1",
                end + 60,
                "resolution",
                "Email",
                "Resolution + 1 hour: service restored, brief explanation, "
                "remediation offer, follow-up RCA commitment",
                "Support Director",
            ),
            _comm(
                "S1",
                end + FIVE_BUSINESS_DAYS,
                "post_incident_summary",
                "Email",
                "Resolution + 5 business days: post-incident report with the full "
                "RCA, what was fixed, what prevents recurrence",
                "VP Support",
            ),
            _comm(
                "S2",
                45,
                "acknowledgment",
                "Email",
                "Customer comms at 45 min: what is affected and when the next "
                "update comes",
                "Support Director",
            ),
            _comm(
                "S3",
                15,
                "acknowledgment",
                "Status page",
                "Status page update within 15 minutes",
                "Support Manager",
            ),
        ],
        "remediation": [
            {
                "tier": tier,
                "severity": severity,
                "offer": offer,
                "eligibility": eligibility,
                "approver": TIER_APPROVERS[tier],
            }
            for tier, offers in _MATRIX.items()
            for (severity, eligibility), offer in zip(_COLUMNS, offers, strict=True)
        ],
        "escalation": [
            {
                "severity": "S1",
                "at_minutes": at,
                "notify": notify,
                "info": info,
            }
            for at, notify, info in (
                (
                    0,
                    ["On-call engineer"],
                    "Incident detected by monitoring or first customer report.",
                ),
                (
                    5,
                    ["VP Engineering", "Support Director"],
                    "On-call engineer declares S1 and pages via PagerDuty.",
                ),
                (
                    10,
                    ["Incident commander (Engineering lead)"],
                    "Incident commander assigned; war room opened (Slack channel "
                    "#incident-live).",
                ),
                (
                    20,
                    ["VP Support"],
                    "Status page updated; VP Support drafts customer communication.",
                ),
                (
                    30,
                    ["Affected customers"],
                    "Customer email sent (approved by VP Support, no legal review "
                    "required for S1 factual statements).",
                ),
                (
                    60,
                    ["CEO"],
                    "CEO notified if Enterprise customer count affected >10 or if "
                    "incident duration exceeds 1 hour.",
                ),
                (
                    end,
                    ["Support Director"],
                    "Resolution: incident commander declares resolution; Support "
                    "Director sends resolution email.",
                ),
            )
        ],
        "review": [
            {
                "within_days": 1,
                "what": "Internal blameless post-mortem (timeline, root cause, "
                "contributing factors, what worked in the response, what failed "
                "in the response)",
                "participants": [],
                "customer_facing": False,
            },
            {
                "within_days": 7,
                "what": "Within 5 business days: customer-facing RCA email to all "
                "affected accounts: what happened, why, what is fixed, what prevents "
                "recurrence; written for a VP, not an engineer",
                "participants": [],
                "customer_facing": True,
            },
            {
                "within_days": 30,
                "what": "Track whether promised prevention measures are implemented",
                "participants": ["VP Engineering"],
                "customer_facing": False,
            },
            {
                "within_days": 90,
                "what": "Review whether remediation was appropriate: did affected "
                "accounts renew? Did any cancel? Adjust the remediation matrix if "
                "the pattern indicates a mismatch",
                "participants": [],
                "customer_facing": False,
            },
        ],
    }


def without_starter_approver(plan: dict[str, Any]) -> dict[str, Any]:
    """The plan as first drafted: the Starter tier's approver not named yet."""
    drafted = copy.deepcopy(plan)
    for row in drafted["remediation"]:
        if row["tier"] == "Starter":
            row["approver"] = None
    return drafted


INCIDENT = (
    "Last Tuesday we had a 4-hour outage between 10am-2pm EST that affected all "
    "Enterprise and Growth customers (about 180 companies). It was caused by a "
    "database migration error. We sent one email at 11:30am saying 'we're "
    "investigating an issue' and nothing else until we emailed at 3pm saying it "
    "was resolved. No remediation was offered. Now we have 23 angry emails and "
    "two Enterprise customers asking for contract credits."
)
ACTIONS = (
    "Send a post-incident acknowledgment to all 180 affected companies within 24 "
    "hours; do not wait until the RCA is complete. Respond to each of the 23 "
    "customers who emailed individually, referencing their email. The contract "
    "credit requests of the 2 Enterprise customers go to the Enterprise tier's "
    "named approver (Quire records the plan; it approves no credit). Tuesday's "
    "first customer message came at T+90 min (11:30am), 60+ minutes after the "
    "S1 plan's T+30."
)


def tell_recovery_story(app: ReleaseApp) -> dict[str, Any]:
    """Opens the packet, is held for the missing Starter approver, fixes it
    and releases revision 2; returns the held release (as it was held: once
    the plan is fixed, revision 1 stays held as REVISION_STALE) and the
    released one."""

    add_intake_lanes(app, [LANE])
    director = "incident.commander"  # writes the packet, signs nothing
    story = Story(app)
    packet = app.open_packet(
        story.who(director),
        kind=RECOVERY_PLAN_KIND,
        title=RECOVERY_TITLE,
        release_owner="vp.support",
        authors=[director],
        reviewers=["vp.engineering", "support.director", "support.manager"],
    )
    story.packet_id = str(packet.id)
    story.run(director, AddSection(heading="What happened", text=INCIDENT))
    story.run(director, AddSection(heading="Immediate actions", text=ACTIONS))
    plan = seed_plan()
    story.run(director, SetRecoveryPlan(without_starter_approver(plan)))
    first = story.cut(director, "Recovery-Plan-v1")
    held = story.request(director, first["number"], RECOVERY_LANE)
    story.run(director, SetRecoveryPlan(plan))
    second = story.cut(director, "Recovery-Plan-v2")
    # every tier's remediation approver signs (the owner, VP Support, too)
    story.run("vp.support", NameSigners([], plan_approvers=True))
    requested = story.request(director, second["number"], RECOVERY_LANE)
    meanings = {
        "support.director": "Approved as the Growth tier's remediation approver",
        "support.manager": "Approved as the Starter tier's remediation approver",
        "vp.support": "Approved as the recovery plan for internal incident review "
        "and as the Enterprise tier's remediation approver",
    }
    for signer in ("support.director", "support.manager", "vp.support"):
        released = story.sign(
            signer,
            requested["release_id"],
            meaning=f"{meanings[signer]}; not an incident declaration, a credit "
            "decision or a customer contact",
            passphrase=RECOVERY_PASSPHRASES[signer],
            scope="Tuesday's outage and the S1-S3 framework",
        )
    return {"held": held, "released": released}

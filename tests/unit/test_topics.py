"""Every stored topic, listed: a rename or a removal cannot slip through.

Events are stored schema. Renaming a class is fine (its TOPIC stays); changing a
TOPIC strands every stored event of that kind. To change an event's fields, bump
its `class_version` and add an upcaster, then extend this list, never edit it.
"""

from __future__ import annotations

import importlib

from eventsourcing.domain import CanMutateAggregate
from eventsourcing.utils import _topic_cache, resolve_topic

STORED_TOPICS = {
    "quire.idempotency": 1,
    "quire.idempotency.Claimed": 1,
    "quire.idempotency.Completed": 1,
    "quire.idempotency.Created": 1,
    "quire.idempotency.Reclaimed": 1,
    "quire.idempotency.Released": 1,
    "quire.lane": 1,
    "quire.lane.Created": 1,
    "quire.lane.KindsChanged": 1,
    "quire.lane.MembersChanged": 1,
    "quire.lane.ReleaseDelivered": 1,
    "quire.lane.WebhookRegistered": 1,
    "quire.packet": 1,
    "quire.packet.Created": 1,
    "quire.packet.EditConflictRecorded": 1,
    "quire.packet.EditConflictResolved": 1,
    "quire.packet.MembersChanged": 1,
    "quire.packet.ObjectionAnswered": 1,
    "quire.packet.ObjectionRaised": 1,
    "quire.packet.ObjectionReopened": 1,
    "quire.packet.ObjectionResolved": 1,
    "quire.packet.ObjectionWithdrawn": 1,
    "quire.packet.Opened": 1,
    "quire.packet.PrerequisiteDeclared": 1,
    "quire.packet.PrerequisiteLapsed": 1,
    "quire.packet.PrerequisiteSatisfied": 1,
    "quire.packet.ReleaseAcknowledged": 1,
    "quire.packet.ReleaseApproved": 1,
    "quire.packet.ReleaseCancelled": 1,
    "quire.packet.ReleaseCleared": 1,
    "quire.packet.ReleaseDecided": 1,
    "quire.packet.ReleaseHoldPlaced": 1,
    "quire.packet.ReleaseHoldLifted": 1,
    "quire.packet.ReleaseHeld": 1,
    "quire.packet.ReleaseRequested": 1,
    "quire.packet.ReleaseSucceeded": 1,
    "quire.packet.ReleaseSuperseded": 1,
    "quire.packet.RequestRefused": 1,
    "quire.packet.ResidualAccepted": 1,
    "quire.packet.Retitled": 1,
    "quire.packet.RevisionCut": 2,
    "quire.packet.SectionAdded": 1,
    "quire.packet.SectionMoved": 1,
    "quire.packet.SectionRemoved": 1,
    "quire.packet.SectionRetitled": 1,
    "quire.packet.RecoveryPlanSet": 1,
    "quire.packet.SectionTextEdited": 1,
    "quire.packet.SourceCited": 1,
    "quire.packet.SourceExpired": 1,
    "quire.packet.SourceFetchFailed": 1,
    "quire.packet.SourceFetchRecovered": 1,
    "quire.packet.SourceRefreshed": 1,
    "quire.packet.SourceWithdrawn": 1,
    "quire.packet.SuggestionProposed": 1,
    "quire.packet.SuggestionRejected": 1,
    "quire.packet.WorksheetCreated": 1,
    "quire.packet.WorksheetFactsUpdated": 1,
    "quire.packet.WorksheetInterpretationAdded": 1,
    # recommendations (seeds 000, 001)
    "quire.packet.AuthorityMatrixSet": 1,
    "quire.packet.CaseDimensionsSet": 1,
    "quire.packet.OptionAdded": 1,
    "quire.packet.OptionAccepted": 1,
    "quire.packet.OptionReclassified": 1,
    "quire.packet.OptionsRanked": 1,
    "quire.packet.AskRecorded": 1,
    "quire.packet.AskAccepted": 1,
    "quire.packet.PrecedentRecorded": 1,
    "quire.packet.EscalationPrepared": 1,
    "quire.packet.EscalationAssembled": 1,
    "quire.token": 1,
    "quire.token.Created": 1,
    "quire.token.Issued": 1,
    "quire.trail": 1,
    "quire.trail.Created": 1,
    "quire.trail.Refused": 1,
    "quire.trail.Started": 1,
    "quire.trail.Viewed": 1,
    "quire.user": 1,
    "quire.user.Created": 1,
    "quire.user.PassphraseSet": 1,
    "quire.user.Registered": 1,
    "quire.user.SigningFailed": 1,
    "quire.user.SigningSucceeded": 1,
    "quire.user.SigningUnlocked": 1,
    "quire.user.TokenIssued": 1,
    "quire.user.TokensRevoked": 1,
    "quire.webhook.Delivered": 1,
    "quire.webhook.Delivery": 1,
    "quire.webhook.DeliveryAttempted": 1,
    "quire.webhook.DeliveryQueued": 1,
    # several named signers (issue 13 item 4)
    "quire.packet.SignersNamed": 1,
    "quire.packet.ReleaseSigned": 1,
    "quire.packet.SignaturesVoided": 1,
}


def registered_topics() -> dict[str, type]:
    for module in ("api.main", "release.application", "projections.driver"):
        importlib.import_module(module)
    return {
        k: v for k, v in _topic_cache.items() if k.startswith("quire.") or k == "quire"
    }


def test_every_stored_topic_is_listed_and_none_went_missing() -> None:
    assert set(registered_topics()) == set(STORED_TOPICS)


def test_each_topic_resolves_to_a_class_that_declares_it_itself() -> None:
    for topic, version in STORED_TOPICS.items():
        cls = resolve_topic(topic)
        assert cls.__dict__.get("TOPIC") == topic, f"{cls} inherits {topic}"
        if isinstance(cls, type) and issubclass(cls, CanMutateAggregate):
            assert getattr(cls, "class_version", 1) == version, topic

"""Lane webhooks from a durable outbox, on every backend, against a real
local HTTP receiver that fails and recovers."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import pytest

from release.application import ReleaseApp
from release.outbox import WebhookDelivery, delivery_id
from release.sweeper import ManualClock
from release.webhook_sender import WebhookSender, backlog
from release.webhooks import register_webhook
from tests.integration.test_release_gate import (
    LANE,
    Draft,
    cheap_passphrases,
    clock,
    draft,
    release_app,
    who,
)
from tests.webhook_receiver import Receiver
from workspace.config import Settings
from workspace.errors import InvalidInputError, NotAllowedError, StateError

__all__ = ["cheap_passphrases", "clock", "release_app"]  # fixtures used here

KEY = "a key kept outside the database"
SECRET = "intake-routing-shared-secret"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """conftest's settings, with a webhook key and short, jitter-free waits."""
    return settings.model_copy(
        update={
            "webhook_secret_key": KEY,
            "webhook_backoff_base_seconds": 2.0,
            "webhook_backoff_cap_seconds": 8.0,
            "webhook_timeout_seconds": 5.0,
        }
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(fail_first=2).start()
    yield r
    r.stop()


def sender_of(app: ReleaseApp) -> WebhookSender:
    return WebhookSender(app, rng=random.Random(7))


def drain(
    sender: WebhookSender, clock: ManualClock, receiver: Receiver, n: int
) -> None:
    """Runs sender passes, moving the clock past each backoff, until the
    receiver has accepted `n` distinct deliveries."""
    for _ in range(30):
        sender.pass_once()
        if len(receiver.unique()) >= n:
            return
        clock.advance(timedelta(seconds=10))
    raise AssertionError(f"only {len(receiver.unique())} of {n} delivered")


def test_releases_and_supersessions_reach_the_receiver_signed_in_order_after_failures(
    release_app: ReleaseApp, clock: ManualClock, receiver: Receiver
) -> None:
    d = draft(release_app, clock)
    register_webhook(release_app, d.root, LANE, url=receiver.url, secret=SECRET)
    first = d.release()
    release_app.edit_section(
        d.packet_id, d.ben, "sec-1", base_version=d.packet().version, text="413"
    )
    second = d.release()  # supersedes the first in the same save
    sender = sender_of(release_app)
    try:
        drain(sender, clock, receiver, 3)
    finally:
        sender.stop()

    got = [r.payload for r in receiver.unique().values()]
    assert [(p["type"], p["release_id"]) for p in got] == [
        ("release", first),
        ("supersession", first),
        ("release", second),
    ]
    assert got[1]["cause"] == "REPLACED_BY_NEW_RELEASE"
    assert got[1]["successor_release_id"] == second
    assert got[2]["manifest_hash"] == d.packet().release(second)["manifest_hash"]
    assert all(p["lane"] == LANE and p["packet_id"] == d.packet_id for p in got)
    # the two refused attempts carried the first delivery's id and bytes
    failed, retried = receiver.requests[:2], receiver.requests[2]
    assert [r.status for r in failed] == [500, 500]
    assert {r.delivery_id for r in failed} == {retried.delivery_id}
    assert {r.body for r in failed} == {retried.body}
    for r in receiver.requests:
        assert r.verifies(SECRET)
        assert r.delivery_id == r.payload["delivery_id"]
        assert not r.verifies("another secret")
    record = release_app.repository.get(
        delivery_id(LANE, d.packet_id, first, "release")
    )
    assert record.delivered and record.attempts == 3
    assert backlog(release_app) == 0


def test_the_delivery_is_queued_in_the_same_save_as_the_release_or_not_at_all(
    release_app: ReleaseApp, clock: ManualClock, receiver: Receiver
) -> None:
    """The attack: a second delivery for the same notice. Its id is derived
    from the notice, so it clashes; and since it is in the release's own
    save, the release is not recorded either (no release without its
    delivery, no delivery without its release)."""
    d = draft(release_app, clock)
    register_webhook(release_app, d.root, LANE, url=receiver.url, secret=SECRET)
    rid = d.request(d.cut()["number"])["release_id"]
    squatter = WebhookDelivery.queue(
        at=clock.now,
        actor="mallory",
        lane_id=LANE,
        kind="release",
        body={"packet_id": d.packet_id, "release_id": rid},
    )
    release_app.save(squatter)
    with pytest.raises(Exception):  # noqa: B017  (the clash, however it surfaces)
        d.approve(rid)
    assert d.packet().release(rid)["status"] != "released"
    assert release_app.get_lane(LANE).deliveries == []


def test_a_lane_audience_change_queues_one_supersession_per_release(
    release_app: ReleaseApp, clock: ManualClock, receiver: Receiver
) -> None:
    one, two = draft(release_app, clock, "One"), draft(release_app, clock, "Two")
    register_webhook(release_app, one.root, LANE, url=receiver.url, secret=SECRET)
    first, second = one.release(), two.release()
    release_app.change_lane_members(one.root, LANE, ["lars", "mia"])
    sender = sender_of(release_app)
    try:
        drain(sender, clock, receiver, 4)
    finally:
        sender.stop()
    supersessions = [
        (p["packet_id"], p["release_id"], p["cause"])
        for p in (r.payload for r in receiver.unique().values())
        if p["type"] == "supersession"
    ]
    assert sorted(supersessions) == sorted(
        [
            (one.packet_id, first, "LANE_AUDIENCE_CHANGED"),
            (two.packet_id, second, "LANE_AUDIENCE_CHANGED"),
        ]
    )


def test_a_lane_without_a_webhook_queues_nothing(
    release_app: ReleaseApp, clock: ManualClock
) -> None:
    draft(release_app, clock).release()
    assert backlog(release_app) == 0
    assert not release_app.recorder.select_notifications(
        start=1, limit=10, topics=[WebhookDelivery.Queued.TOPIC]
    )


def test_the_secret_is_never_stored_in_clear_nor_returned(
    release_app: ReleaseApp, clock: ManualClock, receiver: Receiver
) -> None:
    d: Draft = draft(release_app, clock)
    view = register_webhook(release_app, d.root, LANE, url=receiver.url, secret=SECRET)
    assert SECRET not in str(view) and view["url"] == receiver.url
    stored = release_app.recorder.select_notifications(start=1, limit=10_000)
    assert stored and all(SECRET.encode() not in n.state for n in stored)
    assert "secret" not in str(release_app.get_lane(LANE).view())


def test_registration_is_for_admins_with_a_key_a_good_url_and_secret(
    release_app: ReleaseApp, clock: ManualClock, settings: Settings
) -> None:
    admin, lars = who(release_app, "root"), who(release_app, "lars")
    with pytest.raises(NotAllowedError):
        register_webhook(release_app, lars, LANE, url="http://x.test/", secret=SECRET)
    for url in ("ftp://x.test/", "http://user:pw@x.test/", "http:///nohost"):
        with pytest.raises(InvalidInputError) as bad:
            register_webhook(release_app, admin, LANE, url=url, secret=SECRET)
        assert bad.value.code == "WEBHOOK_URL_INVALID"
    with pytest.raises(InvalidInputError) as short:
        register_webhook(release_app, admin, LANE, url="http://x.test/", secret="s")
    assert short.value.code == "WEBHOOK_SECRET_INVALID"
    release_app.settings = settings.model_copy(update={"webhook_secret_key": ""})
    with pytest.raises(StateError) as missing:
        register_webhook(release_app, admin, LANE, url="http://x.test/", secret=SECRET)
    assert missing.value.code == "WEBHOOK_KEY_MISSING"
    assert getattr(release_app.get_lane(LANE), "webhook", None) is None

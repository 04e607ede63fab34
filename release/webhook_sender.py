"""The webhook sender: drains the outbox (release/outbox.py), lane by lane.

Runs in `quire worker`, and in the serving process on the embedded SQLite
default (api/services.py), like the expiry sweeper and the source watcher.

It follows the event log for `DeliveryQueued` (from the start on each
restart, so a delivery queued before a crash is found again), keeps the
undelivered ones per lane in queue order, and sends each lane's oldest
first: a lane's receiver sees its notices in the order they were saved,
and a failing one holds back the later ones of that lane only.

Each attempt POSTs the body fixed at queue time with `X-Quire-Delivery`
(the delivery id, the same on every retry) and `X-Quire-Signature:
sha256=<hex HMAC-SHA256 of the body with the lane's secret>`. A 2xx is
recorded as `Delivered`; anything else (a status, a refused connection, a
timeout) as `DeliveryAttempted` with the time of the next attempt: base x
2^(attempt-1) seconds, with jitter (half to all of it), never over the cap.

At least once: a process killed after the receiver took a delivery and
before `Delivered` was saved sends it again on restart, with the same
delivery id; the receiver de-duplicates by that id, so each notice is
acted on exactly once. Two senders running at once (two workers) can only
duplicate, never lose, for the same reason.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import random
import threading
from collections import deque
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
from eventsourcing.persistence import IntegrityError

from release.background import BackgroundThread
from release.outbox import WebhookDelivery, canonical_body
from release.webhooks import unseal
from workspace.errors import QuireError

log = logging.getLogger(__name__)

USER_AGENT = "Quire-Webhooks/1"


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before attempt `attempt + 1`, after `attempt` failures."""
    delay = min(cap, base * (2 ** max(0, attempt - 1)))
    return min(cap, rng.uniform(delay / 2, delay))


def backlog(app: Any) -> int:
    """Deliveries queued and not yet delivered (read from the event log)."""
    counts = {WebhookDelivery.Queued.TOPIC: 0, WebhookDelivery.Delivered.TOPIC: 0}
    for topic in counts:
        start = 1
        while True:
            batch = app.recorder.select_notifications(
                start=start, limit=1000, topics=[topic]
            )
            counts[topic] += len(batch)
            if len(batch) < 1000:
                break
            start = batch[-1].id + 1
    return max(
        0,
        counts[WebhookDelivery.Queued.TOPIC] - counts[WebhookDelivery.Delivered.TOPIC],
    )


class WebhookSender(BackgroundThread):
    """A background thread sending every lane's outbox in order."""

    thread_name = "quire-webhook-sender"

    def __init__(self, app: Any, *, rng: random.Random | None = None) -> None:
        super().__init__()
        self.app = app
        settings = app.settings
        self.timeout = settings.webhook_timeout_seconds
        self.base = settings.webhook_backoff_base_seconds
        self.cap = settings.webhook_backoff_cap_seconds
        self.poll = settings.webhook_poll_seconds
        self.rng = rng or random.Random()
        self.position = 0
        self.lanes: dict[str, deque[UUID]] = {}
        self._wake = threading.Event()
        self.client = httpx.Client(
            timeout=self.timeout,
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )

    # ---------------------------------------------------------- lifecycle
    def stop(self) -> None:
        super().stop()
        self.client.close()

    def _interrupt(self) -> None:
        self._wake.set()

    def _join_seconds(self) -> float:
        return float(self.timeout + 5)

    # -------------------------------------------------------------- work
    def refresh(self) -> None:
        """Picks up deliveries queued since the last look."""
        while True:
            batch = self.app.recorder.select_notifications(
                start=self.position + 1,
                limit=500,
                topics=[WebhookDelivery.Queued.TOPIC],
            )
            for notification in batch:
                self.position = notification.id
                ident = UUID(str(notification.originator_id))
                delivery = self._load(ident)
                if delivery is not None and not delivery.delivered:
                    self.lanes.setdefault(delivery.lane_id, deque()).append(ident)
            if len(batch) < 500:
                return

    def pass_once(self) -> int:
        """Sends what is due, oldest first per lane; returns how many went."""
        self.refresh()
        sent = 0
        for lane_id, queue in list(self.lanes.items()):
            while queue and not self._stop.is_set():
                delivery = self._load(queue[0])
                if delivery is None or delivery.delivered:
                    queue.popleft()
                    continue
                if not self._due(delivery):
                    break
                if not self.attempt(delivery):
                    break
                queue.popleft()
                sent += 1
            if not queue:
                del self.lanes[lane_id]
        return sent

    def attempt(self, delivery: WebhookDelivery) -> bool:
        """One POST; records its outcome. True once delivered."""
        lane = self.app.find_lane(delivery.lane_id)
        webhook = getattr(lane, "webhook", None)
        if lane is None or webhook is None:
            return False
        body = canonical_body(delivery.body)
        status: int | None = None
        try:
            secret = unseal(self.app.settings.webhook_secret_key, lane.lane_id, webhook)
            response = self.client.post(
                webhook["url"],
                content=body,
                headers={
                    "Content-Type": "application/json",
                    "X-Quire-Delivery": str(delivery.id),
                    "X-Quire-Signature": signature(secret, body),
                },
            )
            status = response.status_code
            error = "" if response.is_success else f"HTTP {status}"
        except QuireError as e:  # the key cannot open the secret
            error = f"{e.code}: {e.message}"
        except httpx.HTTPError as e:
            error = f"{type(e).__name__}: {e}"[:300]
        now: datetime = self.app.clock()
        if status is not None and not error:
            delivery.mark_delivered(at=now, status=status)
        else:
            wait = backoff(delivery.attempts + 1, self.base, self.cap, self.rng)
            delivery.attempted(
                at=now,
                status=status,
                error=error,
                next_at=now + timedelta(seconds=wait),
            )
            log.info(
                "webhook delivery %s to lane %s failed (%s); next in %.1fs",
                delivery.id,
                delivery.lane_id,
                error,
                wait,
            )
        try:
            self.app.save(delivery)
        except IntegrityError:  # another sender recorded it first: look again
            return False
        return not error

    def _due(self, delivery: WebhookDelivery) -> bool:
        if delivery.next_at is None:
            return True
        now: datetime = self.app.clock()
        return datetime.fromisoformat(delivery.next_at) <= now

    def _load(self, ident: UUID) -> WebhookDelivery | None:
        try:
            found = self.app.repository.get(ident)
        except Exception:
            log.exception("could not load webhook delivery %s", ident)
            return None
        return found if isinstance(found, WebhookDelivery) else None

    def wait_seconds(self) -> float:
        """Until the earliest head of a lane is due (at most the poll)."""
        wait: float = self.poll
        now: datetime = self.app.clock()
        for queue in self.lanes.values():
            delivery = self._load(queue[0]) if queue else None
            if delivery is not None and delivery.next_at is not None:
                due = datetime.fromisoformat(delivery.next_at) - now
                wait = min(wait, max(0.01, due.total_seconds()))
        return wait

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                sent = self.pass_once()
                if sent:
                    log.info("webhook sender delivered %d notice(s)", sent)
                wait = self.wait_seconds()
            except Exception:  # the next pass retries
                log.exception("webhook pass failed; retrying")
                wait = self.poll
            self._wake.wait(wait)
            self._wake.clear()

    def __repr__(self) -> str:
        return f"WebhookSender(lanes={len(self.lanes)})"

"""Per-lane webhooks to an intake-routing system: registration and secrets.

`POST /v1/lanes/{lane}/webhooks {url, secret}` (admins) records
`WebhookRegistered` on the lane; a later registration replaces the earlier
one (deliveries still waiting then go to the new URL, signed with the new
secret).

Where the secret lives: the event store is append-only, replicated into
backups and read by auditors, so the secret is never stored in clear. The
event holds it encrypted with AES-256-GCM under a key derived from the
`QUIRE_WEBHOOK_SECRET_KEY` setting (kept outside the database, given to
every serving and worker process), bound to the lane id as associated
data; the key's SHA-256 fingerprint prefix is stored beside it, so a wrong
key is named rather than failing with a bare decryption error. Without the
setting a registration is refused (`WEBHOOK_KEY_MISSING`). No read returns
the secret: the lane's view shows the URL and when it was registered.
"""

from __future__ import annotations

import base64
import hashlib
import os
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import register_topic

from release.lanes import Lane
from workspace.accounts import Principal
from workspace.domain import iso
from workspace.errors import (
    InvalidInputError,
    NotAllowedError,
    StateError,
    VersionClashError,
)

URL_MAX = 2000
SECRET_MIN = 16
SECRET_MAX = 512


class WebhookRegistered(Lane.Event):
    TOPIC = "quire.lane.WebhookRegistered"
    class_version = 1
    url: str
    #: base64(nonce + AES-GCM ciphertext) of the secret; never the secret.
    secret_sealed: str
    key_id: str

    def apply(self, lane: Any) -> None:
        lane.webhook = {
            "url": self.url,
            "secret_sealed": self.secret_sealed,
            "key_id": self.key_id,
            "registered_at": iso(self.timestamp),
            "registered_by": self.actor,
        }


register_topic(WebhookRegistered.TOPIC, WebhookRegistered)


def _key(setting: str) -> bytes:
    if not setting:
        raise StateError(
            "WEBHOOK_KEY_MISSING",
            "set QUIRE_WEBHOOK_SECRET_KEY (on every serving and worker process) "
            "before registering a webhook: secrets are stored encrypted with it",
        )
    return hashlib.sha256(b"quire-webhook-secret:" + setting.encode()).digest()


def key_id(setting: str) -> str:
    return hashlib.sha256(_key(setting)).hexdigest()[:12]


def seal(setting: str, lane_id: str, secret: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(setting)).encrypt(nonce, secret.encode(), lane_id.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(setting: str, lane_id: str, webhook: dict[str, Any]) -> str:
    if webhook["key_id"] != key_id(setting):
        raise StateError(
            "WEBHOOK_KEY_MISMATCH",
            f"the webhook of lane {lane_id} was sealed with another "
            "QUIRE_WEBHOOK_SECRET_KEY; set that key or register the webhook again",
        )
    raw = base64.b64decode(webhook["secret_sealed"])
    try:
        plain = AESGCM(_key(setting)).decrypt(raw[:12], raw[12:], lane_id.encode())
    except InvalidTag:
        raise StateError(
            "WEBHOOK_KEY_MISMATCH", "the webhook secret does not decrypt"
        ) from None
    return plain.decode()


def validate_url(url: str) -> str:
    parsed = urlparse(url)
    if (
        not isinstance(url, str)
        or len(url) > URL_MAX
        or parsed.scheme not in ("http", "https")
        or not parsed.hostname
        or parsed.username
        or parsed.password
    ):
        raise InvalidInputError(
            "WEBHOOK_URL_INVALID",
            "a webhook URL is http:// or https:// with a host and no credentials",
        )
    return url


def validate_secret(secret: str) -> str:
    if not isinstance(secret, str) or not SECRET_MIN <= len(secret) <= SECRET_MAX:
        raise InvalidInputError(
            "WEBHOOK_SECRET_INVALID",
            f"a webhook secret is {SECRET_MIN} to {SECRET_MAX} characters",
            {"min": SECRET_MIN, "max": SECRET_MAX},
        )
    return secret


def webhook_view(lane: Lane) -> dict[str, Any] | None:
    """What anyone may see of a lane's webhook: never the secret."""
    webhook: dict[str, Any] | None = getattr(lane, "webhook", None)
    if webhook is None:
        return None
    return {
        "url": webhook["url"],
        "registered_at": webhook["registered_at"],
        "registered_by": webhook["registered_by"],
    }


def register_webhook(
    app: Any, admin: Principal, lane_id: str, *, url: str, secret: str
) -> dict[str, Any]:
    """Records the lane's webhook (admins only); returns its public view."""
    if not admin.is_admin:
        raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins manage intake lanes")
    url = validate_url(url)
    secret = validate_secret(secret)
    setting = app.settings.webhook_secret_key
    lane: Lane = app.get_lane(lane_id)
    at: datetime = app.clock()
    lane.trigger_event(
        WebhookRegistered,
        actor=admin.user_id,
        timestamp=at,
        url=url,
        secret_sealed=seal(setting, lane.lane_id, secret),
        key_id=key_id(setting),
    )
    try:
        app.save(lane)
    except IntegrityError:
        raise VersionClashError(
            "VERSION_CLASH", "the lane changed meanwhile; try again"
        ) from None
    return {"lane": lane.lane_id, **(webhook_view(lane) or {})}

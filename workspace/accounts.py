"""Users and their credentials, event-sourced like everything else.

A user's aggregate id is derived from the user id, and each bearer token gets a
tiny index aggregate whose id is derived from the token's hash, so both are
found by id without a secondary index on any backend. Tokens are stored only
as SHA-256 hashes; signing passphrases only as scrypt hashes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from workspace.domain import Meta
from workspace.domain.base import assign, stored_classes
from workspace.errors import InvalidInputError

USER_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
ROLE_NAMES = ("admin", "auditor", "agent")

#: Five failed signing re-authentications in a row lock signing (release layer).
SIGNING_LOCK_AFTER = 5

# scrypt cost: ~50 ms per check on the reference machine; slow on purpose.
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1


def user_aggregate_id(user_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"quire:user:{user_id}")


def token_aggregate_id(token_hash: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"quire:token:{token_hash}")


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return "qt_" + secrets.token_urlsafe(32)


def hash_passphrase(passphrase: str) -> str:
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        passphrase.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P
    )
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def check_passphrase(passphrase: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(
            passphrase.encode("utf-8"),
            salt=bytes.fromhex(salt),
            n=int(n),
            r=int(r),
            p=int(p),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


def validate_user_id(user_id: str) -> str:
    if not USER_ID_PATTERN.match(user_id or ""):
        raise InvalidInputError(
            "USER_ID_INVALID",
            "a user id is 1-100 letters, digits, '.', '_', '@' or '-'",
        )
    return user_id


@dataclass(frozen=True)
class Principal:
    """The authenticated caller, as commands and policies see it."""

    user_id: str
    name: str
    roles: frozenset[str]

    @property
    def kind(self) -> str:
        return "agent" if "agent" in self.roles else "human"

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def is_auditor(self) -> bool:
        return "auditor" in self.roles

    @property
    def is_agent(self) -> bool:
        return "agent" in self.roles

    def meta(self, **kwargs: Any) -> Meta:
        if self.is_agent:
            return Meta(actor=self.user_id, actor_kind="agent", **kwargs)
        return Meta(actor=self.user_id, actor_kind="human", **kwargs)


class User(Aggregate):
    TOPIC = "quire.user"

    user_id: str
    name: str
    roles: list[str]
    passphrase_hash: str | None
    token_hashes: list[str]
    failed_signings: int
    signing_locked: bool

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Registered.apply."""

    class Event(Aggregate.Event):
        actor: str

    class Created(Event, Aggregate.Created):
        TOPIC = "quire.user.Created"

    class Registered(Created):
        TOPIC = "quire.user.Registered"
        user_id: str
        name: str
        roles: list[str]
        passphrase_hash: str | None

        def apply(self, user: Any) -> None:
            assign(
                user,
                self,
                "user_id",
                "name",
                "roles",
                "passphrase_hash",
                token_hashes=[],
                failed_signings=0,
                signing_locked=False,
            )

    class TokenIssued(Event):
        TOPIC = "quire.user.TokenIssued"
        token_hash: str

        def apply(self, user: Any) -> None:
            user.token_hashes.append(self.token_hash)

    class PassphraseSet(Event):
        TOPIC = "quire.user.PassphraseSet"
        passphrase_hash: str

        def apply(self, user: Any) -> None:
            user.passphrase_hash = self.passphrase_hash

    class SigningFailed(Event):
        TOPIC = "quire.user.SigningFailed"
        packet_id: str
        release_id: str
        # Added in wave 2: True when refused because signing was locked
        # (the passphrase was then not checked).
        while_locked: bool = False

        lock_after: ClassVar[int] = SIGNING_LOCK_AFTER

        def apply(self, user: Any) -> None:
            user.failed_signings += 1
            if user.failed_signings >= self.lock_after:
                user.signing_locked = True

    class SigningSucceeded(Event):
        TOPIC = "quire.user.SigningSucceeded"
        # Added in wave 2 (every success is recorded since); older events
        # load with the defaults.
        packet_id: str = ""
        release_id: str = ""

        def apply(self, user: Any) -> None:
            user.failed_signings = 0

    class SigningUnlocked(Event):
        TOPIC = "quire.user.SigningUnlocked"

        def apply(self, user: Any) -> None:
            assign(user, self, failed_signings=0, signing_locked=False)

    class TokensRevoked(Event):
        """Every token issued so far stops working (`quire users revoke-tokens`)."""

        TOPIC = "quire.user.TokensRevoked"
        count: int

        def apply(self, user: Any) -> None:
            user.token_hashes = []

    @classmethod
    def register(
        cls,
        *,
        actor: str,
        user_id: str,
        name: str,
        roles: list[str],
        passphrase: str | None,
    ) -> User:
        validate_user_id(user_id)
        if not name or not name.strip():
            raise InvalidInputError("NAME_EMPTY", "a user needs a name")
        unknown = set(roles) - set(ROLE_NAMES)
        if unknown:
            raise InvalidInputError("ROLE_UNKNOWN", f"unknown roles: {sorted(unknown)}")
        return cls._create(
            cls.Registered,
            id=user_aggregate_id(user_id),
            actor=actor,
            user_id=user_id,
            name=name.strip(),
            roles=sorted(set(roles)),
            passphrase_hash=hash_passphrase(passphrase) if passphrase else None,
        )

    def principal(self) -> Principal:
        return Principal(self.user_id, self.name, frozenset(self.roles))


class TokenIndex(Aggregate):
    """Maps a token hash to its user; its id is derived from the hash."""

    TOPIC = "quire.token"

    user_id: str

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Issued.apply."""

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "quire.token.Created"

    class Issued(Created):
        TOPIC = "quire.token.Issued"
        user_id: str

        def apply(self, index: Any) -> None:
            index.user_id = self.user_id


def trail_aggregate_id(user_id: str, day: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"quire:trail:{user_id}:{day}")


class AuditTrail(Aggregate):
    """What one user read, and which of their requests were refused, per day.

    Reads by auditors and lane members, and every refused write, are recorded
    here so that the audit log (a projection of the event log) shows them.
    """

    TOPIC = "quire.trail"

    user_id: str
    day: str
    entries: int

    def __init__(self, **kwargs: Any) -> None:
        """State is set by Started.apply."""

    class Event(Aggregate.Event):
        pass

    class Created(Event, Aggregate.Created):
        TOPIC = "quire.trail.Created"

    class Started(Created):
        TOPIC = "quire.trail.Started"
        user_id: str
        day: str

        def apply(self, trail: Any) -> None:
            assign(trail, self, "user_id", "day", entries=0)

    class Viewed(Event):
        TOPIC = "quire.trail.Viewed"
        actor: str
        actor_kind: str
        what: str
        packet_id: str | None
        detail: dict[str, Any]

        def apply(self, trail: Any) -> None:
            trail.entries += 1

    class Refused(Event):
        TOPIC = "quire.trail.Refused"
        actor: str
        actor_kind: str
        request: str
        code: str
        message: str
        packet_id: str | None
        # Added in wave 2: how many identical refusals this record stands for
        # (repeats within a window are coalesced; older events count one).
        count: int = 1

        def apply(self, trail: Any) -> None:
            trail.entries += 1


def user_event_classes() -> list[type[Any]]:
    return stored_classes(User, TokenIndex, AuditTrail)

"""Users of `Workspace`: accounts, API tokens (issue, authenticate,
revoke), the release owner's signing re-authentication and its lock, and
the audit trail of reads and refusals."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
)
from eventsourcing.persistence import IntegrityError

from workspace.accounts import (
    AuditTrail,
    Principal,
    TokenIndex,
    User,
    check_passphrase,
    hash_token,
    new_token,
    token_aggregate_id,
    trail_aggregate_id,
    user_aggregate_id,
    validate_user_id,
)
from workspace.commands.base import MAX_ATTEMPTS
from workspace.config import Settings
from workspace.errors import (
    AuthenticationError,
    NotAllowedError,
    NotFoundError,
    StateError,
    VersionClashError,
)
from workspace.refusals import RefusalCoalescer

#: A signing attempt re-decided this many times (each time another process
#: recorded an attempt of the same signer first) gives up with 409.
SIGNING_ATTEMPTS = 200

if TYPE_CHECKING:
    from eventsourcing.application import Application as _Application

    from workspace.application import Clock

    _Base = _Application[UUID]
else:
    _Base = object


class UserAccounts(_Base):
    """A mixin of `Workspace`: users, tokens, signing and the audit trail."""

    settings: Settings
    clock: Clock
    _refusals: RefusalCoalescer
    _signing_locks: dict[str, threading.Lock]
    _signing_locks_guard: threading.Lock

    def user_exists(self, user_id: str) -> bool:
        try:
            self.repository.get(user_aggregate_id(user_id))
        except AggregateNotFoundError:
            return False
        return True

    def get_user(self, user_id: str) -> User:
        try:
            user: Any = self.repository.get(
                user_aggregate_id(validate_user_id(user_id))
            )
        except AggregateNotFoundError:
            raise NotFoundError("USER_NOT_FOUND", f"no user {user_id!r}") from None
        if not isinstance(user, User):
            raise NotFoundError("USER_NOT_FOUND", f"no user {user_id!r}")
        return user

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        roles: list[str],
        passphrase: str | None = None,
        actor: str = "system",
    ) -> str:
        """Registers a user and returns their first bearer token (shown once)."""
        user = User.register(
            actor=actor, user_id=user_id, name=name, roles=roles, passphrase=passphrase
        )
        token, index = self._token_for(user, actor)
        try:
            self.save(user, index)
        except IntegrityError:
            raise StateError(
                "USER_EXISTS", f"user {user_id!r} already exists"
            ) from None
        return token

    def issue_token(self, user_id: str, actor: str = "system") -> str:
        user = self.get_user(user_id)
        token, index = self._token_for(user, actor)
        self.save(user, index)
        return token

    def _token_for(self, user: User, actor: str) -> tuple[str, TokenIndex]:
        token = new_token()
        digest = hash_token(token)
        at = self.clock()  # the token's issue time (expiry counts from it)
        user.trigger_event(
            User.TokenIssued, actor=actor, token_hash=digest, timestamp=at
        )
        index = TokenIndex._create(
            TokenIndex.Issued,
            id=token_aggregate_id(digest),
            user_id=user.user_id,
            timestamp=at,
        )
        return token, index

    def authenticate(self, token: str | None) -> Principal:
        """The token's user, unless the token is unknown, revoked (every token
        a user held when `revoke_tokens` ran) or older than the TTL."""
        if not token:
            raise AuthenticationError("TOKEN_MISSING", "send Authorization: Bearer")
        digest = hash_token(token)
        try:
            index: Any = self.repository.get(token_aggregate_id(digest))
        except AggregateNotFoundError:
            raise AuthenticationError("TOKEN_INVALID", "unknown token") from None
        user = self.get_user(index.user_id)
        if digest not in user.token_hashes:
            raise AuthenticationError("TOKEN_REVOKED", "this token was revoked")
        ttl = timedelta(days=self.settings.token_ttl_days)
        if self.clock() >= index.created_on + ttl:
            raise AuthenticationError(
                "TOKEN_EXPIRED",
                f"this token is older than {self.settings.token_ttl_days} days; "
                "ask an admin for a new one",
            )
        return user.principal()

    def revoke_tokens(self, admin: Principal, user_id: str) -> int:
        """Revokes every token the user holds; returns how many."""
        if not admin.is_admin:
            raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins revoke tokens")
        for _ in range(MAX_ATTEMPTS):
            user = self.get_user(user_id)
            count = len(user.token_hashes)
            user.trigger_event(
                User.TokensRevoked,
                actor=admin.user_id,
                count=count,
                timestamp=self.clock(),
            )
            try:
                self.save(user)
            except IntegrityError:
                continue
            return count
        raise VersionClashError("VERSION_CLASH", "the user changed meanwhile; retry")

    def check_signing_passphrase(
        self,
        user_id: str,
        passphrase: str,
        *,
        packet_id: str,
        release_id: str,
    ) -> bool:
        """Re-authenticates a signer; five failures in a row lock signing until
        an admin unlocks it.

        Every attempt is recorded exactly once, whatever the concurrency: a
        failure (or any attempt on a locked signer) as `SigningFailed`, a
        success as `SigningSucceeded`. Both are saved against the version of
        the user they were decided on, so a decision made on a stale version
        (another process saved first) is re-decided on fresh state, which
        re-checks the lock. The slow passphrase hash is checked once.
        """
        user = self.get_user(user_id)
        hashed = user.passphrase_hash
        matched = (
            False if user.signing_locked else check_passphrase(passphrase or "", hashed)
        )
        with self._signing_lock(user_id):
            for _ in range(SIGNING_ATTEMPTS):
                user = self.get_user(user_id)  # fresh: after the lock was taken
                locked = user.signing_locked
                if not locked and user.passphrase_hash != hashed:
                    # The passphrase changed meanwhile (rare): check the new one.
                    hashed = user.passphrase_hash
                    matched = check_passphrase(passphrase or "", hashed)
                ok = matched and not locked
                if ok:
                    user.trigger_event(
                        User.SigningSucceeded,
                        actor=user_id,
                        packet_id=packet_id,
                        release_id=release_id,
                    )
                else:
                    user.trigger_event(
                        User.SigningFailed,
                        actor=user_id,
                        packet_id=packet_id,
                        release_id=release_id,
                        while_locked=locked,
                    )
                try:
                    self.save(user)
                except IntegrityError:
                    continue  # another process recorded an attempt first
                return ok
        raise VersionClashError(
            "SIGNING_BUSY", "too many simultaneous signing attempts; try again"
        )

    def _signing_lock(self, user_id: str) -> threading.Lock:
        """One lock per signer in this process: its attempts queue here rather
        than clash on the user's version (other processes still may: retried)."""
        with self._signing_locks_guard:
            return self._signing_locks.setdefault(user_id, threading.Lock())

    def unlock_signing(self, admin: Principal, user_id: str) -> None:
        if not admin.is_admin:
            raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins unlock signing")
        user = self.get_user(user_id)
        user.trigger_event(User.SigningUnlocked, actor=admin.user_id)
        self.save(user)

    # ---------------------------------------------------------- audit trail
    def record_view(
        self,
        principal: Principal,
        what: str,
        *,
        packet_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Records a read by an auditor or lane member (invariant: views logged)."""
        self._append_trail(
            principal,
            AuditTrail.Viewed,
            what=what,
            packet_id=packet_id,
            detail=detail or {},
        )

    def record_refusal(
        self,
        principal: Principal,
        request: str,
        code: str,
        message: str,
        *,
        packet_id: str | None = None,
    ) -> None:
        """Records a refused request, so the audit log shows what was attempted.

        Repeats of the same refusal by the same user within a minute are
        counted and recorded as one event with `count` (workspace/refusals.py).
        """
        self._refusals.refused(principal, request, code, message, packet_id)

    def flush_refusals(self) -> None:
        """Records every refusal counted so far but not yet recorded."""
        self._refusals.flush(everything=True)

    def pending_refusals(self) -> int:
        return self._refusals.pending()

    def _record_refusals(
        self, principal: Principal, fields: dict[str, Any], count: int
    ) -> None:
        self._append_trail(principal, AuditTrail.Refused, count=count, **fields)

    def _append_trail(
        self, principal: Principal, event_class: type[Any], **fields: Any
    ) -> None:
        at = self.clock()
        day = at.date().isoformat()
        trail_id = trail_aggregate_id(principal.user_id, day)
        for _ in range(MAX_ATTEMPTS):
            try:
                trail: Any = self.repository.get(trail_id)
            except AggregateNotFoundError:
                trail = AuditTrail._create(
                    AuditTrail.Started,
                    id=trail_id,
                    user_id=principal.user_id,
                    day=day,
                    timestamp=at,
                )
            trail.trigger_event(
                event_class,
                actor=principal.user_id,
                actor_kind=principal.kind,
                timestamp=at,
                **fields,
            )
            try:
                self.save(trail)
            except IntegrityError:
                continue
            return
        raise VersionClashError(
            "VERSION_CLASH", f"could not append to the audit trail of {trail_id}"
        )

"""Single sign-on: OIDC/JWT bearer tokens verified against the identity
provider's JWKS (PyJWT).

With `QUIRE_OIDC_ISSUER` set, a bearer token that looks like a JWT (three
dot-separated parts; Quire's own tokens are `qt_...` and have none) is
verified here: its signature against the provider's published keys, then its
issuer, audience and expiry. The claim `QUIRE_OIDC_USER_CLAIM` (default
`preferred_username`) names an existing Quire user, whose roles apply. Quire's
own tokens keep working, for service accounts above all; a provider's token
never stands for a service account (agents are not people).

Only asymmetric algorithms are accepted: `none` and HMAC (whose "secret"
would be the provider's public key) are refused before any key is looked at.
The JWKS is fetched once and cached for an hour; a token naming an unknown
`kid` (the provider rotated its keys) refetches it, at most once a minute, so
a flood of made-up `kid`s cannot turn Quire into a client hammering the
provider.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

import jwt

from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.config import Settings
from workspace.errors import AuthenticationError, InvalidInputError, NotFoundError

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"}
)
JWKS_MAX_AGE_SECONDS = 3600.0
#: At most one JWKS fetch per this many seconds, whatever the tokens say.
JWKS_REFRESH_SECONDS = 60.0
JWKS_TIMEOUT_SECONDS = 5.0
JWKS_MAX_BYTES = 1024 * 1024
#: Clock skew allowed on exp / nbf / iat.
LEEWAY_SECONDS = 30


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith("qt_")


def _refuse(code: str, message: str) -> AuthenticationError:
    return AuthenticationError(code, message)


@dataclass(frozen=True)
class _Key:
    jwk: jwt.PyJWK
    declared_alg: str | None


class Jwks:
    """The provider's signing keys by `kid`, fetched over HTTP and cached."""

    def __init__(
        self,
        url: str,
        *,
        max_age: float = JWKS_MAX_AGE_SECONDS,
        refresh_after: float = JWKS_REFRESH_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.max_age = max_age
        self.refresh_after = refresh_after
        self.clock = clock
        self.fetches = 0
        self._keys: dict[str | None, _Key] = {}
        self._fetched_at: float | None = None
        self._tried_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str | None) -> _Key:
        with self._lock:
            now = self.clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self.max_age
            may_try = (
                self._tried_at is None or now - self._tried_at >= self.refresh_after
            )
            if (stale or kid not in self._keys) and may_try:
                self._fetch(now)
            if kid not in self._keys:
                if not self._keys:
                    raise _refuse(
                        "OIDC_JWKS_UNAVAILABLE",
                        "the identity provider's keys are unavailable",
                    )
                raise _refuse("OIDC_KEY_UNKNOWN", f"no provider key with kid {kid!r}")
            return self._keys[kid]

    def _fetch(self, now: float) -> None:
        self._tried_at = now
        self.fetches += 1
        try:
            request = urllib.request.Request(
                self.url, headers={"Accept": "application/json"}
            )
            with urllib.request.urlopen(
                request, timeout=JWKS_TIMEOUT_SECONDS
            ) as answer:
                body = answer.read(JWKS_MAX_BYTES + 1)
            if len(body) > JWKS_MAX_BYTES:
                raise ValueError("the JWKS is over 1 MiB")
            document = json.loads(body)
            entries = document["keys"]
            if not isinstance(entries, list):
                raise ValueError("'keys' is not a list")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Keep the keys we had: a provider outage must not log everyone out.
            log.warning("JWKS fetch from %s failed: %s", self.url, exc)
            return
        keys: dict[str | None, _Key] = {}
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
                continue
            try:
                key = _Key(jwt.PyJWK(entry), entry.get("alg"))
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                continue  # a key type we do not use
            keys[entry.get("kid")] = key
        if len(keys) == 1:  # a lone key also serves tokens that name no kid
            keys.setdefault(None, next(iter(keys.values())))
        self._keys = keys
        self._fetched_at = now


class OidcVerifier:
    """Turns a provider's JWT into the id of the Quire user it names."""

    def __init__(
        self, *, issuer: str, audience: str, jwks: Jwks, user_claim: str
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks = jwks
        self.user_claim = user_claim

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcVerifier:
        missing = [
            name
            for name, value in (
                ("QUIRE_OIDC_AUDIENCE", settings.oidc_audience),
                ("QUIRE_OIDC_JWKS_URL", settings.oidc_jwks_url),
                ("QUIRE_OIDC_USER_CLAIM", settings.oidc_user_claim),
            )
            if not value
        ]
        if missing:
            raise InvalidInputError(
                "OIDC_SETTINGS_INCOMPLETE",
                f"QUIRE_OIDC_ISSUER is set but {', '.join(missing)} is not",
            )
        url = urlparse(settings.oidc_jwks_url)
        loopback = url.hostname in ("127.0.0.1", "::1", "localhost")
        if url.scheme != "https" and not (url.scheme == "http" and loopback):
            raise InvalidInputError(
                "OIDC_SETTINGS_INCOMPLETE",
                "QUIRE_OIDC_JWKS_URL must be https:// (http:// only on loopback)",
            )
        return cls(
            issuer=settings.oidc_issuer,
            audience=settings.oidc_audience,
            jwks=Jwks(settings.oidc_jwks_url),
            user_claim=settings.oidc_user_claim,
        )

    def user_id(self, token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise _refuse("OIDC_TOKEN_MALFORMED", "not a well-formed JWT") from None
        alg = header.get("alg")
        if alg not in ALLOWED_ALGORITHMS:
            raise _refuse(
                "OIDC_ALGORITHM_REFUSED", f"algorithm {alg!r} is not accepted"
            )
        kid = header.get("kid")
        key = self.jwks.key(kid if isinstance(kid, str) else None)
        if key.declared_alg not in (None, alg):
            raise _refuse("OIDC_ALGORITHM_REFUSED", f"key {kid!r} is not for {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key.jwk.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise _refuse("OIDC_TOKEN_EXPIRED", "the token has expired") from None
        except jwt.InvalidAudienceError:
            raise _refuse(
                "OIDC_AUDIENCE_INVALID", "the token is not for Quire"
            ) from None
        except jwt.InvalidIssuerError:
            raise _refuse(
                "OIDC_ISSUER_INVALID", "the token's issuer is not trusted"
            ) from None
        except jwt.InvalidSignatureError:
            raise _refuse(
                "OIDC_SIGNATURE_INVALID", "the signature does not verify"
            ) from None
        except jwt.MissingRequiredClaimError as exc:
            raise _refuse(
                "OIDC_CLAIM_MISSING", f"the token has no {exc.claim!r}"
            ) from None
        except jwt.InvalidTokenError as exc:
            raise _refuse("OIDC_TOKEN_INVALID", str(exc) or "invalid token") from None
        user_id = claims.get(self.user_claim)
        if not isinstance(user_id, str) or not user_id:
            raise _refuse("OIDC_CLAIM_MISSING", f"the token has no {self.user_claim!r}")
        return user_id


def principal_for(app: Workspace, verifier: OidcVerifier, token: str) -> Principal:
    user_id = verifier.user_id(token)
    try:
        principal = app.get_user(user_id).principal()
    except (NotFoundError, InvalidInputError):
        raise _refuse("OIDC_USER_UNKNOWN", f"no Quire user {user_id!r}") from None
    if principal.is_agent:
        raise _refuse(
            "OIDC_SERVICE_ACCOUNT", "service accounts sign in with Quire's own tokens"
        )
    return principal


def install(app: Workspace, settings: Settings) -> None:
    """With OIDC configured, `app.authenticate` (the one place every HTTP
    request and websocket is authenticated) also accepts provider JWTs;
    every other token goes on to the workspace's own check."""
    if not settings.oidc_issuer:
        return
    verifier = OidcVerifier.from_settings(settings)
    own = app.authenticate

    def authenticate(token: str | None) -> Principal:
        if token and looks_like_jwt(token):
            return principal_for(app, verifier, token)
        return own(token)

    app.authenticate = authenticate  # type: ignore[method-assign]

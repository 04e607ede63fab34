"""Single sign-on: provider JWTs verified against a JWKS that this test serves
itself (a real HTTP server in a thread, RSA keys made here), through the whole
app: HTTP requests and the live websocket."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from api.main import create_app
from api.oidc import Jwks, OidcVerifier
from api.services import Services, build_services
from workspace.config import Settings
from workspace.errors import AuthenticationError, InvalidInputError

ISSUER = "https://idp.example.test/realms/quire"
AUDIENCE = "quire"


@dataclass
class Provider:
    """A JWKS endpoint on 127.0.0.1 and the keys behind it."""

    url: str
    keys: dict[str, rsa.RSAPrivateKey]
    published: list[str] = field(default_factory=list)
    hits: int = 0

    def jwks(self) -> dict[str, Any]:
        entries = []
        for kid in self.published:
            entry = json.loads(
                jwt.algorithms.RSAAlgorithm.to_jwk(self.keys[kid].public_key())
            )
            entries.append({**entry, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": entries}

    def token(
        self,
        sub: str = "maya",
        *,
        kid: str = "k1",
        signer: str | None = None,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + 300,
            "preferred_username": sub,
            **claims,
        }
        payload = {k: v for k, v in payload.items() if v is not None}
        key = self.keys[signer or kid]
        return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    keys = {
        kid: rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for kid in ("k1", "k2", "rogue")
    }
    state = Provider(url="", keys=keys, published=["k1"])

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.hits += 1
            body = json.dumps(state.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/certs"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@dataclass
class Sso:
    client: TestClient
    services: Services
    quire_tokens: dict[str, str]

    def get(self, token: str, path: str = "/v1/packets") -> Any:
        return self.client.get(path, headers={"Authorization": f"Bearer {token}"})

    def stored(self) -> int:
        return int(self.services.app.recorder.max_notification_id() or 0)


def oidc_settings(tmp: Path, provider: Provider, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp / 'quire.db'}",
        "signing_key_path": tmp / "signing-key.pem",
        "oidc_issuer": ISSUER,
        "oidc_audience": AUDIENCE,
        "oidc_jwks_url": provider.url,
        **overrides,
    }
    return Settings(**values)


@pytest.fixture(scope="module")
def sso(provider: Provider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sso]:
    settings = oidc_settings(tmp_path_factory.mktemp("oidc"), provider)
    services = build_services(settings, create_table=True, role="serve")
    tokens = {
        "maya": services.app.add_user("maya", "Maya Chen", roles=[]),
        "bot": services.app.add_user("bot", "Reconciler", roles=["agent"]),
    }
    try:
        with TestClient(create_app(settings, services)) as client:
            yield Sso(client, services, tokens)
    finally:
        services.close()


def test_a_provider_token_signs_maya_in(sso: Sso, provider: Provider) -> None:
    token = provider.token("maya")
    listed = sso.get(token)
    assert listed.status_code == 200, listed.text
    created = sso.client.post(
        "/v1/packets",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "kind": "service-credit-clarification",
            "title": "Signed in with the provider",
            "release_owner": "maya",
            "authors": [],
            "reviewers": [],
        },
    )
    assert created.status_code == 201, created.text
    packet = sso.get(token, f"/v1/packets/{created.json()['id']}").json()
    assert packet["release_owner"] == "maya"


def test_quire_tokens_keep_working_for_service_accounts(sso: Sso) -> None:
    assert sso.get(sso.quire_tokens["bot"]).status_code == 200
    assert sso.get(sso.quire_tokens["maya"]).status_code == 200


def _none_token(provider: Provider) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "exp": now + 300}
    return jwt.encode({**claims, "preferred_username": "maya"}, None, algorithm="none")


def _hs256_with_the_public_key(provider: Provider) -> str:
    """Key confusion: HMAC keyed with the provider's (public) RSA key."""
    now = int(time.time())
    public = (
        provider.keys["k1"]
        .public_key()
        .public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    header = {"alg": "HS256", "typ": "JWT", "kid": "k1"}
    signing = (
        jwt.utils.base64url_encode(json.dumps(header).encode())
        + b"."
        + (
            jwt.utils.base64url_encode(
                json.dumps(
                    {
                        "iss": ISSUER,
                        "aud": AUDIENCE,
                        "exp": now + 300,
                        "preferred_username": "maya",
                    }
                ).encode()
            )
        )
    )
    mac = hmac.new(public, signing, hashlib.sha256).digest()
    return (signing + b"." + jwt.utils.base64url_encode(mac)).decode()


REFUSALS: dict[str, tuple[Callable[[Provider], str], str]] = {
    "wrong issuer": (
        lambda p: p.token(iss="https://evil.example.test"),
        "OIDC_ISSUER_INVALID",
    ),
    "wrong audience": (lambda p: p.token(aud="another-app"), "OIDC_AUDIENCE_INVALID"),
    "expired": (
        lambda p: p.token(exp=int(time.time()) - 120, iat=int(time.time()) - 900),
        "OIDC_TOKEN_EXPIRED",
    ),
    "no expiry": (lambda p: p.token(exp=None), "OIDC_CLAIM_MISSING"),
    "signed by another key under k1's kid": (
        lambda p: p.token(kid="k1", signer="rogue"),
        "OIDC_SIGNATURE_INVALID",
    ),
    "tampered payload": (
        lambda p: _swap_payload(p.token("maya"), p.token("bot")),
        "OIDC_SIGNATURE_INVALID",
    ),
    "unknown user": (lambda p: p.token("nobody.here"), "OIDC_USER_UNKNOWN"),
    "a service account": (lambda p: p.token("bot"), "OIDC_SERVICE_ACCOUNT"),
    "no user claim": (lambda p: p.token(preferred_username=None), "OIDC_CLAIM_MISSING"),
    "alg none": (_none_token, "OIDC_ALGORITHM_REFUSED"),
    "HS256 keyed with the public key": (
        _hs256_with_the_public_key,
        "OIDC_ALGORITHM_REFUSED",
    ),
    "an unpublished kid": (lambda p: p.token(kid="rogue"), "OIDC_KEY_UNKNOWN"),
    "garbage": (lambda p: "not.a.jwt", "OIDC_TOKEN_MALFORMED"),
}


def _swap_payload(token: str, other: str) -> str:
    head, _, sig = token.split(".")
    return ".".join([head, other.split(".")[1], sig])


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_bad_provider_token_is_refused_with_401_and_a_stable_code(
    sso: Sso, provider: Provider, case: str
) -> None:
    make, code = REFUSALS[case]
    before = sso.stored()
    response = sso.get(make(provider))
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["www-authenticate"] == "Bearer"
    refused = sso.client.post(
        "/v1/packets",
        headers={"Authorization": f"Bearer {make(provider)}"},
        json={
            "kind": "k",
            "title": "t",
            "release_owner": "maya",
            "authors": [],
            "reviewers": [],
        },
    )
    assert refused.status_code == 401
    assert sso.stored() == before  # nothing written


def test_the_live_channel_takes_provider_tokens_too(
    sso: Sso, provider: Provider
) -> None:
    token = provider.token("maya")
    packet = sso.client.post(
        "/v1/packets",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "kind": "service-credit-clarification",
            "title": "Live",
            "release_owner": "maya",
            "authors": [],
            "reviewers": [],
        },
    ).json()
    with sso.client.websocket_connect(
        f"/v1/packets/{packet['id']}/live?token={token}"
    ) as ws:
        assert ws.receive_json()["type"] == "subscribed"
    expired = provider.token(exp=int(time.time()) - 120, iat=int(time.time()) - 900)
    with sso.client.websocket_connect(
        f"/v1/packets/{packet['id']}/live?token={expired}"
    ) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert (error["type"], error["code"]) == ("error", "OIDC_TOKEN_EXPIRED")
    assert closed.value.code == 4401


def test_without_oidc_settings_a_jwt_is_just_an_unknown_token(
    provider: Provider, tmp_path: Path
) -> None:
    settings = oidc_settings(tmp_path, provider, oidc_issuer="")
    services = build_services(settings, create_table=True)
    try:
        with pytest.raises(AuthenticationError) as refused:
            services.app.authenticate(provider.token("maya"))
        assert refused.value.code == "TOKEN_INVALID"
    finally:
        services.close()


@pytest.mark.parametrize(
    ("overrides", "names"),
    [
        ({"oidc_audience": ""}, "QUIRE_OIDC_AUDIENCE"),
        ({"oidc_jwks_url": ""}, "QUIRE_OIDC_JWKS_URL"),
        ({"oidc_jwks_url": "http://idp.example.test/certs"}, "https://"),
    ],
)
def test_incomplete_oidc_settings_stop_the_start(
    provider: Provider, tmp_path: Path, overrides: dict[str, str], names: str
) -> None:
    settings = oidc_settings(tmp_path, provider, **overrides)
    with pytest.raises(InvalidInputError) as stopped:
        OidcVerifier.from_settings(settings)
    assert stopped.value.code == "OIDC_SETTINGS_INCOMPLETE"
    assert names in stopped.value.message


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_jwks_is_cached_and_refreshed_on_an_unknown_kid_at_most_once_a_minute(
    provider: Provider,
) -> None:
    clock = Clock()
    jwks = Jwks(provider.url, refresh_after=60, clock=clock)
    verifier = OidcVerifier(
        issuer=ISSUER, audience=AUDIENCE, jwks=jwks, user_claim="preferred_username"
    )
    provider.published = ["k1"]
    hits = provider.hits
    for _ in range(5):
        assert verifier.user_id(provider.token("maya")) == "maya"
    assert provider.hits - hits == 1  # fetched once, then cached

    provider.published = ["k1", "k2"]  # the provider rotates in a new key
    clock.now += 5
    # A flood of made-up kids within the minute: no fetch at all.
    for i in range(20):
        with pytest.raises(AuthenticationError) as refused:
            verifier.user_id(_with_kid(provider, f"made-up-{i}"))
        assert refused.value.code == "OIDC_KEY_UNKNOWN"
    assert provider.hits - hits == 1
    clock.now += 60
    # The new key's first token refetches once; the flood before it did not.
    assert verifier.user_id(provider.token("maya", kid="k2")) == "maya"
    assert provider.hits - hits == 2
    for i in range(20):
        with pytest.raises(AuthenticationError):
            verifier.user_id(_with_kid(provider, f"again-{i}"))
    assert provider.hits - hits == 2
    provider.published = ["k1"]


def _with_kid(provider: Provider, kid: str) -> str:
    """A token signed by k1 but naming `kid`."""
    return jwt.encode(
        {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "exp": int(time.time()) + 60,
            "preferred_username": "maya",
        },
        provider.keys["k1"],
        algorithm="RS256",
        headers={"kid": kid},
    )

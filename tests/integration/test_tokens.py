"""Bearer tokens expire and can be revoked (issue 9, item 14).

Attacks: a token leaked long ago still works; a token of someone who left (or
whose token leaked) cannot be withdrawn.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from release.sweeper import ManualClock
from tests.conftest import database_url_for, drop_pg_schema
from workspace.application import Workspace
from workspace.config import Settings
from workspace.errors import AuthenticationError, NotAllowedError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 3, 1, 12, 0, tzinfo=UTC))


@pytest.fixture
def workspace(settings: Settings, clock: ManualClock) -> Iterator[Workspace]:
    app = Workspace({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    yield app
    app.close()


def refused_code(app: Workspace, token: str) -> str:
    with pytest.raises(AuthenticationError) as refused:
        app.authenticate(token)
    return refused.value.code


def test_a_token_expires_after_the_default_ninety_days(
    workspace: Workspace, clock: ManualClock
) -> None:
    token = workspace.add_user("maya", "Maya Chen", roles=[])
    clock.advance(timedelta(days=90) - timedelta(seconds=1))
    assert workspace.authenticate(token).user_id == "maya"
    clock.advance(timedelta(seconds=1))
    assert refused_code(workspace, token) == "TOKEN_EXPIRED"
    fresh = workspace.issue_token("maya")  # a new token counts from its own issue
    assert workspace.authenticate(fresh).user_id == "maya"


def test_the_ttl_is_a_setting(settings: Settings, clock: ManualClock) -> None:
    short = settings.model_copy(update={"token_ttl_days": 2})
    app = Workspace({"CREATE_TABLE": "y"}, settings=short, clock=clock)
    try:
        token = app.add_user("maya", "Maya Chen", roles=[])
        clock.advance(timedelta(days=1))
        assert app.authenticate(token).user_id == "maya"
        clock.advance(timedelta(days=1))
        assert refused_code(app, token) == "TOKEN_EXPIRED"
    finally:
        app.close()


def test_the_ttl_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Settings(token_ttl_days=0)


def test_revoking_stops_every_token_the_user_held_but_not_later_ones(
    workspace: Workspace,
) -> None:
    first = workspace.add_user("maya", "Maya Chen", roles=[])
    second = workspace.issue_token("maya")
    other = workspace.add_user("ben", "Ben Ortiz", roles=[])
    workspace.add_user("root", "Root", roles=["admin"])
    admin = workspace.get_user("root").principal()
    with pytest.raises(NotAllowedError):
        workspace.revoke_tokens(workspace.get_user("ben").principal(), "maya")
    assert workspace.authenticate(first).user_id == "maya"

    assert workspace.revoke_tokens(admin, "maya") == 2

    assert refused_code(workspace, first) == "TOKEN_REVOKED"
    assert refused_code(workspace, second) == "TOKEN_REVOKED"
    assert workspace.authenticate(other).user_id == "ben"
    later = workspace.issue_token("maya")
    assert workspace.authenticate(later).user_id == "maya"


@pytest.fixture(params=["sqlite", "postgres"])
def cli_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    url, schema = database_url_for(str(request.param), tmp_path)
    yield {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")},
        "QUIRE_DATABASE_URL": url,
        "QUIRE_SIGNING_KEY_PATH": str(tmp_path / "key.pem"),
        "PYTHONPATH": str(ROOT),
    }
    if schema:
        drop_pg_schema(schema)


def quire(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_quire_users_revoke_tokens_revokes_them_as_a_real_process(
    cli_env: dict[str, str],
) -> None:
    assert quire(cli_env, "db", "init").returncode == 0
    added = quire(cli_env, "users", "add", "maya", "--name", "Maya Chen")
    token = added.stdout.strip().splitlines()[-1]
    again = quire(cli_env, "users", "token", "maya").stdout.strip().splitlines()[-1]

    revoked = quire(cli_env, "users", "revoke-tokens", "maya")

    assert revoked.returncode == 0, revoked.stderr
    assert "revoked 2 token(s) of maya" in revoked.stdout
    app = Workspace(settings=Settings(database_url=cli_env["QUIRE_DATABASE_URL"]))
    try:
        assert refused_code(app, token) == "TOKEN_REVOKED"
        assert refused_code(app, again) == "TOKEN_REVOKED"
    finally:
        app.close()
    unknown = quire(cli_env, "users", "revoke-tokens", "nobody")
    assert unknown.returncode != 0
    assert "USER_NOT_FOUND" in unknown.stderr

"""The `quire` command line on SQLite and PostgreSQL, as real processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import database_url_for, drop_pg_schema

QUIRE = [sys.executable, "-m", "api.cli"]
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def cli_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    url, schema = database_url_for(str(request.param), tmp_path)
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": url,
        "QUIRE_SIGNING_KEY_PATH": str(tmp_path / "key.pem"),
        "PYTHONPATH": str(ROOT),
    }
    yield env
    if schema:
        drop_pg_schema(schema)


def quire(
    env: dict[str, str], *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*QUIRE, *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_users_add_prints_a_token_that_authenticates_against_serve(
    cli_env: dict[str, str],
) -> None:
    assert quire(cli_env, "db", "init").returncode == 0
    added = quire(
        cli_env,
        "users",
        "add",
        "maya.chen",
        "--name",
        "Maya Chen",
        "--passphrase-stdin",
        stdin="correct horse\n",
    )
    assert added.returncode == 0, added.stderr
    token = added.stdout.strip().splitlines()[-1]
    assert token.startswith("qt_")

    again = quire(cli_env, "users", "add", "maya.chen", "--name", "Maya")
    assert again.returncode == 2
    assert "USER_EXISTS" in again.stderr

    port = free_port()
    server = subprocess.Popen(
        [*QUIRE, "serve", "--port", str(port)],
        env=cli_env,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Wait on uvicorn's own acknowledgement rather than sleeping.
        assert server.stderr is not None
        for line in server.stderr:
            if "Uvicorn running on" in line:  # the socket listens
                break
        else:
            pytest.fail("quire serve exited before starting")
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"{base}/readyz").status_code == 200
        listed = httpx.get(
            f"{base}/v1/packets", headers={"Authorization": f"Bearer {token}"}
        )
        assert listed.status_code == 200
        assert listed.json()["items"] == []
        refused = httpx.get(f"{base}/v1/packets", headers={"Authorization": "Bearer x"})
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "TOKEN_INVALID"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_command_before_db_init_says_so_clearly(tmp_path: Path) -> None:
    # PostgreSQL only: serving processes never create tables there.
    url, schema = database_url_for("postgres", tmp_path)
    env = {**os.environ, "QUIRE_DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    try:
        result = quire(env, "users", "add", "ben", "--name", "Ben")
    finally:
        drop_pg_schema(schema or "")
    assert result.returncode == 2
    assert "SCHEMA_MISSING" in result.stderr
    assert "Traceback" not in result.stderr


def test_agents_cannot_be_given_a_signing_passphrase(cli_env: dict[str, str]) -> None:
    assert quire(cli_env, "db", "init").returncode == 0
    result = quire(
        cli_env,
        "users",
        "add",
        "bot",
        "--name",
        "Bot",
        "--agent",
        "--passphrase-stdin",
        stdin="pw\n",
    )
    assert result.returncode == 2
    assert "AGENT_NOT_ALLOWED" in result.stderr

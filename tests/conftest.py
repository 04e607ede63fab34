"""Shared fixtures: the same suites run on memory, SQLite and PostgreSQL.

PostgreSQL tests skip when no server answers, and fail when CI=true.
Each PostgreSQL test gets a schema of its own, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from workspace.application import Workspace
from workspace.config import Settings

PG_URL = os.environ.get(
    "QUIRE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["memory", "sqlite", "postgres"]


def postgres_available() -> bool:
    try:
        with psycopg.connect(PG_URL.split("?")[0], connect_timeout=3):
            return True
    except psycopg.Error:
        return False


def require_postgres() -> None:
    if postgres_available():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"CI=true but PostgreSQL is not reachable at {PG_URL}")
    pytest.skip(f"no PostgreSQL server at {PG_URL}")


def new_pg_schema() -> str:
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return schema


def drop_pg_schema(schema: str) -> None:
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def database_url_for(backend: str, tmp_path: Path) -> tuple[str, str | None]:
    if backend == "memory":
        return "memory://", None
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'quire.db'}", None
    require_postgres()
    schema = new_pg_schema()
    return f"{PG_URL}?schema={schema}", schema


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url, schema = database_url_for(backend, tmp_path)
    yield url
    if schema:
        drop_pg_schema(schema)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        signing_key_path=tmp_path / "signing-key.pem",
        snapshot_interval=5,
        pool_size=3,
    )


@pytest.fixture
def app(settings: Settings) -> Iterator[Workspace]:
    application = Workspace({"CREATE_TABLE": "y"}, settings=settings)
    yield application
    application.close()

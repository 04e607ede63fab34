"""Settings, read once from the environment (and a `.env` file).

One setting, `QUIRE_DATABASE_URL`, chooses the persistence: an SQLite file (the
embedded default, no server) or PostgreSQL through psycopg. The eventsourcing
library is configured from a plain dict built here, never from leaked globals.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from workspace.errors import InvalidInputError

DEFAULT_SQLITE_URL = "sqlite:///quire.db"


class Settings(BaseSettings):
    """Every Quire setting; the README's settings table documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="QUIRE_", env_file=".env", extra="ignore"
    )

    database_url: str = DEFAULT_SQLITE_URL
    signing_key_path: Path = Path("quire-signing-key.pem")
    section_max_bytes: int = 1024 * 1024
    max_ops_per_edit: int = 1000
    snapshot_interval: int = 100
    pool_size: int = 5
    checkpoint_interval_seconds: float = 5.0
    sweep_interval_seconds: float = 30.0
    request_max_bytes: int = 2 * 1024 * 1024
    ws_max_messages_per_second: float = 50.0
    #: Bearer tokens stop working this many days after they were issued.
    token_ttl_days: int = Field(default=90, gt=0)
    # Single sign-on (api/oidc.py): off while the issuer is empty.
    oidc_issuer: str = ""
    oidc_audience: str = ""
    oidc_jwks_url: str = ""
    oidc_user_claim: str = "preferred_username"
    calc_max_windows: int = 50_000
    #: Bytes one save's events may hold, encoded as stored (413 SAVE_TOO_LARGE).
    save_max_bytes: int = 4 * 1024 * 1024
    #: PostgreSQL: a statement running longer is cancelled (holds no lock long).
    db_statement_timeout_seconds: float = 10.0
    #: PostgreSQL: waiting longer for the event table's lock fails the save.
    db_lock_timeout_seconds: int = 5
    #: PostgreSQL: seconds to connect, or to wait for a pooled connection.
    db_connect_timeout_seconds: int = 3
    #: Failed attempts on one event before a projection records it as poison.
    projection_poison_attempts: int = 3
    #: `json`: every log line one JSON object (deploy/); `text` for a terminal.
    log_format: Literal["text", "json"] = "text"
    #: On SIGTERM, `quire serve` drains live edits and closes sockets within this.
    shutdown_grace_seconds: float = Field(default=10.0, gt=0)
    # Watched sources (release/connectors, release/watcher.py, issue 16).
    #: Hosts an https:// source may name, comma-separated (".example.com"
    #: allows its subdomains); empty: no https source may be watched.
    source_hosts: str = ""
    #: Directories a file:// source may lie under, separated by os.pathsep.
    source_file_roots: str = ""
    #: Tests only: also allow http:// and https:// on 127.0.0.1 / localhost.
    source_allow_loopback: bool = False
    source_fetch_timeout_seconds: float = 10.0
    source_max_bytes: int = 10 * 1024 * 1024
    #: How often the watcher looks for newly watched sources.
    watch_scan_seconds: float = 5.0
    # Lane webhooks (release/webhooks.py, release/webhook_sender.py).
    #: Encrypts webhook secrets at rest; the same on every process. Empty:
    #: webhooks cannot be registered.
    webhook_secret_key: str = ""
    #: Seconds one delivery attempt may take before it counts as failed.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Retry delays: base x 2^(attempt-1), with jitter, never over the cap.
    webhook_backoff_base_seconds: float = Field(default=1.0, gt=0)
    webhook_backoff_cap_seconds: float = Field(default=300.0, gt=0)
    #: How often the sender looks for new deliveries when idle.
    webhook_poll_seconds: float = Field(default=1.0, gt=0)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def persistence_env(
    database_url: str, *, create_table: bool, settings: Settings | None = None
) -> dict[str, str]:
    """Translates a database URL into the eventsourcing library's environment.

    `create_table` is False in serving processes: the schema is created once by
    `quire db init`, so concurrent servers never race to create it. On
    PostgreSQL the timeouts come from `settings` (the defaults otherwise): the
    library's pool waits `POSTGRES_CONNECT_TIMEOUT` seconds for a connection
    and a save waits `POSTGRES_LOCK_TIMEOUT` seconds for the table lock; the
    statement timeout is set on each connection (see `postgres_options`).
    """
    settings = settings or get_settings()
    parsed = urlparse(database_url)
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    if parsed.scheme == "sqlite":
        # sqlite:///relative.db or sqlite:////absolute/path.db or sqlite:///:memory:
        path = database_url[len("sqlite:///") :].split("?")[0]
        if not path:
            raise InvalidInputError(
                "DATABASE_URL_INVALID", "an SQLite URL needs a file path"
            )
        if path == ":memory:":
            env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
            return env
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        env.update(
            PERSISTENCE_MODULE="eventsourcing.sqlite",
            SQLITE_DBNAME=path,
            SQLITE_LOCK_TIMEOUT="10",
        )
        return env
    if parsed.scheme in ("postgresql", "postgres", "postgresql+psycopg"):
        env.update(
            PERSISTENCE_MODULE="eventsourcing.postgres",
            POSTGRES_DBNAME=(parsed.path or "/").lstrip("/") or "postgres",
            POSTGRES_HOST=parsed.hostname or "127.0.0.1",
            POSTGRES_PORT=str(parsed.port or 5432),
            POSTGRES_USER=unquote(parsed.username or "postgres"),
            POSTGRES_PASSWORD=unquote(parsed.password or ""),
            POSTGRES_CONNECT_TIMEOUT=str(max(1, settings.db_connect_timeout_seconds)),
            POSTGRES_LOCK_TIMEOUT=str(max(1, settings.db_lock_timeout_seconds)),
            POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT="5",
        )
        schema = parse_qs(parsed.query).get("schema", [""])[0]
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        return env
    if parsed.scheme == "memory":
        env["PERSISTENCE_MODULE"] = "eventsourcing.popo"
        return env
    raise InvalidInputError(
        "DATABASE_URL_INVALID",
        f"QUIRE_DATABASE_URL must start with sqlite:///, postgresql:// or "
        f"memory://, not {parsed.scheme or database_url!r}",
    )


def postgres_options(settings: Settings) -> str:
    """libpq `options` for every Quire connection: no statement (the event
    table's locked insert included) runs longer than the statement timeout."""
    millis = max(1, int(settings.db_statement_timeout_seconds * 1000))
    return f"-c statement_timeout={millis}"


def postgres_conninfo(
    database_url: str, settings: Settings | None = None
) -> dict[str, str]:
    """psycopg connection keywords for a postgresql:// URL (search_path set to
    the URL's `?schema=` when given, so read models live beside the events)."""
    settings = settings or get_settings()
    env = persistence_env(database_url, create_table=False, settings=settings)
    info = {
        "dbname": env["POSTGRES_DBNAME"],
        "host": env["POSTGRES_HOST"],
        "port": env["POSTGRES_PORT"],
        "user": env["POSTGRES_USER"],
        "password": env["POSTGRES_PASSWORD"],
        "connect_timeout": str(max(1, settings.db_connect_timeout_seconds)),
        "options": postgres_options(settings),
    }
    if env.get("POSTGRES_SCHEMA"):
        info["options"] += f" -c search_path={env['POSTGRES_SCHEMA']}"
    return info


def backend_of(database_url: str) -> str:
    """'sqlite', 'postgres' or 'memory'."""
    module = persistence_env(database_url, create_table=False)["PERSISTENCE_MODULE"]
    return {
        "eventsourcing.sqlite": "sqlite",
        "eventsourcing.postgres": "postgres",
        "eventsourcing.popo": "memory",
    }[module]

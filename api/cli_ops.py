"""Operations: `quire db init|migrate`, the schema check of serving processes,
and `quire serve`'s graceful shutdown (docs/operations.md).

Registered on the main `quire` app by api/cli.py (`register`).
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

import typer
import uvicorn

from api import cli_projections, logging_config
from api.cli_errors import cli_errors, cli_services
from api.live.hub import hub_of
from api.services import build_services
from projections import migrations
from projections.store import Tx, read_models_for
from release.watcher import ensure_service_account
from workspace.config import Settings, backend_of, get_settings


def register(db_app: typer.Typer) -> None:
    db_app.command("init")(db_init)
    db_app.command("migrate")(db_migrate)


def init_database() -> None:
    """Creates every table once: the event store, then each layer's schema,
    then the version rows (`projections.migrations`)."""
    probe = build_services()
    try:
        present = migrations.present_components(read_models_for(probe))
    finally:
        probe.close()
    services = build_services(create_table=True)
    try:
        # The event store exists now; then the read models and the signing key.
        cli_projections.init_read_models(services)
        ensure_service_account(services.app)  # source-watcher
        migrations.record_versions(read_models_for(services), present)
    finally:
        services.close()


def db_init(
    migrate: bool = typer.Option(
        False, "--migrate", help="then apply pending migrations (upgrades)"
    ),
) -> None:
    """Creates the schema (once per database); `quire db migrate` updates it."""
    settings = get_settings()
    with cli_errors():
        init_database()
    typer.echo(f"schema ready on {backend_of(settings.database_url)}")
    if migrate:
        db_migrate()


def db_migrate(
    wait: float = typer.Option(
        30.0, "--wait", help="seconds to wait for a running worker's batch"
    ),
) -> None:
    """Applies pending schema migrations in order (idempotent)."""
    settings = get_settings()
    with cli_services(settings) as services:
        store = read_models_for(services)

        def rebuild(
            names: Sequence[str],
            before: Callable[[Tx], None],
            after: Callable[[Tx], None],
        ) -> None:
            cli_projections.replay(store, names, wait=wait, before=before, after=after)

        done = migrations.migrate(store, rebuild)
    for line in done:
        typer.echo(f"migrated {line}")
    typer.echo("schema up to date" if done else "schema up to date; nothing to migrate")


def require_current_schema(settings: Settings) -> None:
    """Serving processes: exit 2 unless the database is at the code's
    versions (`SCHEMA_BEHIND`: run `quire db migrate`; `SCHEMA_AHEAD`)."""
    with cli_services(settings) as services:
        migrations.check_current(read_models_for(services))


# ------------------------------------------------------------ serving
class GracefulServer(uvicorn.Server):
    """On SIGTERM: stop accepting, drain the live sockets (their edits
    answered, then closed with 1012), then uvicorn's own shutdown (in-flight
    HTTP requests finish, bounded), then the lifespan (services closed)."""

    def __init__(self, config: uvicorn.Config, grace_seconds: float) -> None:
        super().__init__(config)
        self.grace_seconds = grace_seconds

    async def shutdown(self, sockets: list[Any] | None = None) -> None:
        for server in self.servers:
            server.close()  # no new connections while the sockets drain
        app: Any = self.config.app
        services = getattr(getattr(app, "state", None), "services", None)
        hub = hub_of(services) if services is not None else None
        if hub is not None:
            await hub.drain(self.grace_seconds)
        await super().shutdown(sockets)


def run_server(web: Any, host: str, port: int, settings: Settings) -> None:
    """Serves until SIGTERM or SIGINT; a SIGTERM ends with exit status 0."""
    config = uvicorn.Config(
        web,
        host=host,
        port=port,
        log_level="info",
        # Uvicorn's logging, with bearer tokens redacted from every line and
        # the request id on each (JSON with QUIRE_LOG_FORMAT=json).
        log_config=logging_config.uvicorn_log_config(settings.log_format),
        # Past request_max_bytes a live message is answered `error TOO_LARGE`
        # and the socket stays open (api.live.session); only past this hard
        # bound does the protocol itself close the socket (1009).
        ws_max_size=4 * settings.request_max_bytes,
        # Live messages are small JSON: compressing each costs more CPU than
        # it saves, once per socket per event.
        ws_per_message_deflate=False,
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_seconds)),
    )

    def _stopped(signum: int, frame: FrameType | None) -> None:
        """Uvicorn raises the signal again once it has shut down: by then
        everything is drained and closed, so the process exits 0."""

    # Uvicorn restores this handler after serving, then re-raises SIGTERM.
    signal.signal(signal.SIGTERM, _stopped)
    GracefulServer(config, settings.shutdown_grace_seconds).run()

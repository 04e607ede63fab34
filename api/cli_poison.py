"""`quire projections poisoned` and `quire projections retry`.

Poison events are events a projection could not apply after several attempts
(projections/poison.py). `poisoned` lists them; `retry` marks them to be
re-applied, and re-applies them itself when no worker holds the projections
(otherwise the running driver does, within about a second).
"""

from __future__ import annotations

import json
import time
from typing import Annotated

import typer

from api.cli_errors import cli_errors
from api.cli_projections import OnlyProjections, WaitForWorker, require_known
from api.services import build_services
from projections import poison
from projections.driver import Driver
from projections.runner import all_projections, create_read_models
from projections.store import read_models_for
from workspace.config import get_settings


def register_poison(projections_app: typer.Typer) -> None:
    projections_app.command("poisoned")(poisoned)
    projections_app.command("retry")(retry)


def poisoned(
    as_json: Annotated[bool, typer.Option("--json", help="one JSON document")] = False,
) -> None:
    """Lists the events projections could not apply (exit 1 when any)."""
    services = build_services(get_settings())
    with cli_errors():
        try:
            store = read_models_for(services)
            create_read_models(store)
            rows = poison.listed(store)
        finally:
            services.close()
    if as_json:
        typer.echo(json.dumps(rows, indent=2, sort_keys=True))
    elif not rows:
        typer.echo("no poison events")
    for row in [] if as_json else rows:
        typer.echo(
            f"{row['projection']} #{row['notification_id']} {row['topic']} "
            f"({row['originator_id']} v{row['originator_version']}): "
            f"{row['attempts']} attempts, {row['first_seen']} .. {row['last_seen']}, "
            f"{'skipped' if row['skipped'] else 'retrying'}"
            f"{', retry requested' if row['retry'] else ''}: {row['error']}"
        )
    if rows:
        raise typer.Exit(1)


def retry(only: OnlyProjections = None, wait: WaitForWorker = 30.0) -> None:
    """Re-applies poison events (after the cause is fixed); exit 1 if any fail."""
    settings = get_settings()
    services = build_services(settings)
    with cli_errors():
        try:
            store = read_models_for(services)
            create_read_models(store)
            projections = all_projections(settings)
            require_known({p.name for p in projections}, only)
            marked = poison.request_retry(store, only)
            if not marked:
                typer.echo("no poison events")
                return
            driver = Driver(store, projections)
            session = store.session()
            try:
                if driver.acquire(session, wait=False):
                    driver.retry_poisoned(session)
                else:
                    # A running driver takes them within about a second.
                    deadline = time.monotonic() + wait
                    while time.monotonic() < deadline and any(
                        row["retry"] for row in poison.listed(store)
                    ):
                        time.sleep(0.2)
            finally:
                session.close()
            left = {
                (row["projection"], row["notification_id"])
                for row in poison.listed(store)
            }
        finally:
            services.close()
    again = [m for m in marked if m in left]
    typer.echo(f"re-applied {len(marked) - len(again)} of {len(marked)}")
    if again:
        typer.echo(
            "still poisoned: " + ", ".join(f"{p} #{n}" for p, n in again), err=True
        )
        raise typer.Exit(1)

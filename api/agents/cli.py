"""`quire agents run reconciler`: the agent against a running server."""

from __future__ import annotations

import logging
import os
import signal
from types import FrameType
from typing import Annotated

import httpx
import typer

from api.agents.reconciler import Reconciler
from release.connectors import Limits
from workspace.config import get_settings

agents_app = typer.Typer(help="Agents (service accounts using the API).")


@agents_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="the agent: reconciler")],
    url: Annotated[
        str, typer.Option("--url", envvar="QUIRE_AGENT_URL", help="the server")
    ] = "http://127.0.0.1:8000",
    interval: Annotated[float, typer.Option("--interval", min=0.05)] = 2.0,
    once: Annotated[bool, typer.Option("--once", help="one pass, then exit")] = False,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="also act on past refreshes")
    ] = False,
) -> None:
    """Runs an agent with the bearer token in QUIRE_AGENT_TOKEN."""
    if name != "reconciler":
        typer.echo(f"error: AGENT_UNKNOWN: no agent {name!r}", err=True)
        raise typer.Exit(2)
    token = os.environ.get("QUIRE_AGENT_TOKEN", "")
    if not token:
        typer.echo("error: AGENT_TOKEN_MISSING: set QUIRE_AGENT_TOKEN", err=True)
        raise typer.Exit(2)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request
    limits = Limits.from_settings(get_settings())
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    ) as client:
        agent = Reconciler(client, limits, from_start=from_start)
        if once:
            for proposal in agent.run_once():
                typer.echo(f"proposed {proposal}")
            return

        def _stop(signum: int, frame: FrameType | None) -> None:
            agent.stop()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        # The first pass remembers where each packet stands (history is not
        # news); once it is done, later refreshes are acted on.
        for proposal in agent.run_once():
            typer.echo(f"proposed {proposal}")
        typer.echo(
            f"reconciler running against {url} ({len(agent.seen)} packets)", err=True
        )
        agent.run(interval)
    typer.echo("reconciler stopped", err=True)


def register(app: typer.Typer) -> None:
    app.add_typer(agents_app, name="agents")

"""The `quire` command line (shared/API.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from api import cli_ops, cli_projections
from api.agents import cli as agents_cli
from api.cli_errors import cli_errors, cli_services, fail
from api.services import build_services
from workspace.accounts import Principal
from workspace.config import Settings, backend_of, get_settings

app = typer.Typer(
    help="Quire: event-sourced collaborative packet workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Users and tokens.", no_args_is_help=True)

#: Who the command line acts as for admin-only user changes.
CLI_ADMIN = Principal("cli", "Command line", frozenset({"admin"}))
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
calc_app = typer.Typer(help="Stateless calculations.", no_args_is_help=True)
app.add_typer(calc_app, name="calc")


#: `quire db init` (kept here: tests and the demo call it by this name).
init_database = cli_ops.init_database

cli_projections.register(app)
cli_ops.register(db_app)
agents_cli.register(app)  # quire agents run reconciler


@users_app.command("add")
def users_add(
    user_id: Annotated[str, typer.Argument(help="login id, e.g. maya.chen")],
    name: Annotated[str, typer.Option("--name", help="display name")],
    admin: Annotated[bool, typer.Option("--admin")] = False,
    auditor: Annotated[bool, typer.Option("--auditor")] = False,
    agent: Annotated[bool, typer.Option("--agent", help="a service account")] = False,
    passphrase_stdin: Annotated[
        bool, typer.Option("--passphrase-stdin", help="read the signing passphrase")
    ] = False,
) -> None:
    """Creates a user; prints a new bearer token as the last line."""
    passphrase = None
    if passphrase_stdin:
        passphrase = sys.stdin.readline().rstrip("\r\n")
        if not passphrase:
            typer.echo("error: PASSPHRASE_EMPTY: no passphrase on stdin", err=True)
            raise typer.Exit(2)
    if agent and (admin or passphrase):
        typer.echo(
            "error: AGENT_NOT_ALLOWED: agents never sign or administer", err=True
        )
        raise typer.Exit(2)
    roles = [
        r for r, on in (("admin", admin), ("auditor", auditor), ("agent", agent)) if on
    ]
    create_table = backend_of(get_settings().database_url) != "postgres"
    with cli_services(create_table=create_table) as services:
        token = services.app.add_user(
            user_id, name, roles=roles, passphrase=passphrase, actor="cli"
        )
    typer.echo(f"created {user_id} ({', '.join(roles) or 'member'})")
    typer.echo(token)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    demo: Annotated[bool, typer.Option("--demo", help="load the seed stories")] = False,
) -> None:
    """Runs the API, websockets and web UI."""
    from api.main import create_app

    settings = get_settings()
    if backend_of(settings.database_url) == "sqlite":
        # The embedded default is one process: it may create its own schema.
        init_database()
    # Serving processes refuse a database behind (or ahead of) this code.
    cli_ops.require_current_schema(settings)
    if demo:
        load_seed_stories(settings, f"http://{host}:{port}/")
    web = create_app(settings)
    # The sign-in page offers the demo's people only on a loopback demo server.
    web.state.demo_sign_in = demo and host in ("127.0.0.1", "::1", "localhost")
    # Until SIGTERM: then live sockets drain and close with 1012 (exit 0).
    cli_ops.run_server(web, host, port, settings)


def load_seed_stories(settings: Settings, url: str) -> None:
    """Seeds 002 and 003 (once); prints the demo users' tokens."""
    from release.demo import demo_passphrases, demo_people, load_demo

    services = build_services(settings)
    with cli_errors():
        try:
            tokens = load_demo(services.app)  # type: ignore[arg-type]
        finally:
            services.close()
    if not tokens:
        typer.echo("demo already loaded; `quire users token USER_ID` issues a token")
        return
    typer.echo(f"Open {url} and paste one of these tokens (shown once):")
    people = demo_people()
    for user_id, token in tokens.items():
        typer.echo(f"  {token}  {user_id}: {people[user_id][0]}")
    for user_id, passphrase in demo_passphrases().items():
        typer.echo(f"  signing passphrase of {user_id}: {passphrase}")


@users_app.command("token")
def users_token(user_id: Annotated[str, typer.Argument()]) -> None:
    """Issues a new bearer token for an existing user (last line of stdout)."""
    with cli_services() as services:
        token = services.app.issue_token(user_id, actor="cli")
    typer.echo(token)


@users_app.command("unlock-signing")
def users_unlock_signing(user_id: Annotated[str, typer.Argument()]) -> None:
    """Unlocks signing after five failed re-authentications."""
    with cli_services() as services:
        services.app.unlock_signing(CLI_ADMIN, user_id)
    typer.echo(f"signing unlocked for {user_id}")


@users_app.command("revoke-tokens")
def users_revoke_tokens(user_id: Annotated[str, typer.Argument()]) -> None:
    """Revokes every bearer token of a user (`quire users token` issues a new one)."""
    with cli_services() as services:
        count = services.app.revoke_tokens(CLI_ADMIN, user_id)
    typer.echo(f"revoked {count} token(s) of {user_id}")


@calc_app.command("service-credit")
def calc_service_credit(
    file: Annotated[Path, typer.Argument(help="JSON {facts, rules}; - for stdin")],
) -> None:
    """Computes a service credit (the same JSON as the API); decides nothing."""
    from workspace.credit import calculate, from_json, to_json

    with cli_errors():
        try:
            raw = sys.stdin.buffer.read() if str(file) == "-" else file.read_bytes()
        except OSError as e:
            fail("FILE_UNREADABLE", f"{file}: {e.strerror or e}")
        result = calculate(from_json(raw), get_settings().calc_max_windows)
    typer.echo(to_json(result, indent=2))


def main() -> None:
    app()


if __name__ == "__main__":
    main()

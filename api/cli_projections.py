"""`quire projections rebuild`, `quire worker`, `quire audit export|verify`.

Registered on the main `quire` app by api/cli.py (`register`), which also runs
`init_read_models` from `quire db init`.
"""

from __future__ import annotations

import io
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from api.cli_errors import cli_errors, fail
from api.services import Services, build_background, build_services
from projections.audit import AuditLog
from projections.audit_bundle import export_all, verify_bundle
from projections.audit_export import export_packet
from projections.checkpoints import load_or_create_private_key, raw_key
from projections.driver import DEFAULT_BATCH, Driver
from projections.runner import all_projections, create_read_models
from projections.store import ReadStore, Tx, read_models_for
from workspace.config import backend_of, get_settings

projections_app = typer.Typer(help="Read models.", no_args_is_help=True)
audit_app = typer.Typer(help="Verifiable history.", no_args_is_help=True)

#: `--wait`, of the commands that need the projections' locks.
WaitForWorker = Annotated[
    float, typer.Option("--wait", help="seconds to wait for a running worker")
]
#: `--only`, of the commands that can be limited to some projections (checked
#: by `require_known`).
OnlyProjections = Annotated[
    list[str] | None,
    typer.Option("--only", help="only this projection (repeatable)"),
]


def register(app: typer.Typer) -> None:
    from api.cli_poison import register_poison

    register_poison(projections_app)
    app.add_typer(projections_app, name="projections")
    app.add_typer(audit_app, name="audit")
    app.command("worker")(worker)


def init_read_models(services: Services) -> None:
    """`quire db init`: the read-model tables, and the signing key if absent."""
    create_read_models(read_models_for(services))
    load_or_create_private_key(services.settings.signing_key_path)


def require_known(names: set[str], only: list[str] | None) -> None:
    """Fails unless every projection named with `--only` is one of `names`."""
    for name in only or []:
        if name not in names:
            fail("PROJECTION_UNKNOWN", f"{name!r}; known: {sorted(names)}")


# ----------------------------------------------------------------- rebuild
@projections_app.command("rebuild")
def rebuild(only: OnlyProjections = None, wait: WaitForWorker = 30.0) -> None:
    """Rebuilds every read model from the event log (with a progress bar).

    Each projection is emptied and replayed under its lock, so a running
    worker must stop (or finish its batch) first. On PostgreSQL the whole
    rebuild commits at once: API processes keep reading the old read models
    until it is done, and a failed rebuild changes nothing. The audit log is replayed
    against the leaves and checkpoints it recorded: any difference stops the
    rebuild with the event's name.
    """
    settings = get_settings()
    if backend_of(settings.database_url) == "memory":
        fail("NOTHING_TO_REBUILD", "memory:// keeps no read models between runs")
    services = build_services(settings)
    with cli_errors():
        try:
            store = read_models_for(services)
            create_read_models(store)
            names = {p.name for p in all_projections(settings)}
            require_known(names, only)
            replay(store, only or sorted(names), wait=wait)
        finally:
            services.close()
    typer.echo(f"rebuilt {', '.join(only or sorted(names))}")


def replay(
    store: ReadStore,
    names: Sequence[str],
    *,
    wait: float = 30.0,
    before: Callable[[Tx], None] | None = None,
    after: Callable[[Tx], None] | None = None,
) -> None:
    """Empties the named read models and replays the event log into them,
    under their locks (a running worker must finish its batch first); on
    PostgreSQL in one transaction with `before` and `after` (`quire db
    migrate` drops and recreates tables before, records versions after)."""
    chosen = [p for p in all_projections(store.settings) if p.name in names]
    # One driver: each batch is read once and applied to every projection.
    driver = Driver(store, chosen)
    session = store.session()
    try:
        deadline = time.monotonic() + wait
        while not driver.acquire(session, wait=False):
            if time.monotonic() > deadline:
                fail(
                    "PROJECTION_BUSY",
                    f"{driver.name} is held by a running worker; stop it and try again",
                )
            time.sleep(0.5)
        head = store.head()
        with (
            session.atomic(),
            typer.progressbar(
                length=max(head, 1),
                label=", ".join(p.name for p in chosen),
                file=sys.stderr,
            ) as bar,
        ):
            if before is not None:
                with session.transaction() as tx:
                    before(tx)
            driver.reset(session)
            driver.catch_up(session, upto=head, progress=lambda _p, n: bar.update(n))
            driver.catch_up(session)
            if head == 0:
                bar.update(1)
            if after is not None:
                with session.transaction() as tx:
                    after(tx)
    finally:
        session.close()


# ------------------------------------------------------------------ worker
def worker(
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, help="events per projection batch")
    ] = DEFAULT_BATCH,
) -> None:
    """Runs projections and the expiry sweeper until SIGTERM or SIGINT."""
    from api import cli_ops, logging_config

    settings = get_settings()
    logging_config.configure(settings.log_format)
    cli_ops.require_current_schema(settings)
    services = build_services(settings)
    services.role = "worker"
    services.extras["projection_batch_size"] = batch_size
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with cli_errors():
        try:
            services.background.extend(build_background(services))
            services.start()
            typer.echo(
                f"worker running on {backend_of(settings.database_url)}", err=True
            )
            while not stop.wait(1.0):
                pass
        finally:
            services.close()
    typer.echo("worker stopped", err=True)


# ------------------------------------------------------------------- audit
@audit_app.command("export")
def audit_export(
    packet_id: Annotated[
        str | None,
        typer.Argument(help="the packet's id (none with --full: every packet)"),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="file (default: stdout)")
    ] = None,
    wait: Annotated[
        float, typer.Option("--wait", help="seconds to wait for the audit log")
    ] = 30.0,
    full: Annotated[
        bool,
        typer.Option(
            "--full", help="recompute every leaf of the log, not only the packet's"
        ),
    ] = False,
) -> None:
    """Exports a packet's history with inclusion proofs (JSON Lines).

    The packet's events are recomputed from the event table and checked
    against the leaves the audit log recorded, and those leaves against every
    signed checkpoint (`--full`: every event of the log is recomputed); an
    event altered in the database makes the export fail with its name.
    Without a packet id, `--full` exports every packet, one after another in
    one file (`quire audit verify` checks each).
    """
    if packet_id is None and not full:
        fail("PACKET_ID_REQUIRED", "name a packet, or --full for every packet")
    settings = get_settings()
    services = build_services(settings)
    buffer = io.StringIO()
    with cli_errors():
        try:
            store = read_models_for(services)
            key = load_or_create_private_key(settings.signing_key_path)
            session = store.session()
            try:
                driver = Driver(
                    store, AuditLog(key, settings.checkpoint_interval_seconds)
                )
                if driver.acquire(session, wait=False):
                    driver.catch_up(session)
                elif not store.wait_for([AuditLog.name], store.head(), wait):
                    fail("AUDIT_LOG_BEHIND", "the audit log did not catch up; retry")
                if packet_id is None:
                    bundle = export_all(store, session, key, buffer, full=True)
                else:
                    summary = export_packet(
                        store, session, packet_id, key, buffer, full=full
                    )
            finally:
                session.close()
        finally:
            services.close()
    if output is None:
        sys.stdout.write(buffer.getvalue())
    else:
        output.write_text(buffer.getvalue(), encoding="utf-8")
    if packet_id is None:
        typer.echo(
            f"exported {bundle.events} events of {len(bundle.packets)} packets",
            err=True,
        )
        return
    typer.echo(
        f"exported {summary.events} events of {summary.packet_id}; tree size "
        f"{summary.tree_size}, root {summary.root_hash}, key {summary.key_id}",
        err=True,
    )


def _pinned_key(value: str) -> bytes:
    """A raw Ed25519 public key: base64 or hex of 32 bytes, or a PEM file."""
    path = Path(value)
    if path.is_file():
        data = path.read_bytes()
        key: object
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            private = serialization.load_pem_private_key(data, password=None)
            key = (
                private.public_key()
                if isinstance(private, Ed25519PrivateKey)
                else private
            )
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("not an Ed25519 key")
        return key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    raw = raw_key(value)
    if raw is None:
        raise ValueError("expected 32 bytes as hex or base64, or a PEM file")
    return raw


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="an export from `quire audit export`")],
    public_key: Annotated[
        str | None,
        typer.Option(
            "--public-key",
            help="the log's Ed25519 key (hex, base64 or PEM file) to pin",
        ),
    ] = None,
) -> None:
    """Verifies an export offline (no database): exit 0 only when intact."""
    pinned = None
    if public_key is not None:
        try:
            pinned = _pinned_key(public_key)
        except (ValueError, OSError) as e:
            fail("KEY_INVALID", str(e))
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        fail("EXPORT_UNREADABLE", str(e))
    verdict = verify_bundle(lines, pinned)
    if not verdict.ok:
        typer.echo(f"NOT INTACT: {verdict.message}", err=True)
        raise typer.Exit(1)
    typer.echo(verdict.message)
    if pinned is None:
        typer.echo(
            "note: the key inside the file was trusted; pin it with --public-key",
            err=True,
        )

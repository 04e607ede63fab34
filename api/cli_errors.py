"""How every `quire` command fails: one line `error: CODE: message` on stderr
and exit status 2, for domain errors and database failures alike."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer
from eventsourcing.persistence import PersistenceError

from api.services import Services, build_services
from projections.store import CONNECTION_ERRORS
from workspace.config import Settings
from workspace.errors import QuireError

#: The database could not be reached (or the line dropped).
UNAVAILABLE: tuple[type[BaseException], ...] = (*CONNECTION_ERRORS, OSError)


def fail(code: str, message: str, status: int = 2) -> NoReturn:
    typer.echo(f"error: {code}: {message}", err=True)
    raise typer.Exit(status)


def _first_line(error: BaseException) -> str:
    text = str(error)
    return text.splitlines()[0] if text else repr(error)


@contextmanager
def cli_services(
    settings: Settings | None = None, *, create_table: bool = False
) -> Iterator[Services]:
    """The services for one command, closed after it; building them and using
    them fail as `cli_errors` says."""
    with cli_errors():
        services = build_services(settings, create_table=create_table)
        try:
            yield services
        finally:
            services.close()


@contextmanager
def cli_errors() -> Iterator[None]:
    """Turns domain errors and the database's failures into `fail`."""
    try:
        yield
    except QuireError as e:
        fail(e.code, e.message)
    except PersistenceError as e:
        text = str(e)
        if "does not exist" in text or "no such table" in text:
            fail("SCHEMA_MISSING", "no schema here: run `quire db init`")
        fail("DATABASE_ERROR", _first_line(e))
    except UNAVAILABLE as e:
        fail("DATABASE_UNAVAILABLE", _first_line(e))

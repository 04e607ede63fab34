"""What a source connector is: it reads one live reference (a file, a URL)
within limits, and says whether it changed since the last read.

A connector never decides anything: it returns bytes and their digest, or a
`FetchError` with a stable code, which the watcher records on the source.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from workspace.config import Settings
from workspace.errors import QuireError, UnprocessableError


class FetchError(QuireError, code="FETCH_FAILED"):
    """A watched source could not be read: `FETCH_TIMEOUT`, `FETCH_TOO_LARGE`,
    `FETCH_STATUS`, `FETCH_REDIRECT_REFUSED`, `FETCH_FAILED`,
    `SOURCE_NOT_WATCHABLE`... Recorded on the source, never shown as an
    HTTP error."""


class ReferenceRefusedError(UnprocessableError, code="SOURCE_NOT_WATCHABLE"):
    """A reference the settings do not allow to be watched (HTTP 422):
    `SOURCE_NOT_WATCHABLE` (no connector for its scheme),
    `SOURCE_HOST_NOT_ALLOWED`, `SOURCE_PATH_NOT_ALLOWED`."""


@dataclass(frozen=True)
class Limits:
    """The settings a connector reads within."""

    timeout_seconds: float
    max_bytes: int
    hosts: frozenset[str]
    allow_loopback: bool
    file_roots: tuple[Path, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        hosts = frozenset(
            h.strip().lower() for h in settings.source_hosts.split(",") if h.strip()
        )
        roots = tuple(
            Path(r).resolve()
            for r in settings.source_file_roots.split(os.pathsep)
            if r.strip()
        )
        return cls(
            timeout_seconds=settings.source_fetch_timeout_seconds,
            max_bytes=settings.source_max_bytes,
            hosts=hosts,
            allow_loopback=settings.source_allow_loopback,
            file_roots=roots,
        )


@dataclass(frozen=True)
class Validators:
    """What a conditional request sends back (HTTP ETag / Last-Modified)."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class Fetched:
    body: bytes
    validators: Validators = Validators()

    @property
    def digest(self) -> str:
        return digest_of(self.body)


@dataclass(frozen=True)
class NotModified:
    """The server answered 304 to a conditional request."""


def digest_of(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


class Connector(Protocol):
    """A plug-in (entry point group `quire.connectors`) names the URL schemes
    it reads, checks a reference against the limits when a source is cited
    (raising `ReferenceRefusedError`), and reads it (raising `FetchError`)."""

    schemes: tuple[str, ...]

    def check(self, reference: str, limits: Limits) -> None: ...

    def fetch(
        self, reference: str, limits: Limits, validators: Validators
    ) -> Fetched | NotModified: ...


@contextmanager
def refusal_fails_read() -> Iterator[None]:
    """A reference refused when it is read (no connector for it any more, or
    settings changed since it was cited) fails the read with the refusal's
    code: recorded on the source, not an HTTP error."""
    try:
        yield
    except ReferenceRefusedError as e:
        raise FetchError(e.code, e.message) from None


Target = TypeVar("Target")


class CheckedConnector(ABC, Generic[Target]):
    """A connector whose check turns a reference into what it reads (a file's
    path, a URL's origin) or refuses it; each read checks again."""

    schemes: tuple[str, ...]

    @abstractmethod
    def target(self, reference: str, limits: Limits) -> Target:
        """What `reference` reads; `ReferenceRefusedError` if not allowed."""

    @abstractmethod
    def read(
        self, reference: str, target: Target, limits: Limits, validators: Validators
    ) -> Fetched | NotModified: ...

    def check(self, reference: str, limits: Limits) -> None:
        self.target(reference, limits)

    def fetch(
        self, reference: str, limits: Limits, validators: Validators
    ) -> Fetched | NotModified:
        with refusal_fails_read():
            target = self.target(reference, limits)
        return self.read(reference, target, limits, validators)

"""Source connectors (issue 16): `file://` and `https://` built in; others
are plug-ins, Python entry points of the group `quire.connectors`, each an
object (or a class taking no arguments) with `schemes`, `check` and `fetch`
(`release/connectors/base.py`: `Connector`)."""

from __future__ import annotations

import logging
from functools import lru_cache
from importlib.metadata import entry_points
from urllib.parse import urlparse

from release.connectors.base import (
    Connector,
    Fetched,
    FetchError,
    Limits,
    NotModified,
    ReferenceRefusedError,
    Validators,
    digest_of,
    refusal_fails_read,
)
from release.connectors.file import FileConnector
from release.connectors.https import HttpsConnector

__all__ = [
    "Connector",
    "FetchError",
    "Fetched",
    "Limits",
    "NotModified",
    "ReferenceRefusedError",
    "Validators",
    "connector_for",
    "digest_of",
    "fetch",
]

log = logging.getLogger(__name__)
GROUP = "quire.connectors"


@lru_cache(maxsize=1)
def connectors() -> dict[str, Connector]:
    """Scheme -> connector: the built-in ones, then the plug-ins (a plug-in
    cannot take over `file`, `http` or `https`)."""
    found: dict[str, Connector] = {}
    for builtin in (FileConnector(), HttpsConnector()):
        for scheme in builtin.schemes:
            found[scheme] = builtin
    for point in entry_points(group=GROUP):
        try:
            loaded = point.load()
            plugin = loaded() if isinstance(loaded, type) else loaded
            schemes = tuple(plugin.schemes)
        except Exception:  # one broken plug-in does not stop the others
            log.exception("connector plug-in %s failed to load", point.name)
            continue
        for scheme in schemes:
            found.setdefault(scheme.lower(), plugin)
    return found


def connector_for(reference: str) -> Connector:
    scheme = urlparse(reference).scheme.lower()
    connector = connectors().get(scheme)
    if connector is None:
        raise ReferenceRefusedError(
            "SOURCE_NOT_WATCHABLE",
            f"no connector reads {scheme or 'this'}:// references",
            {"scheme": scheme},
        )
    return connector


def check(reference: str, limits: Limits) -> None:
    """Whether a source citing `reference` may be watched (422 otherwise)."""
    connector_for(reference).check(reference, limits)


def fetch(
    reference: str, limits: Limits, validators: Validators | None = None
) -> Fetched | NotModified:
    with refusal_fails_read():
        connector = connector_for(reference)
    return connector.fetch(reference, limits, validators or Validators())

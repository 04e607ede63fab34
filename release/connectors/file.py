"""`file://` sources: a local file under one of `QUIRE_SOURCE_FILE_ROOTS`."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlparse

from release.connectors.base import (
    CheckedConnector,
    Fetched,
    FetchError,
    Limits,
    ReferenceRefusedError,
    Validators,
)


def _path(reference: str, limits: Limits) -> Path:
    parsed = urlparse(reference)
    if parsed.netloc not in ("", "localhost") or not parsed.path:
        raise ReferenceRefusedError(
            "SOURCE_PATH_NOT_ALLOWED", "a file source is file:///absolute/path"
        )
    path = Path(unquote(parsed.path))
    if not path.is_absolute():
        raise ReferenceRefusedError(
            "SOURCE_PATH_NOT_ALLOWED", "a file source is file:///absolute/path"
        )
    # Symlinks and `..` are resolved before the roots are compared.
    resolved = Path(os.path.realpath(path))
    if not any(resolved.is_relative_to(root) for root in limits.file_roots):
        raise ReferenceRefusedError(
            "SOURCE_PATH_NOT_ALLOWED",
            "the file is not under a directory of QUIRE_SOURCE_FILE_ROOTS",
            {"reference": reference},
        )
    return resolved


class FileConnector(CheckedConnector[Path]):
    schemes: tuple[str, ...] = ("file",)

    def target(self, reference: str, limits: Limits) -> Path:
        return _path(reference, limits)

    def read(
        self, reference: str, target: Path, limits: Limits, validators: Validators
    ) -> Fetched:
        try:
            with target.open("rb") as f:
                body = f.read(limits.max_bytes + 1)
        except FileNotFoundError:
            raise FetchError("FETCH_NOT_FOUND", f"{target} does not exist") from None
        except OSError as e:
            raise FetchError("FETCH_FAILED", f"{target}: {e.strerror or e}") from None
        if len(body) > limits.max_bytes:
            raise FetchError(
                "FETCH_TOO_LARGE", f"{target} is larger than {limits.max_bytes} bytes"
            )
        return Fetched(body)

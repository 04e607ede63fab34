"""Errors of the release layer (stable codes; api/errors.py maps them)."""

from __future__ import annotations

from typing import Any

from workspace.errors import QuireError, StateError


class ReleaseHeldError(StateError, code="RELEASE_HELD"):
    """The gate holds the release; `details.hold_reasons` lists every reason
    (HTTP 409)."""

    def __init__(self, release_id: str, hold_reasons: list[dict[str, Any]]) -> None:
        codes = ", ".join(sorted({h["code"] for h in hold_reasons}))
        super().__init__(
            "RELEASE_HELD",
            f"{release_id} is held: {codes}",
            {"release_id": release_id, "hold_reasons": hold_reasons},
        )


class ReleaseIntegrityError(QuireError, code="RELEASE_CONTENT_CORRUPT"):
    """Stored released content no longer matches the hash its approval bound.
    Never expected; reported rather than serving the wrong content (HTTP 500)."""

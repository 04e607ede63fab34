"""Domain errors: one base, each with a stable code the API maps to HTTP status.

Codes are part of the public contract: extend, never rename.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class QuireError(Exception):
    """Base of every error Quire reports to a caller."""

    code = "QUIRE_ERROR"

    def __init__(
        self,
        code: str | None = None,
        message: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        self.message = message or self.code
        self.details = details or {}
        super().__init__(f"{self.code}: {self.message}")


class InvalidInputError(QuireError):
    """Bad input: empty title, ops out of range, unknown kind... (HTTP 400)."""

    code = "INVALID_INPUT"


class TooLargeError(QuireError):
    """A section, body or edit over its size limit (HTTP 413)."""

    code = "TOO_LARGE"


class NotFoundError(QuireError):
    """An unknown packet, section, source, user... (HTTP 404)."""

    code = "NOT_FOUND"


class NotAllowedError(QuireError):
    """The actor's role does not allow this (HTTP 403)."""

    code = "FORBIDDEN"


class AuthenticationError(QuireError):
    """No token, or a bad one (HTTP 401)."""

    code = "UNAUTHENTICATED"


class VersionClashError(QuireError):
    """The write was based on a version that is no longer current (HTTP 409)."""

    code = "VERSION_CLASH"


class EditConflictError(QuireError):
    """An edit overlaps a later accepted edit; stored as a conflict (HTTP 409)."""

    code = "EDIT_CONFLICT"


class OutOfScopeError(QuireError):
    """Quire never approves credits, contacts customers, changes billing,
    adjudicates entitlement or assigns engineers (HTTP 403). Recorded."""

    code = "OUT_OF_SCOPE"


class StateError(QuireError):
    """The thing exists but is in the wrong state for this (HTTP 409)."""

    code = "INVALID_STATE"


class UnprocessableError(QuireError):
    """Well-formed JSON whose content breaks a rule: an unknown component type,
    a period that does not parse, a negative amount (HTTP 422)."""

    code = "UNPROCESSABLE"


def require_known_fields(raw: Mapping[str, Any], allowed: set[str], what: str) -> None:
    """422 UNKNOWN_FIELD naming (sorted) the fields of `raw` that are not in
    `allowed`; `what` says where (`caps.service_credit`, `remediation[2]`)."""
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise UnprocessableError(
            "UNKNOWN_FIELD",
            f"{what} has unknown fields: {', '.join(unknown)}",
            {"fields": unknown},
        )

"""Domain errors: one base, each with a stable code the API maps to HTTP status.

Codes are part of the public contract: extend, never rename.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class QuireError(Exception):
    """Base of every error Quire reports to a caller.

    A subclass names its code in its class line:
    `class NotFoundError(QuireError, code="NOT_FOUND")`.
    """

    code = "QUIRE_ERROR"

    def __init_subclass__(cls, code: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if code is not None:
            cls.code = code

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


class InvalidInputError(QuireError, code="INVALID_INPUT"):
    """Bad input: empty title, ops out of range, unknown kind... (HTTP 400)."""


class TooLargeError(QuireError, code="TOO_LARGE"):
    """A section, body or edit over its size limit (HTTP 413)."""


class NotFoundError(QuireError, code="NOT_FOUND"):
    """An unknown packet, section, source, user... (HTTP 404)."""


class NotAllowedError(QuireError, code="FORBIDDEN"):
    """The actor's role does not allow this (HTTP 403)."""


class AuthenticationError(QuireError, code="UNAUTHENTICATED"):
    """No token, or a bad one (HTTP 401)."""


class VersionClashError(QuireError, code="VERSION_CLASH"):
    """The write was based on a version that is no longer current (HTTP 409)."""


class EditConflictError(QuireError, code="EDIT_CONFLICT"):
    """An edit overlaps a later accepted edit; stored as a conflict (HTTP 409)."""


class OutOfScopeError(QuireError, code="OUT_OF_SCOPE"):
    """Quire never approves credits, contacts customers, changes billing,
    adjudicates entitlement or assigns engineers (HTTP 403). Recorded."""


class StateError(QuireError, code="INVALID_STATE"):
    """The thing exists but is in the wrong state for this (HTTP 409)."""


class UnprocessableError(QuireError, code="UNPROCESSABLE"):
    """Well-formed JSON whose content breaks a rule: an unknown component type,
    a period that does not parse, a negative amount (HTTP 422)."""


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

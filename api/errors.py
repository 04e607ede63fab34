"""Domain error codes to HTTP status, and refused writes to the audit log.

Both in one place. Every error body is `{"error": {"code", "message",
"details"}}` (shared/API.md).

Refused writes: every write (POST, PUT, PATCH, DELETE, or an `op` sent over
the live socket) that is answered with an error is recorded in the audit log
through `Workspace.record_refusal`, naming the caller, the request, the code
and the packet. Two exceptions:

- an `EDIT_CONFLICT` is not a refusal: the edit is kept as a conflict event
  in the packet itself;
- a write refused before the caller is known (no token, a bad token, or a
  body over the size limit, which is refused before it is read) cannot name
  a user. Writing such refusals to the event log would let anyone without a
  token append to it, so they go to the process log instead (logger
  `quire.audit`, WARNING, with the client address).
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING, Any

import psycopg
from eventsourcing import persistence as es_persistence
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.schemas import ErrorPublic
from workspace.accounts import Principal
from workspace.errors import (
    AuthenticationError,
    EditConflictError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    OutOfScopeError,
    QuireError,
    StateError,
    TooLargeError,
    UnprocessableError,
    VersionClashError,
)

if TYPE_CHECKING:
    from api.services import Services

log = logging.getLogger(__name__)
audit_log = logging.getLogger("quire.audit")

STATUS_BY_ERROR: list[tuple[type[QuireError], int]] = [
    (UnprocessableError, 422),
    (InvalidInputError, 400),
    (AuthenticationError, 401),
    (NotAllowedError, 403),
    (OutOfScopeError, 403),
    (NotFoundError, 404),
    (VersionClashError, 409),
    (EditConflictError, 409),
    (StateError, 409),
    (TooLargeError, 413),
]

#: Codes whose status differs from their class's (e.g. a held release is 409).
STATUS_BY_CODE: dict[str, int] = {"RELEASE_HELD": 409, "RELEASE_CONTENT_CORRUPT": 500}

#: Errors that are not refusals: the attempt is kept in the packet itself.
NOT_REFUSALS = frozenset({"EDIT_CONFLICT"})

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

#: How deep a JSON body or live message may nest (objects and lists).
JSON_MAX_DEPTH = 32

_ERROR_MEANINGS = {
    400: "Bad input (e.g. MALFORMED_JSON, BODY_TOO_DEEP, TEXT_HAS_NUL, "
    "TEXT_HAS_SURROGATE, ..._EMPTY, ..._TOO_LONG)",
    401: "No token, or a bad one (UNAUTHENTICATED)",
    403: "The caller's role does not allow this (FORBIDDEN, OUT_OF_SCOPE)",
    404: "Unknown packet, section, source, release... (..._NOT_FOUND)",
    409: "Version clash, edit conflict, held release or wrong state",
    413: "The body or a section is over its size limit (TOO_LARGE)",
    422: "The body or a parameter does not match the schema (INVALID_BODY)",
    503: "The database does not answer",
}

#: Every error status a route can return, each with the one error body; the
#: app adds them to every operation of its OpenAPI document (api.main).
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorPublic, "description": meaning}
    for status, meaning in _ERROR_MEANINGS.items()
}


def document_errors(router: APIRouter) -> None:
    """Gives a route's own error entries (e.g. a 409 naming EDIT_CONFLICT) the
    error body too: FastAPI merges `responses` per status, not per field."""
    for route in router.routes:
        if isinstance(route, APIRoute):
            for status, spec in list(route.responses.items()):
                if status in ERROR_RESPONSES:
                    route.responses[status] = {**ERROR_RESPONSES[status], **spec}


def status_for(error: QuireError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> Any:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def record_refusal(
    services: Services,
    principal: Principal | None,
    request: str,
    code: str,
    message: str,
    *,
    packet_id: str | None = None,
    client: str | None = None,
) -> None:
    """Records one refused write (synchronous: call it from a thread).

    The one place HTTP handlers and the live socket record refusals.
    """
    if code in NOT_REFUSALS:
        return
    if principal is None:
        audit_log.warning(
            "refused unauthenticated write %s from %s: %s %s",
            request,
            client or "?",
            code,
            message,
        )
        return
    try:
        services.app.record_refusal(
            principal, request, code, message, packet_id=packet_id
        )
    except Exception:
        # The caller still gets the refusal; a failed audit write is an
        # operational fault that must be visible, so it is logged loudly.
        log.exception("could not record the refusal of %s by %s", request, principal)


async def _refused(request: Request, code: str, message: str) -> None:
    if request.method not in WRITE_METHODS or _writes_nothing(request):
        return
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None:
        return
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        # A malformed body is refused before the user dependency runs.
        principal = await run_in_threadpool(_caller, services, request)
    packet_id = request.path_params.get("packet_id")
    client = request.client.host if request.client else None
    await run_in_threadpool(
        record_refusal,
        services,
        principal,
        f"{request.method} {request.url.path}",
        code,
        message,
        packet_id=str(packet_id) if packet_id else None,
        client=client,
    )


def _writes_nothing(request: Request) -> bool:
    """A POST that only computes (its route says `x-writes-nothing`) refuses
    nothing worth recording: bad input there changes no state."""
    extra = getattr(request.scope.get("route"), "openapi_extra", None) or {}
    return bool(extra.get("x-writes-nothing"))


def _caller(services: Services, request: Request) -> Principal | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return services.app.authenticate(token.strip())
    except QuireError:
        return None


#: Errors that mean the database cannot be reached or used now (HTTP 503,
#: and `DATABASE_UNAVAILABLE` with `reconnect: true` on the live socket).
#: psycopg_pool's PoolTimeout is a psycopg.OperationalError.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    es_persistence.OperationalError,
    es_persistence.InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
    sqlite3.OperationalError,
)

#: Seconds a client should wait before retrying after DATABASE_UNAVAILABLE.
RETRY_AFTER_SECONDS = 2

DATABASE_UNAVAILABLE_MESSAGE = "the database is unavailable; try again shortly"


def install_database_unavailable(app: FastAPI) -> None:
    """A database outage (or a lock/statement timeout) answers 503
    `DATABASE_UNAVAILABLE` in the error envelope, with Retry-After, from a
    route or from a middleware; any other unexpected error a 500 envelope."""

    def unavailable(exc: BaseException) -> JSONResponse:
        log.warning("database unavailable: %s: %s", type(exc).__name__, exc)
        return JSONResponse(
            error_body(
                "DATABASE_UNAVAILABLE",
                DATABASE_UNAVAILABLE_MESSAGE,
                {"cause": type(exc).__name__},
            ),
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        return unavailable(exc)

    for cls in DATABASE_ERRORS:
        app.add_exception_handler(cls, database_error)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DATABASE_ERRORS):
            return unavailable(exc)
        return JSONResponse(
            error_body("INTERNAL_ERROR", "an unexpected error occurred"),
            status_code=500,
        )

    app.add_exception_handler(Exception, unexpected)


def install(app: FastAPI) -> None:
    install_database_unavailable(app)

    @app.exception_handler(QuireError)
    async def quire_error(request: Request, exc: QuireError) -> JSONResponse:
        status = status_for(exc)
        await _refused(request, exc.code, exc.message)
        headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=status,
            headers=headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid_body(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse:
        errors = [
            {
                "loc": list(e.get("loc", ())),
                "msg": e.get("msg", ""),
                "type": e.get("type"),
            }
            for e in exc.errors()
        ]
        malformed = any(e["type"] == "json_invalid" for e in errors)
        code = "MALFORMED_JSON" if malformed else "INVALID_BODY"
        message = (
            "the body is not valid JSON"
            if malformed
            else "the body does not match the schema: "
            + "; ".join(
                f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}"
                for e in errors[:5]
            )
        )
        await _refused(request, code, message)
        return JSONResponse(
            error_body(code, message, {"errors": errors}),
            status_code=400 if malformed else 422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        unparsable = _unparsable(exc)
        if unparsable is not None:
            code, message, details = unparsable
            await _refused(request, code, message)
            return JSONResponse(error_body(code, message, details), status_code=400)
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail)),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


def _unparsable(
    exc: StarletteHTTPException,
) -> tuple[str, str, dict[str, Any]] | None:
    """FastAPI answers a body its JSON decoder chokes on (other than a syntax
    error) with a bare 400 "error parsing the body"; its cause says why: a
    nesting too deep for the decoder, or bytes that are not UTF-8."""
    if exc.status_code != 400:
        return None
    cause = exc.__cause__
    if isinstance(cause, RecursionError):
        return (
            "BODY_TOO_DEEP",
            f"the body nests deeper than {JSON_MAX_DEPTH} levels",
            {"limit": JSON_MAX_DEPTH},
        )
    if isinstance(cause, ValueError):  # UnicodeDecodeError among them
        return "MALFORMED_JSON", "the body is not valid JSON in UTF-8", {}
    return None

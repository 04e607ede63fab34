"""Domain error codes to HTTP status, in one place, and the error body shape.

Every error body is `{"error": {"code", "message", "details"}}` (shared/API.md).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
    VersionClashError,
)

STATUS_BY_ERROR: list[tuple[type[QuireError], int]] = [
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
STATUS_BY_CODE: dict[str, int] = {"RELEASE_HELD": 409}


def status_for(error: QuireError) -> int:
    if error.code in STATUS_BY_CODE:
        return STATUS_BY_CODE[error.code]
    for cls, status in STATUS_BY_ERROR:
        if isinstance(error, cls):
            return status
    return 400


def error_body(code: str, message: str, details: dict[str, Any] | None = None) -> Any:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def install(app: FastAPI) -> None:
    @app.exception_handler(QuireError)
    async def quire_error(request: Request, exc: QuireError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status_for(exc) == 401 else None
        return JSONResponse(
            error_body(exc.code, exc.message, exc.details),
            status_code=status_for(exc),
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
        return JSONResponse(
            error_body(
                "MALFORMED_JSON" if malformed else "INVALID_BODY",
                "the body is not valid JSON"
                if malformed
                else "the body does not match the schema",
                {"errors": errors},
            ),
            status_code=400 if malformed else 422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "TOO_LARGE"}
        return JSONResponse(
            error_body(codes.get(exc.status_code, "HTTP_ERROR"), str(exc.detail)),
            status_code=exc.status_code,
        )

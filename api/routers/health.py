"""Liveness and readiness (no auth).

/readyz answers 200 only when this process could write now: the database
answers, a write transaction can start, and no transaction has held the event
table's lock past the lock timeout (workspace/bounds.py). It also counts the
poison events the projections recorded (projections/poison.py): they do not
make the process unready, but an operator sees them here.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import ServicesDep
from projections import poison
from projections.store import read_models_for
from workspace.bounds import check_writable

router = APIRouter(tags=["health"])
log = logging.getLogger(__name__)


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", response_model=None)
def readyz(svc: ServicesDep) -> Any:
    try:
        svc.app.ping()
        check_writable(svc.app, svc.settings)
    except Exception as exc:  # any database failure means not ready
        log.warning("not ready: %s: %s", type(exc).__name__, exc)
        return JSONResponse(
            {
                "status": "unavailable",
                "detail": type(exc).__name__,
                "message": str(exc)[:500],
            },
            status_code=503,
        )
    body: dict[str, Any] = {"status": "ready"}
    try:
        body["poisoned_events"] = poison.count(read_models_for(svc))
    except Exception:  # the read models may not exist yet (before db init)
        log.debug("could not count poison events", exc_info=True)
    return body

"""Assembles the FastAPI app: routers, error mapping, middleware, lifespan.

Every route depends on `clean_input` (api.limits) and documents every error
status with the `{"error": {...}}` body (api.errors.ERROR_RESPONSES).

Middleware, outermost first: the request id (api/request_id.py), request
timing (api/prometheus.py), the body size limit (413 before anything is
read), idempotent POSTs (a retried Idempotency-Key returns the first
result), and the live-feed nudge after writes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from api import errors
from api.limits import BodyLimitMiddleware, clean_input
from api.live.hub import WakeOnWrite
from api.middleware import IdempotencyMiddleware
from api.prometheus import PrometheusMiddleware
from api.request_id import RequestIdMiddleware
from api.routers import (
    calculations,
    conflicts,
    demo,
    directory,
    health,
    history,
    lanes,
    live,
    metrics,
    objections,
    packets,
    plans,
    prerequisites,
    recommendations,
    releases,
    revisions,
    sections,
    signers,
    sources,
    suggestions,
    ui,
    ui_reads,
    webhooks,
    worksheets,
)
from api.services import Services, build_services
from workspace.config import Settings, get_settings

ROUTERS = [
    health.router,
    packets.router,
    sections.router,
    sources.router,
    prerequisites.router,
    objections.router,
    revisions.router,
    suggestions.router,
    conflicts.router,
    lanes.router,
    releases.router,
    live.router,
    ui.router,
    history.router,
    calculations.router,
    metrics.router,
    directory.router,
    demo.router,
    worksheets.router,
    recommendations.router,
    plans.router,
    webhooks.router,
    ui_reads.router,
    signers.router,
]


def create_app(
    settings: Settings | None = None, services: Services | None = None
) -> FastAPI:
    """Builds the app; the application objects are built in the lifespan."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        svc = services or build_services(settings, role="serve")
        app.state.services = svc
        svc.start()
        try:
            yield
        finally:
            if services is None:
                svc.close()

    # Every route: clean input (no NUL, no lone surrogate, bounded nesting),
    # and every error status documented with the one error body.
    app = FastAPI(
        title="Quire",
        version="1",
        lifespan=lifespan,
        dependencies=[Depends(clean_input)],
    )
    errors.install(app)
    for router in ROUTERS:
        errors.document_errors(router)
        app.include_router(router, responses=errors.ERROR_RESPONSES)
    limit = (
        settings or (services.settings if services else get_settings())
    ).request_max_bytes
    # add_middleware puts each one outside the previous: the last is outermost.
    app.add_middleware(WakeOnWrite)
    app.add_middleware(IdempotencyMiddleware)
    app.add_middleware(BodyLimitMiddleware, limit=limit)
    app.add_middleware(PrometheusMiddleware)
    app.add_middleware(RequestIdMiddleware)  # outermost: every log line has it
    return app

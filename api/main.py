"""Assembles the FastAPI app: routers, error mapping, lifespan wiring."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import errors
from api.routers import health, packets
from api.services import Services, build_services
from workspace.config import Settings

ROUTERS = [health.router, packets.router]


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

    app = FastAPI(title="Quire", version="1", lifespan=lifespan)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    return app

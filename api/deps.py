"""Request dependencies: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from release.application import ReleaseApp
from workspace.accounts import Principal
from workspace.credit import from_json

bearer = HTTPBearer(auto_error=False)


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


ServicesDep = Annotated[Services, Depends(services)]


def release_layer(svc: ServicesDep) -> ReleaseApp:
    """The application with its release layer (lanes, releases, manifests)."""
    app = svc.app
    if not isinstance(app, ReleaseApp):  # wiring error, not a caller's mistake
        raise TypeError("the services must be built with the release layer")
    return app


ReleaseAppDep = Annotated[ReleaseApp, Depends(release_layer)]


def current_user(
    request: Request,
    svc: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    token = credentials.credentials if credentials else None
    principal = svc.app.authenticate(token)
    # Kept on the request so that the one place recording refused writes
    # (api.errors) can name who was refused.
    request.state.principal = principal
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


async def exact_body(request: Request) -> Any:
    """The body as exact JSON, decimals kept as Decimal, never float (FastAPI
    has already read and checked it)."""
    return from_json(await request.body())


ExactBody = Annotated[Any, Depends(exact_body)]

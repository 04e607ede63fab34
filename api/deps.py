"""Request dependencies: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.services import Services
from workspace.accounts import Principal

bearer = HTTPBearer(auto_error=False)


def services(request: Request) -> Services:
    result: Services = request.app.state.services
    return result


ServicesDep = Annotated[Services, Depends(services)]


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

"""The web UI: one page, one ES module, one stylesheet, served as they are.

No build step. The page talks to the public HTTP API and the websocket
(shared/API.md) with the bearer token the user pastes in; the only thing it
needs from here besides the files is `GET /ui/me`, which says who a token
belongs to so the page can show it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse

from api.deps import CurrentUser
from workspace.errors import NotFoundError

router = APIRouter(tags=["ui"], include_in_schema=False)

STATIC = Path(__file__).resolve().parent.parent / "static"

#: The only files served, with their media types: nothing else under static/
#: (or outside it) can be reached by a crafted path.
ASSETS: dict[str, str] = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "metrics.html": "text/html; charset=utf-8",  # governance measures
    "metrics.js": "text/javascript; charset=utf-8",
}

#: The page is small and changes with each release of Quire: always revalidate.
NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/")
def index() -> FileResponse:
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE
    )


@router.get("/static/{name}")
def asset(name: str) -> FileResponse:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise NotFoundError("ASSET_NOT_FOUND", f"no UI asset {name!r}")
    return FileResponse(STATIC / name, media_type=media_type, headers=NO_CACHE)


@router.get("/ui/me")
def me(user: CurrentUser) -> dict[str, Any]:
    """Who the bearer token belongs to, for the page's header."""
    return {
        "user_id": user.user_id,
        "name": user.name,
        "roles": sorted(user.roles),
        "kind": user.kind,
    }

"""The web UI: one page, its ES modules (static/js/) and one stylesheet,
served as they are.

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

#: The media types served, by suffix: ES modules must come as JavaScript.
MEDIA_TYPES: dict[str, str] = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",  # the governance measures page
}


def asset_path(name: str) -> Path | None:
    """A file under static/ with a served suffix; nothing outside it (a
    crafted path with .. or a symlink out resolves elsewhere and is refused)."""
    path = (STATIC / name).resolve()
    if STATIC not in path.parents or path.suffix not in MEDIA_TYPES:
        return None
    return path if path.is_file() else None


#: The page is small and changes with each release of Quire: always revalidate.
NO_CACHE = {"Cache-Control": "no-cache"}


@router.get("/")
def index() -> FileResponse:
    return FileResponse(
        STATIC / "index.html", media_type="text/html; charset=utf-8", headers=NO_CACHE
    )


@router.get("/static/{name:path}")
def asset(name: str) -> FileResponse:
    path = asset_path(name)
    if path is None:
        raise NotFoundError("ASSET_NOT_FOUND", f"no UI asset {name!r}")
    return FileResponse(path, media_type=MEDIA_TYPES[path.suffix], headers=NO_CACHE)


@router.get("/ui/me")
def me(user: CurrentUser) -> dict[str, Any]:
    """Who the bearer token belongs to, for the page's header."""
    return {
        "user_id": user.user_id,
        "name": user.name,
        "roles": sorted(user.roles),
        "kind": user.kind,
    }

"""Stateless calculations: the service-credit calculator (shared/API.md, seed 002).

The body is read as JSON with decimal numbers kept as Decimal (never float),
and the answer is written with its 6-dp and cent figures as JSON numbers with
exactly those digits (`workspace.credit.to_json`). Nothing is stored, and bad
input (422 with a stable code; malformed JSON 400) is not recorded as a refused write.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from api.deps import CurrentUser, ServicesDep
from workspace.credit import calculate, from_json, to_json

router = APIRouter(prefix="/v1/calculations", tags=["calculations"])

_BODY_DOC = {
    "x-writes-nothing": True,
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["facts", "rules"],
                    "properties": {
                        "facts": {"type": "object"},
                        "rules": {"type": "object"},
                    },
                    "additionalProperties": False,
                    "description": "See docs/API-additions.md (service credit).",
                }
            }
        },
    },
}


@router.post("/service-credit", openapi_extra=_BODY_DOC)
async def service_credit(
    request: Request, user: CurrentUser, svc: ServicesDep
) -> Response:
    """Computes a service credit under the rules given; decides nothing."""
    body = from_json(await request.body())
    result = await run_in_threadpool(calculate, body, svc.settings.calc_max_windows)
    return Response(content=to_json(result), media_type="application/json")

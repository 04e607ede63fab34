"""Metrics: the seeds' governance measures, and Prometheus's text format.

`GET /v1/metrics/governance[?since=&until=]` (auditors and admins; anyone
else 403) answers from the `governance` read model once it has caught up with
the log as it stood when the request arrived; JSON, or CSV with
`Accept: text/csv` or `?format=csv`. Definitions: docs/metrics.md.

`GET /metrics` needs no token, like /healthz: it says how the service runs
(latencies, lags, backlogs), never what a packet holds. Deployments that
must not show it keep it off the public listener (docs/metrics.md).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from api import prometheus
from api.deps import CurrentUser, ServicesDep
from projections import governance
from projections.governance import GovernanceFacts
from projections.governance_measures import Window, compute, to_csv
from projections.runner import bring_up_to_date
from projections.store import read_models_for
from workspace.errors import InvalidInputError, NotAllowedError

router = APIRouter(tags=["metrics"])

CSV = "text/csv; charset=utf-8"


def _moment(name: str, value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        raise InvalidInputError(
            "TIME_INVALID", f"{name} needs a time zone, e.g. 2025-03-01T09:00:00Z"
        )
    return value


@router.get("/v1/metrics/governance", response_model=None)
def governance_measures(
    request: Request,
    user: CurrentUser,
    svc: ServicesDep,
    since: Annotated[datetime | None, Query()] = None,
    until: Annotated[datetime | None, Query()] = None,
    format: Annotated[Literal["json", "csv"] | None, Query()] = None,
) -> Any:
    """Every governance measure for the window `[since, until)`."""
    if not (user.is_auditor or user.is_admin):
        raise NotAllowedError(
            "ROLE_NOT_ALLOWED",
            "governance measures are for auditors and admins",
            {"user": user.user_id},
        )
    window = Window(_moment("since", since), _moment("until", until))
    if window.since and window.until and window.since >= window.until:
        raise InvalidInputError("QUERY_INVALID", "since must be before until")
    store = read_models_for(svc)
    bring_up_to_date(store, [GovernanceFacts.name])
    measures = compute(governance.facts(store), window)
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    if wants_csv:
        return Response(to_csv(measures), media_type=CSV)
    return {
        "window": {
            "since": window.since.isoformat() if window.since else None,
            "until": window.until.isoformat() if window.until else None,
        },
        "measures": measures,
    }


@router.get("/metrics", include_in_schema=False)
def metrics(svc: ServicesDep) -> Response:
    """Prometheus text exposition (no auth; see the module's docstring)."""
    return Response(prometheus.exposition(svc), media_type=prometheus.CONTENT_TYPE)

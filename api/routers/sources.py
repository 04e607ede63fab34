"""Sources: cite, refresh (material refreshes supersede releases), withdraw."""

from __future__ import annotations

from fastapi import APIRouter

from api.deps import ExactBody, ServicesDep
from api.outcomes import OnPacketDep
from api.schemas import (
    SourceCreate,
    SourceCreated,
    SourceRefresh,
    SourceWithdraw,
    SupersedingResult,
    VersionPublic,
)
from release import connectors
from workspace import policy
from workspace.commands import CiteSource, RefreshSource, WithdrawSource

router = APIRouter(prefix="/v1/packets/{packet_id}/sources", tags=["sources"])


@router.post("", status_code=201)
def cite_source(body: SourceCreate, on: OnPacketDep, svc: ServicesDep) -> SourceCreated:
    """With `watch`, the reference must be one a connector reads within the
    settings (422 SOURCE_NOT_WATCHABLE, SOURCE_HOST_NOT_ALLOWED,
    SOURCE_PATH_NOT_ALLOWED); the source watcher then polls it."""
    watch = None
    if body.watch is not None:
        # Members only learn what the settings allow (checked before the
        # command, which authorizes again on the packet it saves).
        policy.require(on.user, "cite_source", on.read())
        limits = connectors.Limits.from_settings(svc.settings)
        connectors.check(body.reference, limits)
        watch = body.watch.model_dump(exclude_none=True)
    return on.created(CiteSource.from_body(body, watch=watch), body, SourceCreated)


@router.post("/{source_id}/refresh")
def refresh_source(
    source_id: str, body: SourceRefresh, raw: ExactBody, on: OnPacketDep
) -> SupersedingResult:
    """A new digest: material (superseding the releases relying on it) unless
    the release owner judges it non-material, with a reason. `worksheet_facts`
    (`{worksheet_id: facts}`) corrects worksheets citing this source in the
    same save (read exactly: decimals never pass through float)."""
    command = RefreshSource.from_body(
        body, source_id=source_id, worksheet_facts=raw.get("worksheet_facts")
    )
    return on.superseding(command, body)


@router.post("/{source_id}/withdraw")
def withdraw_source(
    source_id: str, body: SourceWithdraw, on: OnPacketDep
) -> VersionPublic:
    return on.version_after(WithdrawSource(source_id, body.reason))

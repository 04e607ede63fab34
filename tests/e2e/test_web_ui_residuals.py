"""Issue 9, item 11: acceptance of a residual objection is per release. An
objection accepted for a released revision stays open for the next release,
and the owner can accept it for that one from the page (the page used to offer
only objections in state `open`, so the next release stayed held for good)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.e2e.test_web_ui import (
    Server,
    browser,
    clarification_lane,
    entitlement_packet,
    expect,
    fill_dialog,
    open_page,
    require_routes,
    screenshot,
    server,
)

__all__ = ["browser", "open_page", "server"]


def test_an_objection_accepted_for_one_release_is_accepted_again_for_the_next(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    require_routes(server)
    clarification_lane(server, "residual-review", [])
    with server.client("priya.rao") as priya:
        packet_id, section_id = entitlement_packet(priya, "Scope", "Tier 2 only.")
        base = f"/v1/packets/{packet_id}"
        objection = {"target": {}, "text": "Tier 3 environments are not sourced."}
        oid = priya.post(f"{base}/objections", json=objection).json()["objection_id"]
        first = priya.post(f"{base}/revisions", json={}).json()
        rel1 = priya.post(
            f"{base}/releases",
            json={"revision": first["revision"], "lane": "residual-review"},
        ).json()["release_id"]
    with server.client("maya.chen") as maya:
        accepted = maya.post(
            f"{base}/releases/{rel1}/residuals",
            json={"objection_id": oid, "rationale": "tier 3 is out of scope"},
        )
        assert accepted.status_code == 200, accepted.text
        approved = maya.post(
            f"{base}/releases/{rel1}/approve",
            json={
                "content_hash": first["content_hash"],
                "meaning": "approved for residual review",
                "passphrase": "pw",
            },
        )
        assert approved.status_code == 200, approved.text
    with server.client("priya.rao") as priya:
        version = priya.get(base).json()["version"]
        edit = {"base_version": version, "text": "Tier 2 only, as ordered."}
        assert priya.post(f"{base}/sections/{section_id}/edits", json=edit).is_success
        second = priya.post(f"{base}/revisions", json={}).json()
        requested = priya.post(
            f"{base}/releases",
            json={"revision": second["revision"], "lane": "residual-review"},
        ).json()
        rel2 = requested["release_id"]
        assert [h["code"] for h in requested["hold_reasons"]] == ["OBJECTION_OPEN"]

    page = open_page("maya.chen")
    page.goto(f"{server.url}/#/packets/{packet_id}")
    held = page.get_by_test_id("release").filter(has_text=rel2)
    expect(held.get_by_test_id("hold-reasons")).to_contain_text("OBJECTION_OPEN")
    held.get_by_role("button", name="Accept residual").click()
    fill_dialog(page, {"objection_id": oid, "rationale": "still out of scope"})
    expect(held.get_by_test_id("hold-reasons")).to_have_count(0)
    screenshot(page, "residual-accepted-for-the-next-release")

    with server.client("maya.chen") as maya:
        release = maya.get(f"{base}/releases/{rel2}").json()
    assert release["hold_reasons"] == []
    assert [r["objection_id"] for r in release["residuals"]] == [oid]

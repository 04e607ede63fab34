"""Issue 14 and 15: a lane member reads what was signed and decides on the
release from the page (returned with a reason category), which the owner sees."""

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


def test_a_lane_member_reads_what_was_signed_and_returns_the_release(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    require_routes(server)
    clarification_lane(server, "decide-lane", ["quire.admin"])
    with server.client("priya.rao") as priya:
        packet_id, _ = entitlement_packet(priya, "Scope", "Tier 2 only.")
        base = f"/v1/packets/{packet_id}"
        revision = priya.post(f"{base}/revisions", json={}).json()
        rid = priya.post(
            f"{base}/releases",
            json={"revision": revision["revision"], "lane": "decide-lane"},
        ).json()["release_id"]
    with server.client("maya.chen") as maya:
        approved = maya.post(
            f"{base}/releases/{rid}/approve",
            json={
                "content_hash": revision["content_hash"],
                "meaning": "approved for the decisions lane",
                "passphrase": "pw",
                "scope": {"covered_period": "2026-03"},
            },
        )
        assert approved.status_code == 200, approved.text

    page = open_page("quire.admin")
    page.goto(f"{server.url}/#/inbox/decide-lane/{packet_id}:{rid}")
    signed = page.get_by_test_id("what-was-signed")
    expect(signed).to_contain_text("approved for the decisions lane")
    expect(signed).to_contain_text("covered_period: 2026-03")
    page.get_by_test_id("return-release").click()
    fill_dialog(
        page,
        {"reason_category": "fresher_support", "reason": "the order form is stale"},
    )
    decision = page.get_by_test_id("lane-decision")
    expect(decision).to_contain_text("Returned")
    expect(decision).to_contain_text("Needs fresher support: the order form is stale")
    expect(page.get_by_test_id("accept-release")).to_have_count(0)
    screenshot(page, "lane-release-returned")

    with server.client("maya.chen") as maya:
        release = maya.get(f"{base}/releases/{rid}").json()
    assert release["decision"]["decision"] == "returned"
    assert release["decision"]["reason_category"] == "fresher_support"
    assert release["decision"]["reason"] == "the order form is stale"

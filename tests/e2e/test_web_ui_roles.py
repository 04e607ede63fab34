"""Each role's home in a real Chromium against a real `quire serve`: the
screen that fits the role, and no write control the role may not use; the
admin's users and lanes; a 390 px wide screen; axe-core on every screen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_web_ui import (
    UI_TIMEOUT_MS,
    Cast,
    Server,
    browser,
    expect,
    running_quire,
    screenshot,
)

__all__ = ["browser"]  # a fixture of test_web_ui.py, used here

pytestmark = pytest.mark.e2e

AXE = Path(__file__).with_name("vendor") / "axe.min.js"
LANE = "governance-intake"
KIND = "service-credit-clarification"
WRITE_CONTROLS = ["new-packet", "add-section", "cut-revision", "request-release"]


#: Everyone signs with the passphrase "pw" but the agent, who never signs.
CAST: Cast = {
    "dana.owner": ("Dana Owner", "--passphrase-stdin"),
    "sofia.author": ("Sofia Author", "--passphrase-stdin"),
    "oliver.reviewer": ("Oliver Reviewer", "--passphrase-stdin"),
    "mei.lane": ("Mei Lane", "--passphrase-stdin"),
    "ada.auditor": ("Ada Auditor", "--passphrase-stdin", "--auditor"),
    "quire.admin": ("Quire Admin", "--passphrase-stdin", "--admin"),
    "timeline-bot": ("Timeline agent", "--agent"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_quire(tmp_path_factory, "quire-roles", CAST) as srv:
        seed(srv)
        yield srv


def seed(srv: Server) -> None:
    """One packet with a held release in a lane: every role has something."""
    with srv.client("quire.admin") as admin:
        lane = {"id": LANE, "title": "Governance intake", "members": ["mei.lane"]}
        assert admin.post(
            "/v1/lanes", json={**lane, "accepts_kinds": [KIND]}
        ).is_success
    with srv.client("sofia.author") as http:
        opened = http.post(
            "/v1/packets",
            json={
                "kind": KIND,
                "title": "Service-credit clarification",
                "release_owner": "dana.owner",
                "authors": ["sofia.author", "timeline-bot"],
                "reviewers": ["oliver.reviewer"],
            },
        )
        assert opened.status_code == 201, opened.text
        pid = opened.json()["id"]
        base = f"/v1/packets/{pid}"
        assert http.post(
            f"{base}/sections", json={"heading": "Window", "text": "t"}
        ).is_success
        assert http.post(
            f"{base}/objections", json={"target": {}, "text": "open"}
        ).is_success
        revision = http.post(f"{base}/revisions", json={}).json()["revision"]
        requested = http.post(
            f"{base}/releases", json={"revision": revision, "lane": LANE}
        )
        assert requested.json()["status"] == "held", requested.text
    srv.missing = [pid]  # the packet id, for the tests


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def sign_in(user: str, width: int = 1360) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#token", server.tokens[user])
        page.click("form.signin button[type=submit]")
        expect(page.get_by_test_id("whoami")).to_contain_text(user)
        return page

    yield sign_in
    for context in contexts:
        context.close()


def packet_id(server: Server) -> str:
    return server.missing[0]


def axe_violations(page: Any) -> list[str]:
    """Serious and critical axe-core findings on the page as it stands."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document)).violations"
        ".filter(v => ['serious', 'critical'].includes(v.impact))"
        ".map(v => `${v.id}: ${v.help} (${v.nodes.map(n => n.target).join(' ')})`)"
    )
    return list(found)


def absent(page: Any, *testids: str) -> None:
    for testid in testids:
        expect(page.get_by_test_id(testid)).to_have_count(0)


def open_packet(page: Any, server: Server) -> None:
    page.goto(f"{server.url}/#/packets/{packet_id(server)}")
    expect(page.get_by_test_id("packet-title")).to_be_visible()
    expect(page.get_by_test_id("panel-releases")).to_be_visible()


# ------------------------------------------------------------------ homes
def test_a_co_author_works_on_her_packets(server: Server, open_page: Any) -> None:
    page = open_page("sofia.author")
    expect(page.get_by_test_id("your-packets")).to_contain_text("Service-credit")
    expect(page.get_by_test_id("new-packet")).to_be_visible()
    screenshot(page, "home-co-author")
    open_packet(page, server)
    expect(page.get_by_test_id("my-role")).to_have_text("co-author")
    expect(page.get_by_test_id("add-section")).to_be_visible()
    absent(page, "approve", "hold")
    assert axe_violations(page) == []


def test_a_reviewer_sees_what_awaits_review_and_cannot_write(
    server: Server, open_page: Any
) -> None:
    page = open_page("oliver.reviewer")
    expect(page.get_by_test_id("awaiting-review")).to_contain_text("Service-credit")
    screenshot(page, "home-reviewer")
    open_packet(page, server)
    expect(page.get_by_test_id("my-role")).to_have_text("reviewer")
    absent(page, *WRITE_CONTROLS, "approve", "hold")
    expect(page.get_by_test_id("section-text").first).not_to_be_editable()
    # Reviewers raise objections.
    expect(
        page.get_by_test_id("panel-objections").get_by_role("button", name="Raise")
    ).to_be_visible()
    screenshot(page, "packet-reviewer")
    assert axe_violations(page) == []


def test_the_owner_sees_what_awaits_her_signature(
    server: Server, open_page: Any
) -> None:
    page = open_page("dana.owner")
    expect(page.get_by_test_id("awaiting-signature")).to_contain_text("Service-credit")
    screenshot(page, "home-owner")
    open_packet(page, server)
    expect(page.get_by_test_id("my-role")).to_have_text("owner")
    expect(page.get_by_test_id("approve")).to_be_visible()
    assert axe_violations(page) == []


def test_a_lane_member_lands_in_the_inbox(server: Server, open_page: Any) -> None:
    page = open_page("mei.lane")
    expect(page.locator("h1")).to_have_text(f"Lane inbox: {LANE}")
    expect(page.get_by_test_id("account-role")).to_have_text("lane member")
    absent(page, "new-packet")
    screenshot(page, "home-lane-member")
    assert axe_violations(page) == []


def test_an_auditor_searches_history_and_writes_nothing(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    expect(page.get_by_test_id("audit-history")).to_contain_text("Service-credit")
    absent(page, "new-packet")
    page.get_by_test_id("packet-search").fill("no such packet")
    expect(page.get_by_test_id("packet-list")).to_have_count(0)
    page.get_by_test_id("packet-search").fill("dana")
    expect(page.get_by_test_id("packet-list")).to_contain_text("Service-credit")
    screenshot(page, "home-auditor")
    assert axe_violations(page) == []
    open_packet(page, server)
    expect(page.get_by_test_id("my-role")).to_have_text("auditor")
    absent(page, *WRITE_CONTROLS, "approve", "hold")
    for panel in ("panel-sources", "panel-objections", "panel-prerequisites"):
        expect(page.get_by_test_id(panel).locator("header button")).to_have_count(0)
    expect(page.get_by_test_id("section-text").first).not_to_be_editable()
    screenshot(page, "packet-auditor")


def test_an_agent_author_cannot_approve_or_cut(server: Server, open_page: Any) -> None:
    page = open_page("timeline-bot")
    open_packet(page, server)
    expect(page.get_by_test_id("my-role")).to_have_text("agent")
    absent(page, *WRITE_CONTROLS, "approve", "hold")


# ------------------------------------------------------------------ admin
def test_the_admin_creates_a_user_and_a_lane_from_the_page(
    server: Server, open_page: Any
) -> None:
    page = open_page("quire.admin")
    expect(page.get_by_test_id("admin-users")).to_contain_text("sofia.author")
    absent(page, "new-packet")
    assert axe_violations(page) == []
    screenshot(page, "home-admin")

    page.get_by_test_id("add-user").click()
    dialog = page.locator("#form-dialog")
    dialog.locator("[name=user_id]").fill("hannah.kim")
    dialog.locator("[name=name]").fill("Hannah Kim")
    dialog.locator("#form-dialog-ok").click()
    # The same dialog shows the new token, once.
    token = page.get_by_test_id("new-token").inner_text()
    assert token
    page.locator("#form-dialog-cancel").click()
    expect(page.get_by_test_id("user-list")).to_contain_text("hannah.kim")
    with server.client("quire.admin") as http:
        http.headers["Authorization"] = f"Bearer {token}"
        assert http.get("/v1/me").json()["user_id"] == "hannah.kim"

    page.get_by_test_id("create-lane").click()
    dialog.locator("[name=id]").fill("billing-intake")
    dialog.locator("[name=title]").fill("Billing intake")
    dialog.locator("[name=accepts_kinds]").fill(KIND)
    dialog.locator("[name=members]").select_option(["hannah.kim", "mei.lane"])
    dialog.locator("#form-dialog-ok").click()
    expect(page.get_by_test_id("lane-list")).to_contain_text("Billing intake")
    with server.client("quire.admin") as http:
        lanes = {x["id"]: x for x in http.get("/v1/lanes").json()["items"]}
    assert sorted(lanes["billing-intake"]["members"]) == ["hannah.kim", "mei.lane"]
    screenshot(page, "admin-lane-created")


# ------------------------------------------------------------ narrow screen
def no_sideways_scroll(page: Any) -> None:
    width = page.evaluate("() => document.documentElement.scrollWidth")
    wide = page.evaluate(
        "() => [...document.querySelectorAll('body *')]"
        ".filter(e => e.getBoundingClientRect().right > 390)"
        ".slice(0, 5).map(e => e.tagName + '.' + e.className)"
    )
    assert width <= 390, (width, wide)


def test_a_390_px_screen_never_scrolls_sideways(server: Server, open_page: Any) -> None:
    owner = open_page("dana.owner", width=390)
    expect(owner.get_by_test_id("packet-list").first).to_be_visible()
    no_sideways_scroll(owner)
    screenshot(owner, "narrow-packet-list")
    open_packet(owner, server)
    no_sideways_scroll(owner)
    screenshot(owner, "narrow-packet")
    lane = open_page("mei.lane", width=390)
    expect(lane.locator("h1")).to_have_text(f"Lane inbox: {LANE}")
    no_sideways_scroll(lane)
    screenshot(lane, "narrow-inbox")


def test_the_sign_in_page_says_how_to_get_a_token(browser: Any, server: Server) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        expect(page.locator("form.signin")).to_contain_text("quire users add")
        # Not a demo server: no demo people offered.
        expect(page.get_by_test_id("demo-people")).to_have_count(0)
        assert axe_violations(page) == []
        screenshot(page, "signin")
    finally:
        context.close()

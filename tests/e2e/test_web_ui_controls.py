"""The controls every role needs all day, in a real Chromium against a real
`quire serve`: reply to and withdraw objections, rename/move/remove sections,
withdraw sources, change packet members, cancel a release request; each shown
only to those the server's permissions allow (and used through the page); and
the conflict box's word diff.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_web_ui import (
    HOLD_SENDS,
    UI_TIMEOUT_MS,
    Server,
    expect,
    fill_dialog,
    screenshot,
    select_text,
)
from tests.e2e.test_web_ui_audit import (
    KIND,
    LANE,
    browser,  # noqa: F401  (the module's Chromium)
    start_server,
    stop_server,
)
from tests.e2e.test_web_ui_roles import absent as absent_all
from tests.e2e.test_web_ui_roles import axe_violations

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("quire-controls"))
    try:
        with srv.client("quire.admin") as admin:
            lane = {"id": LANE, "title": "Governance intake", "members": []}
            assert admin.post(
                "/v1/lanes", json={**lane, "accepts_kinds": [KIND]}
            ).is_success
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Callable[..., Any]]:  # noqa: F811
    contexts: list[Any] = []

    def sign_in(user: str, packet_id: str) -> Any:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#token", server.tokens[user])
        page.click("form.signin button[type=submit]")
        expect(page.get_by_test_id("whoami")).to_contain_text(user)
        page.goto(f"{server.url}/#/packets/{packet_id}")
        expect(page.get_by_test_id("packet-title")).to_be_visible()
        expect(page.get_by_test_id("my-role")).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def new_packet(srv: Server, *sections: tuple[str, str]) -> tuple[str, list[str]]:
    with srv.client("sofia.author") as http:
        opened = http.post(
            "/v1/packets",
            json={
                "kind": KIND,
                "title": "Service-credit clarification",
                "release_owner": "dana.owner",
                "authors": ["sofia.author"],
                "reviewers": ["oliver.reviewer"],
            },
        )
        assert opened.status_code == 201, opened.text
        pid = opened.json()["id"]
        ids = []
        for heading, text in sections:
            added = http.post(
                f"/v1/packets/{pid}/sections", json={"heading": heading, "text": text}
            )
            assert added.status_code == 201, added.text
            ids.append(added.json()["section_id"])
    return pid, ids


def packet(srv: Server, pid: str) -> dict[str, Any]:
    with srv.client("ada.auditor") as http:
        got = http.get(f"/v1/packets/{pid}")
        assert got.is_success, got.text
        result: dict[str, Any] = got.json()
        return result


def absent(page: Any, *testids: str) -> None:
    absent_all(page, *testids)


# ---------------------------------------------------------------- sections
def test_a_co_author_renames_moves_and_removes_sections(
    server: Server, open_page: Any
) -> None:
    pid, (window, credit, scope) = new_packet(
        server, ("Window", "w"), ("Credit", "c"), ("Scope", "s")
    )
    reviewer = open_page("oliver.reviewer", pid)
    expect(reviewer.get_by_test_id("section")).to_have_count(3)
    absent(reviewer, "section-manage")
    assert axe_violations(reviewer) == []

    page = open_page("sofia.author", pid)
    card = page.locator(f"[data-section-id='{scope}']")
    card.get_by_test_id("section-manage").click()
    fill_dialog(page, {"heading": "Exclusions", "position": "0"})
    expect(card.get_by_test_id("section-heading")).to_have_text("Exclusions")
    expect(page.get_by_test_id("section-heading")).to_have_text(
        ["Exclusions", "Window", "Credit"]
    )
    after = packet(server, pid)["sections"]
    assert [(s["id"], s["heading"]) for s in after] == [
        (scope, "Exclusions"),
        (window, "Window"),
        (credit, "Credit"),
    ]
    # The reviewer's page follows the move and the rename live.
    expect(reviewer.get_by_test_id("section-heading")).to_have_text(
        ["Exclusions", "Window", "Credit"]
    )

    page.locator(f"[data-section-id='{credit}']").get_by_test_id(
        "section-manage"
    ).click()
    dialog = page.locator("#form-dialog")
    dialog.locator("[name=remove]").check()
    screenshot(page, "controls-section-remove")
    assert axe_violations(page) == []
    dialog.locator("#form-dialog-ok").click()
    expect(page.get_by_test_id("section")).to_have_count(2)
    assert [s["id"] for s in packet(server, pid)["sections"]] == [scope, window]
    expect(reviewer.get_by_test_id("section")).to_have_count(2)


# -------------------------------------------------------------- objections
def test_objections_get_replies_and_only_their_raiser_withdraws(
    server: Server, open_page: Any
) -> None:
    pid, _ = new_packet(server, ("Window", "w"))
    with server.client("oliver.reviewer") as http:
        raised = http.post(
            f"/v1/packets/{pid}/objections",
            json={"target": {}, "text": "Which outage?"},
        )
        oid = raised.json()["objection_id"]

    author = open_page("sofia.author", pid)
    objection = author.get_by_test_id("objection")
    # A member replies; only the one who raised it withdraws it.
    expect(objection.get_by_test_id("objection-reply")).to_be_visible()
    expect(objection.get_by_test_id("objection-withdraw")).to_have_count(0)
    objection.get_by_test_id("objection-reply").click()
    fill_dialog(author, {"answer": "The April outage, ticket 7."})
    expect(objection).to_contain_text("The April outage, ticket 7.")
    answers = packet(server, pid)["objections"][0]["answers"]
    assert [a["text"] for a in answers] == ["The April outage, ticket 7."]

    auditor = open_page("ada.auditor", pid)
    expect(auditor.get_by_test_id("objection")).to_contain_text("ticket 7")
    absent(auditor, "objection-reply", "objection-withdraw")

    raiser = open_page("oliver.reviewer", pid)
    mine = raiser.get_by_test_id("objection")
    screenshot(raiser, "controls-objection-withdraw")
    assert axe_violations(raiser) == []
    mine.get_by_test_id("objection-withdraw").click()
    fill_dialog(raiser, {})
    expect(mine.get_by_test_id("status")).to_have_text("withdrawn")
    assert packet(server, pid)["objections"][0]["state"] == "withdrawn"
    assert packet(server, pid)["objections"][0]["id"] == oid
    absent(raiser, "objection-withdraw", "objection-reply")


# ----------------------------------------------------------------- sources
def test_a_co_author_withdraws_a_source_and_a_reviewer_cannot(
    server: Server, open_page: Any
) -> None:
    pid, _ = new_packet(server, ("Window", "w"))
    with server.client("sofia.author") as http:
        cited = http.post(
            f"/v1/packets/{pid}/sources",
            json={
                "kind": "order_form",
                "title": "Signed order form",
                "reference": "crm://contracts/ORD-2291",
                "digest": "sha256:" + "ab" * 32,
                "precedence": 1,
            },
        )
        assert cited.status_code == 201, cited.text
    reviewer = open_page("oliver.reviewer", pid)
    expect(reviewer.get_by_test_id("panel-sources")).to_contain_text("Signed order")
    absent(reviewer, "source-withdraw")

    page = open_page("sofia.author", pid)
    page.get_by_test_id("source-withdraw").click()
    fill_dialog(page, {"reason": "Superseded by the renewal order form."})
    sources = page.get_by_test_id("panel-sources")
    expect(sources.get_by_test_id("status")).to_have_text("withdrawn")
    absent(page, "source-withdraw")
    assert packet(server, pid)["sources"][0]["status"] == "withdrawn"
    screenshot(page, "controls-source-withdrawn")
    assert axe_violations(page) == []


# ----------------------------------------------------------------- members
def test_the_release_owner_changes_members_and_a_co_author_cannot(
    server: Server, open_page: Any
) -> None:
    pid, _ = new_packet(server, ("Window", "w"))
    author = open_page("sofia.author", pid)
    expect(author.get_by_test_id("my-role")).to_have_text("co-author")
    absent(author, "change-members")
    expect(author.locator(".packet-meta")).not_to_contain_text("null")
    reviewer = open_page("oliver.reviewer", pid)
    absent(reviewer, "change-members")

    owner = open_page("dana.owner", pid)
    owner.get_by_test_id("change-members").click()
    dialog = owner.locator("#form-dialog")
    # Pickers fed by GET /v1/users: Oliver moves from reviewer to co-author.
    dialog.locator("[name=authors]").select_option(["sofia.author", "oliver.reviewer"])
    dialog.locator("[name=reviewers]").select_option([])
    screenshot(owner, "controls-members")
    assert axe_violations(owner) == []
    dialog.locator("#form-dialog-ok").click()
    expect(dialog).to_be_hidden()
    expect(owner.get_by_test_id("packet-page")).to_contain_text(
        "co-authors oliver.reviewer, sofia.author"
    )
    after = packet(server, pid)
    assert sorted(after["authors"]) == ["oliver.reviewer", "sofia.author"]
    assert after["reviewers"] == []
    # Oliver now writes: the page he opens says so.
    again = open_page("oliver.reviewer", pid)
    expect(again.get_by_test_id("add-section")).to_be_visible()


# ---------------------------------------------------------------- releases
def test_the_requester_cancels_a_release_request(
    server: Server, open_page: Any
) -> None:
    pid, _ = new_packet(server, ("Window", "w"))
    with server.client("sofia.author") as http:
        base = f"/v1/packets/{pid}"
        assert http.post(
            f"{base}/objections", json={"target": {}, "text": "open"}
        ).is_success
        number = http.post(f"{base}/revisions", json={}).json()["revision"]
        held = http.post(f"{base}/releases", json={"revision": number, "lane": LANE})
        assert held.json()["status"] == "held", held.text
        rid = held.json()["release_id"]
    for user in ("oliver.reviewer", "ada.auditor"):
        absent(open_page(user, pid), "cancel-release")
    # The owner may cancel it too.
    expect(
        open_page("dana.owner", pid).get_by_test_id("cancel-release")
    ).to_be_visible()

    page = open_page("sofia.author", pid)
    page.get_by_test_id("cancel-release").click()
    fill_dialog(page, {"reason": "Wrong lane: this goes to billing."})
    release = page.get_by_test_id("release")
    expect(release.get_by_test_id("status")).to_have_text("cancelled")
    absent(page, "cancel-release")
    with server.client("sofia.author") as http:
        assert http.get(f"{base}/releases/{rid}").json()["status"] == "cancelled"
    screenshot(page, "controls-release-cancelled")
    assert axe_violations(page) == []


# ---------------------------------------------------------------- conflict
def test_the_conflict_box_shows_the_losing_change_word_by_word(
    server: Server, open_page: Any
) -> None:
    pid, (sid,) = new_packet(
        server, ("Window", "The window starts at the first error.")
    )
    with server.client("dana.owner") as http:
        members = {
            "release_owner": "dana.owner",
            "authors": ["sofia.author", "oliver.reviewer"],
            "reviewers": [],
        }
        assert http.post(f"/v1/packets/{pid}/members", json=members).is_success
    sofia, oliver = open_page("sofia.author", pid), open_page("oliver.reviewer", pid)
    for page in (sofia, oliver):
        expect(page.get_by_test_id("live-status")).to_have_text("live")
    mine = sofia.locator(f"[data-section-id='{sid}']")
    theirs = oliver.locator(f"[data-section-id='{sid}']")
    sofia.evaluate(HOLD_SENDS)
    select_text(sofia, mine.get_by_test_id("section-text"), "first")
    sofia.keyboard.type("earliest")
    select_text(oliver, theirs.get_by_test_id("section-text"), "first")
    oliver.keyboard.type("initial")
    expect(theirs.get_by_test_id("save-state")).to_have_text("saved")
    sofia.evaluate("() => window.releaseSends()")
    expect(mine.get_by_test_id("conflict-id")).to_be_visible()
    diff = mine.get_by_test_id("conflict-diff")
    expect(diff.locator("del")).to_have_text("initial")
    expect(diff.locator("ins")).to_have_text("earliest")
    expect(diff).to_have_text("The window starts at the initialearliest error.")
    screenshot(sofia, "controls-conflict-word-diff")
    assert axe_violations(sofia) == []


def test_routes_refuse_what_the_page_hides(server: Server) -> None:
    """The page hides what the server refuses: the same writes by the roles
    the tests above show no control to are 403."""
    pid, (sid,) = new_packet(server, ("Window", "w"))
    base = f"/v1/packets/{pid}"
    with server.client("oliver.reviewer") as http:
        for path, body in [
            (f"{base}/sections/{sid}/retitle", {"heading": "x"}),
            (f"{base}/sections/{sid}/remove", {}),
            (
                f"{base}/members",
                {"release_owner": "oliver.reviewer", "authors": [], "reviewers": []},
            ),
        ]:
            refused: httpx.Response = http.post(path, json=body)
            assert refused.status_code == 403, (path, refused.text)

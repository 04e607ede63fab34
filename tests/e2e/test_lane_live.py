"""Lane members' pages update live (issue 14, "Done when").

A real `quire serve` (SQLite) and headless Chromium: a lane member has the
lane's inbox and the release's page open; the release is superseded through
the API; both pages show it superseded without a reload (Playwright waits on
the page's DOM, no sleep). The lane's websocket itself is checked too: a
member gets `release` and `supersession` messages, an outsider is refused.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.conftest import DatabaseFactory, QuireServer
from tests.e2e.test_web_ui import (
    CHROMIUM,
    CHROMIUM_ARGS,
    UI_TIMEOUT_MS,
    expect,
    require_chromium,
    screenshot,
)

pytestmark = pytest.mark.e2e

PASSPHRASE = "maya signs carefully"
KIND = "clarification"


@pytest.fixture
def world(quire_database: DatabaseFactory) -> Iterator[QuireServer]:
    db = quire_database("sqlite")
    db.add_user("root", "Root Admin", "--admin")
    db.add_user("ben", "Ben Ortiz")
    db.add_user("maya", "Maya Chen", passphrase=PASSPHRASE)
    db.add_user("lars", "Lars Lane")
    server = db.serve()
    with server.client("root") as root:
        lane = {"id": "intake", "title": "Intake", "members": ["lars"]}
        made = root.post("/v1/lanes", json={**lane, "accepts_kinds": [KIND]})
        assert made.status_code == 201, made.text
    yield server


def released_packet(server: QuireServer) -> tuple[str, str, str]:
    """A packet with one source, released to the lane: (packet, source, release)."""
    with server.client("ben") as ben, server.client("maya") as maya:
        pid = ben.post(
            "/v1/packets",
            json={
                "kind": KIND,
                "title": "Credit clarification",
                "release_owner": "maya",
            },
        ).json()["id"]
        ben.post(f"/v1/packets/{pid}/sections", json={"heading": "H", "text": "t"})
        sid = ben.post(
            f"/v1/packets/{pid}/sources",
            json={
                "kind": "telemetry",
                "title": "Extract",
                "reference": "ref-1",
                "digest": "sha256:1",
                "precedence": 1,
            },
        ).json()["source_id"]
        revision = ben.post(f"/v1/packets/{pid}/revisions", json={}).json()
        rid = ben.post(
            f"/v1/packets/{pid}/releases",
            json={"revision": revision["revision"], "lane": "intake"},
        ).json()["release_id"]
        approved = maya.post(
            f"/v1/packets/{pid}/releases/{rid}/approve",
            json={
                "content_hash": revision["content_hash"],
                "meaning": "approved",
                "passphrase": PASSPHRASE,
            },
        )
        assert approved.status_code == 200, approved.text
    return pid, sid, rid


def supersede(server: QuireServer, pid: str, sid: str, rid: str) -> None:
    with server.client("ben") as ben:
        refreshed = ben.post(
            f"/v1/packets/{pid}/sources/{sid}/refresh",
            json={"digest": "sha256:2", "reason": "a new extract"},
        )
    assert refreshed.json()["superseded_releases"] == [rid], refreshed.text


async def lane_messages(
    server: QuireServer, user: str, until: str, act: Any
) -> list[dict[str, Any]]:
    token = server.database.tokens[user]
    got: list[dict[str, Any]] = []
    async with websockets.connect(server.ws_url("/v1/lanes/intake/live")) as ws:
        await ws.send(json.dumps({"type": "auth", "token": token}))
        first = json.loads(await asyncio.wait_for(ws.recv(), 10))
        got.append(first)
        if first["type"] != "subscribed":
            return got
        await asyncio.to_thread(act)
        while got[-1]["type"] != until:
            got.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
    return got


def test_a_lane_member_is_told_of_releases_and_supersessions_an_outsider_is_not(
    world: QuireServer,
) -> None:
    made: dict[str, str] = {}

    def release() -> None:
        made["pid"], made["sid"], made["rid"] = released_packet(world)

    got = asyncio.run(lane_messages(world, "lars", "release", release))
    assert got[-1]["release_id"] == made["rid"]
    assert got[-1]["packet_id"] == made["pid"] and got[-1]["manifest_hash"]
    got = asyncio.run(
        lane_messages(
            world,
            "lars",
            "supersession",
            lambda: supersede(world, made["pid"], made["sid"], made["rid"]),
        )
    )
    assert got[-1]["release_id"] == made["rid"]
    assert got[-1]["cause"] == "SOURCE_DRIFT"
    refused = asyncio.run(lane_messages(world, "ben", "never", lambda: None))
    assert refused == [
        {
            "type": "error",
            "code": "LANE_MEMBERS_ONLY",
            "message": "only members of lane intake see what is released to it",
        }
    ]


def test_a_lane_members_pages_show_the_supersession_without_a_reload(
    world: QuireServer,
) -> None:
    require_chromium()
    from playwright.sync_api import sync_playwright

    pid, sid, rid = released_packet(world)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            pages = []
            for where in ("#/inbox/intake", f"#/inbox/intake/{pid}:{rid}"):
                context = chromium.new_context(viewport={"width": 1360, "height": 900})
                context.set_default_timeout(UI_TIMEOUT_MS)
                page = context.new_page()
                page.goto(world.url + "/")
                page.fill("#token", world.database.tokens["lars"])
                page.click("form.signin button[type=submit]")
                expect(page.get_by_test_id("whoami")).to_contain_text("lars")
                page.goto(world.url + "/" + where)
                expect(page.get_by_test_id("status").first).to_have_text("released")
                expect(page.get_by_test_id("lane-live")).to_have_attribute(
                    "data-live", "on"
                )
                page.evaluate("window.__sameDocument = true")
                pages.append(page)

            supersede(world, pid, sid, rid)

            for page in pages:
                expect(page.get_by_test_id("status").first).to_have_text("superseded")
                assert page.evaluate("window.__sameDocument === true")
            expect(pages[1].locator(".release-view")).to_contain_text("SOURCE_DRIFT")
            screenshot(pages[0], "lane-inbox-live-superseded")
        finally:
            chromium.close()
    with httpx.Client(base_url=world.url) as anon:
        assert anon.get("/v1/lanes/intake/inbox").status_code == 401


def test_a_lane_member_who_opens_a_release_while_the_home_page_loads_stays_on_it(
    world: QuireServer,
) -> None:
    """Signed in, a lane member's home reads the packet list and then sends
    them to their inbox; if they opened a release meanwhile, that older render
    must not take them away from it (it did: the inbox replaced the page)."""
    require_chromium()
    from playwright.sync_api import Route, sync_playwright

    pid, _, rid = released_packet(world)
    detail = f"#/inbox/intake/{pid}:{rid}"
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = chromium.new_page(viewport={"width": 1360, "height": 900})
            page.set_default_timeout(UI_TIMEOUT_MS)
            held: list[Route] = []
            page.route("**/v1/packets", lambda route: held.append(route))
            page.goto(world.url + "/")
            page.fill("#token", world.database.tokens["lars"])
            with page.expect_request("**/v1/packets"):  # the home's read, held
                page.click("form.signin button[type=submit]")
            expect(page.get_by_test_id("whoami")).to_contain_text("lars")
            assert len(held) == 1
            page.goto(world.url + "/" + detail)
            expect(page.locator(".release-view")).to_be_visible()
            with page.expect_response("**/v1/packets"):
                held[0].continue_()
            # Two frames: the home render's continuation has run by then.
            page.evaluate(
                "() => new Promise(r => requestAnimationFrame(() =>"
                " requestAnimationFrame(() => setTimeout(r, 0))))"
            )
            assert page.evaluate("location.hash") == detail
            expect(page.locator(".release-view")).to_be_visible()
        finally:
            chromium.close()

"""The web UI's working screens (issue 15, second half; issue 11 part 5) in a
real Chromium against a real `quire serve`: the worksheet editor, agents'
suggestions, the approval dialog, the auditor's timeline and export, word
diffs, text streaming while typing, and the missing controls. Every screen
is checked with axe-core (no serious or critical finding) and written as a
screenshot (QUIRE_E2E_SCREENSHOTS, /tmp/quire-e2e by default).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
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
from tests.e2e.test_web_ui_roles import axe_violations

__all__ = ["browser"]  # a fixture of test_web_ui.py, used here

pytestmark = pytest.mark.e2e

LANE = "governance-intake"
KIND = "service-credit-clarification"
FACTS = {
    "period": "2025-03",
    "outages": [
        {"start": "2025-03-14T01:00:00Z", "end": "2025-03-14T05:52:00Z"},
        {"start": "2025-03-20T10:00:00Z", "end": "2025-03-20T12:00:00Z"},
    ],
    "maintenance": [{"start": "2025-03-14T01:00:00Z", "end": "2025-03-14T03:00:00Z"}],
    "fee_amount": "48000.00",
}
CLAUSE = {
    "commitment_pct": "99.9",
    "tiers": [
        {"below_pct": "99.9", "credit_pct": 5},
        {"below_pct": "99.2", "credit_pct": 10},
    ],
    "cap_pct": 10,
}


#: Everyone signs with the passphrase "pw" but the agent, who never signs.
CAST: Cast = {
    "dana.owner": ("Dana Owner", "--passphrase-stdin"),
    "sofia.author": ("Sofia Author", "--passphrase-stdin"),
    "marcus.author": ("Marcus Author", "--passphrase-stdin"),
    "oliver.reviewer": ("Oliver Reviewer", "--passphrase-stdin"),
    "mei.lane": ("Mei Lane", "--passphrase-stdin"),
    "ada.auditor": ("Ada Auditor", "--passphrase-stdin", "--auditor"),
    "quire.admin": ("Quire Admin", "--passphrase-stdin", "--admin"),
    "timeline-bot": ("Timeline agent", "--agent"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_quire(tmp_path_factory, "quire-work", CAST) as srv:
        with srv.client("quire.admin") as admin:
            lane = {"id": LANE, "title": "Governance intake", "members": ["mei.lane"]}
            assert admin.post(
                "/v1/lanes", json={**lane, "accepts_kinds": [KIND]}
            ).is_success
        yield srv


def new_packet(
    srv: Server, title: str, text: str = "The window runs from 9 to 5."
) -> str:
    """A packet by sofia.author (with marcus.author and the agent as
    co-authors), one section and one cited source; returns its id."""
    with srv.client("sofia.author") as http:
        opened = http.post(
            "/v1/packets",
            json={
                "kind": KIND,
                "title": title,
                "release_owner": "dana.owner",
                "authors": ["sofia.author", "marcus.author", "timeline-bot"],
                "reviewers": ["oliver.reviewer"],
            },
        )
        assert opened.status_code == 201, opened.text
        pid = str(opened.json()["id"])
        base = f"/v1/packets/{pid}"
        assert http.post(
            f"{base}/sections", json={"heading": "Window", "text": text}
        ).is_success
        cited = http.post(
            f"{base}/sources",
            json={
                "kind": "telemetry-extract",
                "title": "Uptime telemetry extract, March",
                "reference": "telemetry://march",
                "digest": "sha256:telemetry-march-a",
                "precedence": 1,
            },
        )
        assert cited.status_code == 201, cited.text
    return pid


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def sign_in(user: str, packet: str | None = None, width: int = 1360) -> Any:
        context = browser.new_context(viewport={"width": width, "height": 900})
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#token", server.tokens[user])
        page.click("form.signin button[type=submit]")
        expect(page.get_by_test_id("whoami")).to_contain_text(user)
        if packet is not None:
            page.goto(f"{server.url}/#/packets/{packet}")
            expect(page.get_by_test_id("packet-title")).to_be_visible()
            expect(page.get_by_test_id("live-status")).to_have_text("live")
        return page

    yield sign_in
    for context in contexts:
        context.close()


def no_axe_findings(page: Any) -> None:
    assert axe_violations(page) == []


# ------------------------------------------------------------ worksheets
def test_the_worksheet_editor_shows_readings_side_by_side_live(
    server: Server, open_page: Any
) -> None:
    pid = new_packet(server, "Worksheet packet")
    base = f"/v1/packets/{pid}"
    with server.client("sofia.author") as http:
        src = http.get(base).json()["sources"][0]["id"]
        made = http.post(
            f"{base}/worksheets",
            json={
                "title": "March worksheet",
                "facts": FACTS,
                "cites": {"outages": src},
            },
        )
        assert made.status_code == 201, made.text
        wid = made.json()["worksheet_id"]
        excluded = {**CLAUSE, "maintenance_handling": "exclude_from_downtime"}
        for name, rules in (("Maintenance excluded", excluded), ("Counted", CLAUSE)):
            added = http.post(
                f"{base}/worksheets/{wid}/interpretations",
                json={"name": name, "rules": rules},
            )
            assert added.status_code == 201, added.text

    page = open_page("sofia.author", pid)
    sheet = page.get_by_test_id("worksheet")
    expect(sheet).to_contain_text("March worksheet")
    # Facts with the source each is cited from (title and digest).
    facts = page.get_by_test_id("worksheet-facts")
    expect(facts.locator("tr[data-fact=outages]")).to_contain_text(
        "Uptime telemetry extract, March"
    )
    expect(facts.locator("tr[data-fact=fee_amount]")).to_contain_text("not cited")
    # Interpretations as columns, with exact digits (never through a float).
    results = page.get_by_test_id("worksheet-results")
    expect(results.get_by_test_id("interpretation")).to_have_count(2)
    expect(results).to_contain_text("2400.00")
    expect(results).to_contain_text("4800.00")
    expect(results).to_contain_text("99.077061%")
    # The rows that differ are marked; the ones that agree are not.
    differs = results.get_by_test_id("differs")
    expect(differs.filter(has_text="Credit amount")).to_have_count(1)
    expect(differs.filter(has_text="Rule: maintenance_handling")).to_have_count(1)
    expect(differs.filter(has_text="Denominator")).to_have_count(0)
    expect(page.get_by_test_id("worksheet-differences")).to_contain_text(
        "credit amount 2400.00 → 4800.00"
    )
    expect(page.get_by_test_id("worksheet-note")).to_contain_text("does not decide")
    # Derivation steps on demand.
    steps = page.get_by_test_id("worksheet-steps").first
    expect(steps.locator("ol")).not_to_be_visible()
    steps.locator("summary").click()
    expect(steps.locator("ol")).to_contain_text("1 - 292/44,640")

    # Live: a co-author's new reading arrives without a reload, and the
    # open steps stay open.
    with server.client("marcus.author") as http:
        added = http.post(
            f"{base}/worksheets/{wid}/interpretations",
            json={
                "name": "Five-minute buckets",
                "rules": {**CLAUSE, "granularity_minutes": 5},
            },
        )
        assert added.status_code == 201, added.text
    expect(results.get_by_test_id("interpretation")).to_have_count(3)
    expect(page.get_by_test_id("worksheet-steps").first.locator("ol")).to_be_visible()

    # And from the page: the co-author adds a reading through the dialog.
    page.get_by_test_id("add-interpretation").click()
    dialog = page.locator("#form-dialog")
    dialog.locator("[name=name]").fill("Full buckets")
    dialog.locator("[name=rules]").fill(
        '{"commitment_pct": "99.9", "tiers": [{"below_pct": "99.9", "credit_pct": 5}],'
        ' "granularity_minutes": 60, "bucket_policy": "full_bucket"}'
    )
    dialog.locator("#form-dialog-ok").click()
    expect(dialog).to_be_hidden()
    expect(results.get_by_test_id("interpretation")).to_have_count(4)
    with server.client("sofia.author") as http:
        names = [
            i["name"]
            for i in http.get(f"{base}/worksheets/{wid}").json()["interpretations"]
        ]
    assert names[-1] == "Full buckets"
    screenshot(page, "worksheet-editor")
    no_axe_findings(page)


def test_a_worksheet_reader_sees_stale_cites_and_no_write_controls(
    server: Server, open_page: Any
) -> None:
    pid = new_packet(server, "Stale worksheet packet")
    base = f"/v1/packets/{pid}"
    with server.client("sofia.author") as http:
        src = http.get(base).json()["sources"][0]["id"]
        made = http.post(
            f"{base}/worksheets",
            json={"title": "Stale sheet", "facts": FACTS, "cites": {"outages": src}},
        )
        assert made.status_code == 201, made.text
    page = open_page("oliver.reviewer", pid)
    expect(page.get_by_test_id("worksheet")).to_contain_text("Stale sheet")
    expect(page.get_by_test_id("worksheet-stale")).to_have_count(0)
    expect(page.get_by_test_id("add-interpretation")).to_have_count(0)
    expect(page.get_by_test_id("new-worksheet")).to_have_count(0)
    with server.client("sofia.author") as http:
        refreshed = http.post(
            f"{base}/sources/{src}/refresh",
            json={"digest": "sha256:telemetry-march-b", "reason": "corrected extract"},
        )
        assert refreshed.is_success, refreshed.text
    # Live: the refresh makes the cite stale on the reviewer's screen.
    expect(page.get_by_test_id("worksheet-stale")).to_be_visible()
    expect(
        page.get_by_test_id("worksheet-facts").locator("tr[data-fact=outages]")
    ).to_contain_text("source changed")
    screenshot(page, "worksheet-stale-reviewer")
    no_axe_findings(page)


# ------------------------------------------------------------ suggestions
def section_text(server: Server, pid: str) -> str:
    with server.client("sofia.author") as http:
        return str(http.get(f"/v1/packets/{pid}").json()["sections"][0]["text"])


def suggestion(server: Server, pid: str, sid: str) -> dict[str, Any]:
    with server.client("sofia.author") as http:
        found = http.get(f"/v1/packets/{pid}").json()["suggestions"]
    return next(s for s in found if s["id"] == sid)


def test_an_agents_suggestion_is_seen_accepted_and_rejected(
    server: Server, open_page: Any
) -> None:
    original = "The window runs from 9 to 5 on weekdays."
    pid = new_packet(server, "Suggestion packet", original)
    agent = open_page("timeline-bot", pid)
    text = agent.get_by_test_id("section-text").first
    text.fill("The window runs from 8 to 5 on weekdays.")
    agent.get_by_test_id("propose-suggestion").click()
    expect(agent.get_by_test_id("save-state").first).to_contain_text("suggested as")
    # The section keeps the server's text; the suggestion waits in the panel.
    expect(text).to_have_value(original)
    panel = agent.get_by_test_id("panel-suggestions")
    expect(panel.get_by_test_id("suggestion")).to_have_count(1)
    # Not lost on reload (it used to stay on "saving..." and vanish).
    agent.reload()
    expect(agent.get_by_test_id("live-status")).to_have_text("live")
    expect(panel.get_by_test_id("suggestion")).to_have_count(1)
    expect(panel.get_by_test_id("word-diff").locator("ins")).to_have_text("8")
    expect(panel.get_by_test_id("accept-suggestion")).to_have_count(0)
    screenshot(agent, "suggestions-agent-after-reload")
    no_axe_findings(agent)

    human = open_page("sofia.author", pid)
    item = human.get_by_test_id("suggestion")
    expect(item).to_have_count(1)
    diff = item.get_by_test_id("word-diff")
    # Word level: one word out, one in; the rest of the paragraph unmarked.
    expect(diff.locator("del")).to_have_text("9")
    expect(diff.locator("ins")).to_have_text("8")
    screenshot(human, "suggestions-co-author")
    no_axe_findings(human)
    item.get_by_test_id("accept-suggestion").click()
    accepted = "The window runs from 8 to 5 on weekdays."
    expect(human.get_by_test_id("section-text").first).to_have_value(accepted)
    expect(text).to_have_value(accepted)  # live on the agent's page too
    expect(item.get_by_test_id("accept-suggestion")).to_have_count(0)
    assert section_text(server, pid) == accepted

    # A second one, rejected with a category.
    text.fill(accepted + " We will offer a 10% credit.")
    agent.get_by_test_id("propose-suggestion").click()
    expect(agent.get_by_test_id("save-state").first).to_contain_text("suggested as")
    pending = human.locator(
        "[data-testid=suggestion]:has([data-testid=reject-suggestion])"
    )
    expect(pending).to_have_count(1)
    sid = pending.get_attribute("data-suggestion-id")
    pending.get_by_test_id("reject-suggestion").click()
    dialog = human.locator("#form-dialog")
    dialog.locator("[name=category]").select_option("concession_recommendation")
    dialog.locator("[name=reason]").fill("Quire never recommends a credit.")
    dialog.locator("#form-dialog-ok").click()
    expect(dialog).to_be_hidden()
    rejected = suggestion(server, pid, str(sid))
    assert rejected["state"] == "rejected"
    assert rejected["rejection"]["category"] == "concession_recommendation"
    assert rejected["rejection"]["reason"] == "Quire never recommends a credit."
    assert section_text(server, pid) == accepted


def propose_by_http(server: Server, pid: str, text: str) -> str:
    with server.client("timeline-bot") as http:
        packet = http.get(f"/v1/packets/{pid}").json()
        sec = packet["sections"][0]["id"]
        done = http.post(
            f"/v1/packets/{pid}/sections/{sec}/edits",
            json={"base_version": packet["version"], "text": text},
        )
        assert done.is_success, done.text
        return str(done.json()["suggestion_id"])


def test_a_flagged_suggestion_needs_an_override_reason(
    server: Server, open_page: Any
) -> None:
    """Both ways a server may say a suggestion crosses a boundary: flags on
    the suggestion (shown; accepting asks for the reason first), or a 409
    BOUNDARY_FLAGGED answer to a plain accept (the page then asks for the
    reason and sends it). A server without boundary flags is made to say so
    here by rewriting its answers in the browser; one with them answers so
    itself."""
    pid = new_packet(server, "Flagged suggestion packet", "Support hours are 9 to 5.")
    flagged = propose_by_http(
        server, pid, "Support hours are 9 to 5. We will approve a 10% service credit."
    )
    flag = {
        "category": "concession_recommendation",
        "phrase": "approve a 10% service credit",
    }
    page = open_page("sofia.author")

    def with_flags(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for s in body.get("suggestions", []):
            if s["id"] == flagged and not s.get("boundary_flags"):
                s["boundary_flags"] = [flag]
        route.fulfill(response=response, json=body)

    page.route(f"**/v1/packets/{pid}", with_flags)
    page.goto(f"{server.url}/#/packets/{pid}")
    item = page.locator(f"[data-suggestion-id='{flagged}']")
    expect(item.get_by_test_id("boundary-flags")).to_contain_text(
        "Recommends a concession or credit"
    )
    screenshot(page, "suggestion-flagged")
    no_axe_findings(page)
    item.get_by_test_id("accept-suggestion").click()
    dialog = page.locator("#form-dialog")
    expect(dialog).to_contain_text("despite its boundary flags")
    dialog.locator("[name=override_reason]").fill("The lane asked for this wording.")
    with page.expect_request(f"**/suggestions/{flagged}/accept") as sent:
        dialog.locator("#form-dialog-ok").click()
    assert sent.value.post_data_json == {
        "override_reason": "The lane asked for this wording."
    }
    expect(dialog).to_be_hidden()
    assert suggestion(server, pid, flagged)["state"] == "accepted"

    # An unflagged-looking suggestion the server refuses with 409.
    plain = propose_by_http(
        server,
        pid,
        "Support hours are 9 to 5. We will approve a 10% service credit. Noted.",
    )
    bodies: list[Any] = []

    def refuse_without_reason(route: Any) -> None:
        bodies.append(route.request.post_data_json)
        if (route.request.post_data_json or {}).get("override_reason"):
            route.continue_()
            return
        route.fulfill(
            status=409,
            json={
                "error": {
                    "code": "BOUNDARY_FLAGGED",
                    "message": "accepting a flagged suggestion needs override_reason",
                    "details": {"boundary_flags": [flag]},
                }
            },
        )

    page.route(f"**/suggestions/{plain}/accept", refuse_without_reason)
    item = page.locator(f"[data-suggestion-id='{plain}']")
    item.get_by_test_id("accept-suggestion").click()
    expect(dialog).to_contain_text("approve a 10% service credit")
    dialog.locator("[name=override_reason]").fill("Checked with the owner.")
    dialog.locator("#form-dialog-ok").click()
    expect(dialog).to_be_hidden()
    assert bodies[0] in ({}, None) or not bodies[0].get("override_reason")
    assert bodies[-1] == {"override_reason": "Checked with the owner."}
    assert suggestion(server, pid, plain)["state"] == "accepted"


# ------------------------------------------------------------ streaming
def test_text_streams_to_the_co_author_while_typing(
    server: Server, open_page: Any
) -> None:
    """40 characters typed at 80 ms each: the co-author sees at least half of
    them before the typist stops (it used to be none until a pause)."""
    original = "Notes:"
    pid = new_packet(server, "Streaming packet", original)
    typist = open_page("sofia.author", pid)
    peer = open_page("marcus.author", pid)
    # The peer samples its textarea every 20 ms, with the (shared) clock.
    peer.evaluate(
        """() => {
          window.seen = [];
          const ta = document.querySelector('[data-testid=section-text]');
          setInterval(() => window.seen.push([Date.now(), ta.value.length]), 20);
        }"""
    )
    box = typist.get_by_test_id("section-text").first
    box.click()
    box.press("End")
    typed = " the outage window is clipped at the end."
    assert len(typed) == 40 + 1  # a leading space, then 40 characters
    box.press(" ")
    started = typist.evaluate("Date.now()")
    box.type(typed[1:], delay=80)
    stopped = typist.evaluate("Date.now()")
    assert stopped - started >= 40 * 80 * 0.9
    expect(peer.get_by_test_id("section-text").first).to_have_value(original + typed)
    seen = peer.evaluate("window.seen")
    # The last sample taken before the typist's last keystroke (minus one
    # keystroke's time, so this is "while typing continued").
    before_end = [n for t, n in seen if t <= stopped - 80]
    arrived = max(before_end) - len(original) - 1
    assert arrived >= 20, (arrived, seen[-10:])
    with server.client("sofia.author") as http:
        assert http.get(f"/v1/packets/{pid}").json()["sections"][0]["text"] == (
            original + typed
        )


# ------------------------------------------------------------ approval
def test_the_approval_dialog_shows_what_is_signed_and_warns_before_lockout(
    server: Server, open_page: Any
) -> None:
    pid = new_packet(server, "Approval packet", "Credits follow clause 7.2.")
    base = f"/v1/packets/{pid}"
    with server.client("sofia.author") as http:
        assert http.post(
            f"{base}/prerequisites",
            json={"title": "Covered period agreed", "satisfied": True},
        ).is_success
        cut = http.post(f"{base}/revisions", json={"label": "v1"}).json()
        requested = http.post(
            f"{base}/releases", json={"revision": cut["revision"], "lane": LANE}
        ).json()
        assert requested["status"] == "pending", requested
    rid = requested["release_id"]
    full_hash = cut["content_hash"]
    page = open_page("dana.owner", pid)
    page.get_by_test_id("approve").click()
    dialog = page.locator("#form-dialog")
    # The exact content and the manifest about to be signed, as documents.
    expect(dialog.get_by_test_id("signing-content")).to_contain_text(
        "Credits follow clause 7.2."
    )
    expect(dialog.get_by_test_id("signing-sources")).to_contain_text(
        "Uptime telemetry extract, March"
    )
    expect(dialog.get_by_test_id("signing-prerequisites")).to_contain_text(
        "Covered period agreed"
    )
    expect(dialog.get_by_test_id("signing-manifest")).to_contain_text(
        "Governance intake"
    )
    expect(dialog.get_by_test_id("signing-manifest-sources")).to_contain_text(
        "Uptime telemetry extract"
    )
    expect(dialog.get_by_test_id("signing-hash")).to_have_text(full_hash)
    # Nothing pre-filled: not the hash, not a generic meaning.
    expect(dialog.locator("[name=hash_prefix]")).to_have_value("")
    expect(dialog.locator("[name=meaning]")).to_have_value("")
    expect(dialog.get_by_test_id("lockout-warning")).to_be_hidden()
    screenshot(page, "approval-dialog")
    no_axe_findings(page)

    bare = full_hash.split(":")[-1]
    dialog.locator("[name=hash_prefix]").fill(
        "deadbeef" if bare[:8] != "deadbeef" else "00000000"
    )
    dialog.locator("[name=meaning]").fill(
        "Approved for governance intake; not a credit decision."
    )
    dialog.locator("[name=covered_period]").fill("2025-03")
    dialog.locator("[name=scope_note]").fill("March only")
    dialog.locator("[name=passphrase]").fill("wrong")
    sent: list[Any] = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data_json) if r.url.endswith("/approve") else None,
    )
    dialog.locator("#form-dialog-ok").click()
    expect(dialog.locator("#form-dialog-error")).to_contain_text("do not match")
    assert sent == []  # a wrong prefix sends nothing

    dialog.locator("[name=hash_prefix]").fill(bare[:8])
    dialog.locator("#form-dialog-ok").click()
    expect(dialog.locator("#form-dialog-error")).to_contain_text(
        "REAUTHENTICATION_FAILED"
    )
    expect(dialog.get_by_test_id("lockout-warning")).to_contain_text("4 attempts left")
    assert sent[-1]["content_hash"] == full_hash  # the full hash, not 8 chars
    screenshot(page, "approval-lockout-warning")

    dialog.locator("[name=passphrase]").fill("pw")
    dialog.locator("#form-dialog-ok").click()
    expect(dialog).to_be_hidden()
    with server.client("dana.owner") as http:
        manifest = http.get(f"{base}/releases/{rid}/manifest").json()
    assert manifest["status"] == "released"
    signed = manifest["manifest"]
    assert signed["meaning"] == "Approved for governance intake; not a credit decision."
    assert signed["scope"]["declared"] == {
        "covered_period": "2025-03",
        "note": "March only",
    }
    assert signed["revision"]["content_hash"] == full_hash

"""What an auditor does all day, in a real Chromium against a real `quire
serve`: scrub a timeline over packet versions, read an event in full (its type
in words), read the objection ledger and a manifest as documents, export the
packet's history and verify it (and see a tampered export refused); and the
export/verify routes refuse everyone else.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.test_web_ui import (
    QUIRE,
    UI_TIMEOUT_MS,
    Server,
    add_user,
    browser,
    expect,
    require_chromium,
    screenshot,
)
from tests.e2e.test_web_ui_roles import axe_violations
from tests.processes import free_port, start_serve

__all__ = ["browser"]  # a fixture of test_web_ui.py, used here

pytestmark = pytest.mark.e2e

LANE = "governance-intake"
KIND = "service-credit-clarification"
AFTER_RELEASE = "Credits apply to the April outage alone."
CAST = {
    "dana.owner": ("Dana Owner",),
    "sofia.author": ("Sofia Author",),
    "oliver.reviewer": ("Oliver Reviewer",),
    "ada.auditor": ("Ada Auditor", "--auditor"),
    "quire.admin": ("Quire Admin", "--admin"),
}


def start_server(home: Any) -> Server:
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": f"sqlite:///{home / 'quire.db'}",
        "QUIRE_SIGNING_KEY_PATH": str(home / "signing-key.pem"),
    }
    tokens = {
        user: add_user(env, home, user, name, "--passphrase-stdin", *flags)
        for user, (name, *flags) in CAST.items()
    }
    port = free_port()
    log = home / "serve.log"
    process = start_serve(
        [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        log=log,
    )
    return Server(
        url=f"http://127.0.0.1:{port}", tokens=tokens, log=log, process=process
    )


def stop_server(srv: Server) -> None:
    srv.process.terminate()
    try:
        srv.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        srv.process.kill()
        srv.process.wait(timeout=10)


def seed(srv: Server) -> str:
    """A packet with two revisions, an objection raised then answered, and a
    release approved (so it has a signed manifest)."""
    with srv.client("quire.admin") as admin:
        lane = {"id": LANE, "title": "Governance intake", "members": []}
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
                "authors": ["sofia.author"],
                "reviewers": ["oliver.reviewer"],
            },
        )
        assert opened.status_code == 201, opened.text
        pid = opened.json()["id"]
        base = f"/v1/packets/{pid}"
        sid = http.post(
            f"{base}/sections",
            json={"heading": "Window", "text": "Credits apply to the March outage."},
        ).json()["section_id"]
        assert http.post(f"{base}/revisions", json={"label": "first"}).is_success
        version = http.get(base).json()["version"]
        edit = http.post(
            f"{base}/sections/{sid}/edits",
            json={
                "base_version": version,
                "text": "Credits apply to the April outage.",
            },
        )
        assert edit.is_success, edit.text
        assert http.post(f"{base}/revisions", json={"label": "second"}).is_success
    with srv.client("oliver.reviewer") as http:
        raised = http.post(
            f"{base}/objections", json={"target": {}, "text": "Which outage?"}
        )
        oid = raised.json()["objection_id"]
        assert http.post(
            f"{base}/objections/{oid}/answer", json={"answer": "April, per ticket 7."}
        ).is_success
        assert http.post(f"{base}/objections/{oid}/withdraw", json={}).is_success
    with srv.client("sofia.author") as http:
        r = http.post(f"{base}/releases", json={"revision": 2, "lane": LANE}).json()
    with srv.client("dana.owner") as http:
        approved = http.post(
            f"{base}/releases/{r['release_id']}/approve",
            json={
                "content_hash": r["content_hash"],
                "meaning": "Approved for the governance intake",
                "passphrase": "pw",
            },
        )
        assert approved.is_success, approved.text
    with srv.client("sofia.author") as http:
        # After the release: one word more, and a new section.
        version = http.get(base).json()["version"]
        edit = http.post(
            f"{base}/sections/{sid}/edits",
            json={"base_version": version, "text": AFTER_RELEASE},
        )
        assert edit.is_success, edit.text
        assert http.post(
            f"{base}/sections", json={"heading": "Scope", "text": "Premium only."}
        ).is_success
    return pid


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    srv = start_server(tmp_path_factory.mktemp("quire-audit"))
    try:
        srv.missing = [seed(srv)]
        yield srv
    finally:
        stop_server(srv)


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Callable[..., Any]]:
    contexts: list[Any] = []

    def sign_in(user: str) -> Any:
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        context.set_default_timeout(UI_TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#token", server.tokens[user])
        page.click("form.signin button[type=submit]")
        expect(page.get_by_test_id("whoami")).to_contain_text(user)
        page.goto(f"{server.url}/#/packets/{server.missing[0]}")
        expect(page.get_by_test_id("packet-title")).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def close_dialog(page: Any) -> None:
    page.locator("#form-dialog-cancel").click()
    expect(page.locator("#form-dialog")).to_be_hidden()


# ------------------------------------------------------------------ routes
def test_only_auditors_export_and_verify(server: Server) -> None:
    pid = server.missing[0]
    for user in ("dana.owner", "sofia.author", "oliver.reviewer", "quire.admin"):
        with server.client(user) as http:
            got = http.get(f"/v1/packets/{pid}/audit/export")
            assert got.status_code == 403, (user, got.text)
            assert got.json()["error"]["code"] == "ROLE_NOT_ALLOWED"
            verdict = http.post("/v1/audit/verify", json={"lines": []})
            assert verdict.status_code == 403, (user, verdict.text)
    with server.client("ada.auditor") as http:
        export = http.get(f"/v1/packets/{pid}/audit/export")
        assert export.status_code == 200, export.text
        lines = export.text.splitlines()
        assert json.loads(lines[0])["type"] == "header"
        ok = http.post("/v1/audit/verify", json={"lines": lines}).json()
        assert ok["ok"] is True, ok
        # One event's recorded data altered: the verdict names its line.
        n = next(i for i, x in enumerate(lines) if "March outage" in x)
        lines[n] = lines[n].replace("March", "MARCH", 1)
        bad = http.post("/v1/audit/verify", json={"lines": lines}).json()
        assert bad["ok"] is False and bad["line"] == n + 1, bad
        refused = http.post(
            "/v1/audit/verify", json={"lines": lines, "public_key": "nope"}
        )
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"]["code"] == "KEY_INVALID"


# ------------------------------------------------------------------ screens
def test_the_page_says_which_number_is_a_version_and_which_a_revision(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    with server.client("ada.auditor") as http:
        version = http.get(f"/v1/packets/{server.missing[0]}").json()["version"]
    expect(page.get_by_test_id("packet-version")).to_have_text(
        f"packet version {version} · revision r2"
    )


def test_an_auditor_scrubs_the_timeline_through_packet_versions(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    page.get_by_test_id("open-timeline").click()
    slider = page.get_by_test_id("timeline-slider")
    label = page.get_by_test_id("timeline-label")
    body = page.get_by_test_id("timeline-packet")
    # The latest version first: April, after r2.
    expect(label).to_contain_text("· revision r2")
    expect(body).to_contain_text("April outage")
    # Scrub back to version 3: the section as first written, r1 cut.
    slider.fill("3")
    expect(label).to_have_text(
        f"packet version 3 · revision r1 (of {slider.get_attribute('max')})"
    )
    expect(body).to_contain_text("March outage")
    expect(body).not_to_contain_text("April")
    # One version later the edit: shown as a word diff against version 3.
    page.get_by_test_id("timeline-forward").click()
    expect(label).to_contain_text("packet version 4 · revision r1")
    diff = body.get_by_test_id("word-diff")
    expect(diff.locator("del")).to_have_text("March")
    expect(diff.locator("ins")).to_have_text("April")
    # Version 1: the packet just opened, no section yet, no revision.
    slider.fill("1")
    expect(label).to_contain_text("packet version 1 · no revision cut yet")
    expect(body).to_contain_text("No sections at this version.")
    screenshot(page, "audit-timeline")
    assert axe_violations(page) == []


def test_an_auditor_reads_an_event_in_full_in_words(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    page.get_by_test_id("open-events").click()
    rows = page.get_by_test_id("event-row")
    expect(rows.filter(has_text="Section text edited")).to_have_count(2)
    # No class name anywhere in the table.
    expect(page.locator("table.events")).not_to_contain_text("SectionTextEdited")
    rows.filter(has_text="Section text edited").first.click()
    detail = page.get_by_test_id("event-detail")
    expect(detail.locator("h3")).to_have_text("Section text edited")
    expect(detail).to_contain_text("sofia.author")
    expect(detail).to_contain_text("packet version 4 · revision r1")
    expect(detail).to_contain_text("leaf ")
    # What the event recorded, as fields (the ops of the edit), not hover text.
    expect(detail.locator("dl.doc-fields").nth(1)).to_contain_text("Ops")
    screenshot(page, "audit-event-detail")
    assert axe_violations(page) == []


def test_the_ledger_and_manifests_read_as_documents(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    page.get_by_role("button", name="Full objection ledger").click()
    entry = page.get_by_test_id("ledger-entry")
    expect(entry).to_have_count(1)
    expect(entry.locator("blockquote")).to_have_text("Which outage?")
    history = entry.locator(".ledger-history li")
    expect(history).to_have_count(3)
    expect(history.nth(1)).to_contain_text("oliver.reviewer answered")
    expect(history.nth(1)).to_contain_text("April, per ticket 7.")
    expect(history.nth(2)).to_contain_text("withdrew it")
    # The stored JSON is there, folded away.
    expect(page.locator("#form-dialog details.raw")).not_to_have_attribute("open", "")
    assert axe_violations(page) == []
    screenshot(page, "audit-ledger")
    close_dialog(page)

    page.get_by_test_id("release").get_by_role("button", name="Manifest").click()
    doc = page.get_by_test_id("manifest-document")
    expect(doc).to_contain_text("Approved for the governance intake")
    expect(doc).to_contain_text("Dana Owner (dana.owner)")
    expect(doc).to_contain_text("r2 second")
    expect(doc.locator("pre.json")).to_be_hidden()
    screenshot(page, "audit-manifest")
    assert axe_violations(page) == []


def test_an_auditor_exports_and_verifies_and_sees_tampering_named(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    page.get_by_test_id("open-audit-export").click()
    page.get_by_test_id("export-now").click()
    expect(page.get_by_test_id("export-summary")).to_contain_text("Exported")
    expect(page.get_by_test_id("export-download")).to_have_attribute(
        "download", f"quire-audit-{server.missing[0]}.jsonl"
    )
    page.get_by_test_id("verify-now").click()
    expect(page.get_by_test_id("verdict")).to_contain_text("Intact")
    screenshot(page, "audit-export-verified")
    assert axe_violations(page) == []
    # Alter one recorded word in the lines: the verdict names the line.
    box = page.get_by_test_id("export-lines")
    lines = box.input_value().split("\n")
    n = next(i for i, x in enumerate(lines) if "March outage" in x)
    lines[n] = lines[n].replace("March", "MARCH", 1)
    box.fill("\n".join(lines))
    page.get_by_test_id("verify-now").click()
    verdict = page.get_by_test_id("verdict")
    expect(verdict).to_contain_text("NOT INTACT")
    expect(verdict).to_contain_text(f"line {n + 1}")
    screenshot(page, "audit-export-tampered")


def test_no_export_screen_for_those_who_are_not_auditors(
    server: Server, open_page: Any
) -> None:
    for user in ("dana.owner", "sofia.author", "oliver.reviewer"):
        page = open_page(user)
        expect(page.get_by_test_id("open-timeline")).to_be_visible()
        expect(page.get_by_test_id("open-audit-export")).to_have_count(0)


# ------------------------------------------------------------------ diffs
def test_a_revision_diff_marks_the_words_that_changed(
    server: Server, open_page: Any
) -> None:
    page = open_page("ada.auditor")
    page.get_by_test_id("diff-revisions").click()
    dialog = page.locator("#form-dialog")
    dialog.locator("[name=a]").select_option("1")
    dialog.locator("[name=b]").select_option("2")
    dialog.locator("#form-dialog-ok").click()
    diff = page.get_by_test_id("revision-diff")
    section = diff.get_by_test_id("diff-section")
    expect(section).to_have_count(1)
    expect(section.get_by_test_id("status")).to_have_text("changed")
    words = section.get_by_test_id("word-diff")
    expect(words.locator("del")).to_have_text("March")
    expect(words.locator("ins")).to_have_text("April")
    expect(words).to_have_text("Credits apply to the MarchApril outage.")
    # The server's unified diff is kept, folded away.
    expect(diff.locator("pre.unified")).to_be_hidden()
    screenshot(page, "diff-revisions-words")
    assert axe_violations(page) == []


def test_changes_since_the_last_release_word_by_word(
    server: Server, open_page: Any
) -> None:
    page = open_page("sofia.author")
    page.get_by_test_id("open-changes-since-release").click()
    changes = page.get_by_test_id("changes-since-release")
    expect(changes).to_contain_text("against revision r2")
    sections = changes.get_by_test_id("diff-section")
    expect(sections).to_have_count(2)
    window = sections.filter(has_text="Window")
    expect(window.locator("del")).to_have_count(0)
    expect(window.locator("ins")).to_have_count(1)
    expect(window.locator("ins")).to_contain_text("alone")
    expect(window.get_by_test_id("word-diff")).to_have_text(AFTER_RELEASE)
    scope = sections.filter(has_text="Scope")
    expect(scope.get_by_test_id("status")).to_have_text("added")
    expect(scope.locator("ins")).to_have_text("Premium only.")
    screenshot(page, "diff-since-release")
    assert axe_violations(page) == []

"""The recovery-plan editor (api/static/js/editors/plan.js) in a real
Chromium against a real `quire serve`: the five tables, the checks shown at
the row at fault, fixing the plan row by row, adding and removing rows, the
printable plan.md, and a reviewer who reads but cannot edit."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from release.demo_recovery import seed_plan, without_starter_approver
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


CAST: Cast = {
    "support.director": ("Support Director",),
    "vp.support": ("VP Support",),
    "vp.engineering": ("VP Engineering",),
    "support.manager": ("Support Manager",),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_quire(tmp_path_factory, "quire-plan", CAST) as srv:
        with srv.client("support.director") as http:
            opened = http.post(
                "/v1/packets",
                json={
                    "kind": "recovery-plan",
                    "title": "Service recovery plan: Tuesday's four-hour outage",
                    "release_owner": "vp.support",
                    "authors": ["support.director"],
                    "reviewers": ["vp.engineering"],
                },
            )
            assert opened.status_code == 201, opened.text
            pid = opened.json()["id"]
            drafted = http.post(
                f"/v1/packets/{pid}/plan", json=without_starter_approver(seed_plan())
            )
            assert drafted.status_code == 200, drafted.text
        srv.missing = [pid]
        yield srv


@pytest.fixture
def open_plan(browser: Any, server: Server) -> Iterator[Callable[[str], Any]]:
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
        expect(page.get_by_test_id("plan-editor")).to_be_visible()
        return page

    yield sign_in
    for context in contexts:
        context.close()


def plan_on_server(server: Server) -> dict[str, Any]:
    with server.client("support.director") as http:
        answer = http.get(f"/v1/packets/{server.missing[0]}/plan")
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result


def test_a_co_author_sees_the_checks_at_the_rows_and_fixes_the_plan(
    server: Server, open_plan: Callable[[str], Any]
) -> None:
    page = open_plan("support.director")
    editor = page.get_by_test_id("plan-editor")
    for part, count in (
        ("severities", 3),
        ("communications", 8),
        ("remediation", 12),
        ("escalation", 7),
        ("review", 4),
    ):
        expect(editor.get_by_test_id(f"plan-row-{part}")).to_have_count(count)
    remediation = editor.get_by_test_id("plan-table-remediation")
    faulty = remediation.locator("tr.row-fault")
    expect(faulty).to_have_count(4)
    expect(faulty.first).to_have_attribute("data-row", "8")
    expect(remediation.get_by_test_id("plan-check").first).to_contain_text(
        "REMEDIATION_APPROVER_MISSING"
    )
    expect(page.get_by_test_id("plan-status")).to_contain_text("4 check(s)")
    screenshot(page, "plan-held-rows")

    for row in range(8, 12):
        remediation.get_by_label(
            f"Remediation matrix row {row + 1}: Named approver (Quire user)"
        ).fill("support.manager")
    # Add a review row, fill it, then remove it again: only the edit stays.
    page.get_by_test_id("plan-add-review").click()
    review = editor.get_by_test_id("plan-table-review")
    expect(review.get_by_test_id("plan-row-review")).to_have_count(5)
    review.get_by_label("Post-incident review row 5: What").fill("Renewal check")
    review.get_by_label("Remove Post-incident review row 5").click()
    expect(review.get_by_test_id("plan-row-review")).to_have_count(4)
    page.get_by_test_id("plan-save").click()
    expect(page.get_by_test_id("plan-status")).to_have_text("Every check passes.")
    expect(editor.get_by_test_id("plan-check")).to_have_count(0)
    saved = plan_on_server(server)
    assert saved["checks"] == []
    assert saved["plan"] == {
        **seed_plan(),
        "severities": saved["plan"]["severities"],  # criteria filled with nulls
    }
    assert len(saved["plan"]["review"]) == 4

    page.get_by_test_id("plan-print").click()
    markdown = page.get_by_test_id("plan-md")
    expect(markdown).to_contain_text("## Remediation matrix")
    expect(markdown).to_contain_text("| Starter | S3 | None |  | support.manager |")
    screenshot(page, "plan-fixed-printable")
    assert axe_violations(page) == []


def test_a_reviewer_reads_the_plan_and_cannot_edit_it(
    server: Server, open_plan: Callable[[str], Any]
) -> None:
    page = open_plan("vp.engineering")
    editor = page.get_by_test_id("plan-editor")
    expect(editor.get_by_test_id("plan-row-remediation")).to_have_count(12)
    expect(page.get_by_test_id("plan-save")).to_have_count(0)
    expect(page.get_by_test_id("plan-add-remediation")).to_have_count(0)
    expect(editor.get_by_label("Remediation matrix row 1: Offer")).not_to_be_editable()
    page.get_by_test_id("plan-print").click()
    expect(page.get_by_test_id("plan-md")).to_contain_text("## Severity classification")
    screenshot(page, "plan-reviewer")

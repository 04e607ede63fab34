"""The recommendation editor in headless Chromium (seeds 000, 001), against a
real `quire serve`: Maya Chen ranks the bounded options by buttons with a
required "because", sees the history, the register's counts and drift flag
and the precedent comparison, and packages the recovery package's escalation;
an agent author sees no ranking or escalation control. Screenshots are kept."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from release import demo_recommendation as data
from tests.e2e import test_web_ui_roles as roles
from tests.e2e.test_web_ui import (
    QUIRE,
    Server,
    add_user,
    expect,
    fill_dialog,
    require_chromium,
    screenshot,
)
from tests.processes import free_port, start_serve

pytestmark = pytest.mark.e2e

# The roles suite's fixtures: a headless Chromium, and signing in.
browser = roles.browser
open_page = roles.open_page
axe_violations = roles.axe_violations

LOCAL, BOARD = "local-accommodation", "governance-board"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    home = tmp_path_factory.mktemp("quire-recommendation")
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": f"sqlite:///{home / 'quire.db'}",
        "QUIRE_SIGNING_KEY_PATH": str(home / "signing-key.pem"),
    }
    cast = {
        "maya.chen": ("Maya Chen",),
        "raj.patel": ("Raj Patel",),
        "lucia.moreno": ("Lucia Moreno",),
        "grace.okafor": ("Grace Okafor",),
        "sam.rivera": ("Sam Rivera",),
        "quire.admin": ("Quire Admin", "--admin"),
        "ranker": ("Option agent", "--agent"),
    }
    tokens = {
        user: add_user(env, home, user, name, *flags)
        if "--agent" in flags
        else add_user(env, home, user, name, "--passphrase-stdin", *flags)
        for user, (name, *flags) in cast.items()
    }
    port = free_port()
    log = home / "serve.log"
    process = start_serve(
        [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        log=log,
    )
    srv = Server(
        url=f"http://127.0.0.1:{port}", tokens=tokens, log=log, process=process
    )
    try:
        seed(srv)
        yield srv
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _ok(response: Any) -> Any:
    assert response.is_success, response.text
    return response.json()


def seed(srv: Server) -> None:
    with srv.client("quire.admin") as admin:
        for lane_id, member, kinds in (
            (LOCAL, "sam.rivera", [data.REC_KIND]),
            (BOARD, "grace.okafor", ["escalation"]),
        ):
            _ok(
                admin.post(
                    "/v1/lanes",
                    json={
                        "id": lane_id,
                        "title": lane_id,
                        "members": [member],
                        "accepts_kinds": kinds,
                    },
                )
            )
    ids = []
    with srv.client("raj.patel") as http:
        for title in (data.SEED_001_TITLE, data.SEED_000_TITLE):
            pid = _ok(
                http.post(
                    "/v1/packets",
                    json={
                        "kind": data.REC_KIND,
                        "title": title,
                        "release_owner": "maya.chen",
                        "authors": ["raj.patel", "ranker"],
                        "reviewers": ["lucia.moreno"],
                    },
                )
            )["id"]
            base = f"/v1/packets/{pid}"
            src = [
                _ok(http.post(f"{base}/sources", json=body))["source_id"]
                for body in (data.ORDER_FORM, data.MATRIX_SOURCE, data.IMPACT_LEDGER)
            ]
            _ok(
                http.post(
                    f"{base}/authority",
                    json={"source_id": src[1], "matrix": data.MATRIX},
                )
            )
            if title == data.SEED_001_TITLE:
                for option in data.OPTIONS_001:
                    _ok(http.post(f"{base}/options", json={**option, "evidence": src}))
                for ask in [*data.ASKS_001, data.ASKS_001[0]]:
                    _ok(http.post(f"{base}/asks", json=ask))
            else:
                _ok(http.post(f"{base}/case", json={"dimensions": data.CASE_000}))
                prec = _ok(http.post(f"{base}/precedents", json=data.PRECEDENT_000))
                for option in (data.RECOVERY_PACKAGE, data.NARROWER_PACKAGE):
                    _ok(
                        http.post(
                            f"{base}/options",
                            json={
                                **option,
                                "evidence": src[1:],
                                "precedent_ids": [prec["precedent_id"]],
                            },
                        )
                    )
            ids.append(pid)
    srv.missing = ids


def test_maya_ranks_with_a_required_because_and_sees_the_register(
    server: Server, open_page: Any
) -> None:
    page = open_page("maya.chen")
    page.goto(f"{server.url}/#/packets/{server.missing[0]}")
    rec = page.get_by_test_id("recommendation")
    expect(rec).to_be_visible()
    rows = page.locator('[data-testid="options"] tbody tr')
    expect(rows).to_have_count(3)
    expect(rows.first.get_by_test_id("classification")).to_have_text("in policy")
    # the register: counts and the drift flag
    expect(
        page.locator(
            '[data-ask-type="permanent_rate_reduction"] [data-testid="ask-count"]'
        )
    ).to_have_text("2")
    expect(page.get_by_test_id("drift")).to_contain_text(
        "Drifting beyond delegated scope"
    )
    # ranking by buttons; saving needs a because
    items = page.locator(".rank-list li")
    expect(items).to_have_count(3)
    save = page.get_by_test_id("save-ranking")
    items.nth(1).get_by_test_id("rank-up").click()
    expect(items.first).to_have_attribute("data-rank", "opt-2")
    items.nth(2).get_by_test_id("rank-remove").click()
    expect(items).to_have_count(2)
    expect(save).to_be_disabled()
    page.get_by_test_id("rank-because").fill("Audit-export impact favours the add-on")
    expect(save).to_be_enabled()
    save.click()
    page.locator(".rank-history summary").click()
    history = page.get_by_test_id("ranking-history")
    expect(history).to_contain_text("opt-2 > opt-1")
    expect(history).to_contain_text("Audit-export impact favours the add-on")
    with server.client("maya.chen") as http:
        ranking = http.get(f"/v1/packets/{server.missing[0]}/recommendation").json()[
            "ranking"
        ]
    assert ranking["order"] == ["opt-2", "opt-1"]
    screenshot(page, "recommendation-ranking")
    assert axe_violations(page) == []


def test_an_agent_author_may_propose_but_sees_no_ranking_or_escalation(
    server: Server, open_page: Any
) -> None:
    page = open_page("ranker")
    page.goto(f"{server.url}/#/packets/{server.missing[0]}")
    expect(page.get_by_test_id("recommendation")).to_be_visible()
    expect(page.get_by_test_id("add-option")).to_have_text("Propose option")
    for testid in ("save-ranking", "rank-up", "escalate", "set-matrix"):
        expect(page.get_by_test_id(testid)).to_have_count(0)


def test_the_recovery_package_is_escalated_from_the_page(
    server: Server, open_page: Any
) -> None:
    page = open_page("maya.chen")
    page.goto(f"{server.url}/#/packets/{server.missing[1]}")
    rows = page.locator('[data-testid="options"] tbody tr')
    expect(rows).to_have_count(2)
    expect(rows.first.get_by_test_id("classification")).to_have_text("blocked")
    expect(rows.first).to_contain_text("QUARTER_CAP_EXCEEDED")
    expect(rows.first.get_by_test_id("precedent-fit")).to_contain_text(
        "differs on renewal_posture"
    )
    expect(page.get_by_test_id("escalation")).to_contain_text("NO_IN_BAND_OPTION")
    screenshot(page, "recommendation-blocked")
    page.get_by_test_id("escalate").click()
    fill_dialog(page, {"lane": BOARD})
    expect(page.get_by_test_id("escalated-from")).to_be_visible()
    screenshot(page, "recommendation-escalation-packet")
    with server.client("maya.chen") as http:
        view = http.get(f"/v1/packets/{server.missing[1]}/recommendation").json()
    assert view["escalation"]["lane_id"] == BOARD

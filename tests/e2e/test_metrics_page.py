"""The governance dashboard (/static/metrics.html) in a real headless Chromium
against a real `quire serve`: the numbers it shows are the API's, field by
field (the CSV export names every field), and a screenshot is kept."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.e2e.test_web_ui import (
    CHROMIUM,
    CHROMIUM_ARGS,
    QUIRE,
    SCREENSHOTS,
    Server,
    add_user,
    in_ci,
    require_chromium,
)
from tests.processes import free_port, start_serve

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

KIND = "service-credit-clarification"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_chromium()
    home = tmp_path_factory.mktemp("quire-metrics")
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": f"sqlite:///{home / 'quire.db'}",
        "QUIRE_SIGNING_KEY_PATH": str(home / "signing-key.pem"),
    }
    tokens = {
        "maya": add_user(env, home, "maya", "Maya", "--passphrase-stdin"),
        "ben": add_user(env, home, "ben", "Ben"),
        "lars": add_user(env, home, "lars", "Lars"),
        "aud": add_user(env, home, "aud", "Ada Auditor", "--auditor"),
        "root": add_user(env, home, "root", "Root", "--admin"),
    }
    port = free_port()
    log = home / "serve.log"
    process = start_serve(
        [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=home,
        log=log,
    )
    try:
        yield Server(
            url=f"http://127.0.0.1:{port}", tokens=tokens, log=log, process=process
        )
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def history(server: Server) -> None:
    """Two releases to one lane: the first returned (audience_mistake, after
    an objection accepted as residual), the second accepted."""
    root, ben, maya, lars = (server.client(u) for u in ("root", "ben", "maya", "lars"))
    ok(
        root.post(
            "/v1/lanes",
            json={
                "id": "review",
                "title": "Review",
                "members": ["lars"],
                "accepts_kinds": [KIND],
            },
        )
    )
    pid = ok(
        ben.post(
            "/v1/packets",
            json={
                "kind": KIND,
                "title": "Credit",
                "release_owner": "maya",
                "authors": ["ben"],
                "reviewers": [],
            },
        )
    )["id"]
    ok(ben.post(f"/v1/packets/{pid}/sections", json={"heading": "H", "text": "t"}))
    oid = ok(
        ben.post(
            f"/v1/packets/{pid}/objections", json={"target": {}, "text": "cite it"}
        )
    )["objection_id"]
    for n, decision in (
        (1, {"decision": "returned", "reason_category": "audience_mistake"}),
        (2, {"decision": "accepted"}),
    ):
        if n == 2:
            ok(
                ben.post(
                    f"/v1/packets/{pid}/sections", json={"heading": "I", "text": "u"}
                )
            )
        cut = ok(ben.post(f"/v1/packets/{pid}/revisions", json={}))
        rid = ok(
            ben.post(
                f"/v1/packets/{pid}/releases",
                json={"revision": cut["revision"], "lane": "review"},
            )
        )["release_id"]
        ok(
            maya.post(
                f"/v1/packets/{pid}/releases/{rid}/residuals",
                json={"objection_id": oid, "rationale": "known"},
            )
        )
        ok(
            maya.post(
                f"/v1/packets/{pid}/releases/{rid}/approve",
                json={
                    "content_hash": cut["content_hash"],
                    "meaning": "ok",
                    "passphrase": "pw",
                },
            )
        )
        ok(lars.post(f"/v1/lanes/review/releases/{rid}/decision", json=decision))


def test_the_dashboard_shows_the_apis_numbers(server: Server) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        if in_ci():
            raise
        pytest.skip("playwright is missing: pip install -e '.[dev]'")
    history(server)
    with server.client("aud") as aud:
        rows = list(
            csv.reader(
                io.StringIO(
                    aud.get("/v1/metrics/governance", params={"format": "csv"}).text
                )
            )
        )
        body = ok(aud.get("/v1/metrics/governance"))
    lane = body["measures"]["lane_acceptance"]["value"]
    assert (lane["released"], lane["accepted"], lane["returned"]) == (2, 1, 1)
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = chromium.new_page(viewport={"width": 1200, "height": 900})
            page.set_default_timeout(15_000)
            page.goto(server.url + "/static/metrics.html")
            page.fill("#token", server.tokens["aud"])
            page.click("#signin button[type=submit]")
            expect(page.locator("#measures[data-state=loaded]")).to_have_count(1)
            shown = page.evaluate(
                """() => [...document.querySelectorAll('[data-measure]')].flatMap(
                    (s) => [...s.querySelectorAll('dd[data-field]')].map(
                        (d) => [s.dataset.measure, d.dataset.field, d.textContent]))"""
            )
            charts = page.locator("svg[data-chart]").count()
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(
                path=str(SCREENSHOTS / "governance-measures.png"), full_page=True
            )
        finally:
            chromium.close()
    expected = [
        (m, f, v) for m, f, v in rows[1:] if f not in ("available", "definition")
    ]
    assert [tuple(s) for s in shown] == expected
    assert ("lane_acceptance", "returned_by_category.audience_mistake", "1") in expected
    # by_cause, returned_by_category, by_category, distribution, by_code...
    assert charts >= 5

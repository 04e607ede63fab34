"""The web UI in a real headless Chromium against a real `quire serve` process.

One server (SQLite file, free port) and one browser serve the whole module.
Co-authors sign in with the tokens `quire users add` printed, open packets,
add sections and type; what they type must reach the server and the other
co-author's screen. Every wait is bounded: Playwright's expectations wait on
the page's state, HTTP reads poll with a deadline.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.processes import free_port, start_serve
from workspace.rebase import Op, RebaseConflict, apply_ops, transform, validate_ops

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
QUIRE = Path(sys.executable).with_name("quire")
SCREENSHOTS = Path(os.environ.get("QUIRE_E2E_SCREENSHOTS", "/tmp/quire-e2e"))
UI_TIMEOUT_MS = 15_000


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if in_ci():
        pytest.fail(f"CI=true but {CHROMIUM} is missing (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing: apt-get install -y chromium")


# ------------------------------------------------------------------ server
@dataclass
class Server:
    url: str
    tokens: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes]
    missing: list[str] = field(default_factory=list)

    def client(self, user: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=10,
        )


def quire(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> str:
    done = subprocess.run(
        [str(QUIRE), *args],
        env=env,
        cwd=cwd,
        input=stdin.encode(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"quire {' '.join(args)} failed ({done.returncode}): "
            f"{done.stderr.decode(errors='replace')}"
        )
    return done.stdout.decode()


def add_user(env: dict[str, str], cwd: Path, user: str, name: str, *flags: str) -> str:
    out = quire(env, cwd, "users", "add", user, "--name", name, *flags, stdin="pw\n")
    return out.strip().splitlines()[-1]


def route_missing(response: httpx.Response) -> bool:
    """FastAPI's own 404/405 (no such route), not a domain 404 like PACKET_NOT_FOUND."""
    if response.status_code == 405:
        return True
    if response.status_code != 404:
        return False
    error = response.json().get("error", {})
    return bool(
        error.get("code") == "NOT_FOUND" and error.get("message") == "Not Found"
    )


def missing_routes(server: Server) -> list[str]:
    nobody = str(UUID(int=0))
    probes = {
        "POST /v1/packets": ("POST", "/v1/packets", {}),
        "GET /v1/packets/{id}": ("GET", f"/v1/packets/{nobody}", None),
        "POST /v1/packets/{id}/sections": (
            "POST",
            f"/v1/packets/{nobody}/sections",
            {"heading": "h", "text": ""},
        ),
        "POST /v1/packets/{id}/sections/{sid}/edits": (
            "POST",
            f"/v1/packets/{nobody}/sections/sec-1/edits",
            {"base_version": 1, "text": ""},
        ),
    }
    missing = []
    with server.client("maya.chen") as http:
        for name, (method, path, body) in probes.items():
            if route_missing(http.request(method, path, json=body)):
                missing.append(name)
    return missing


#: user id -> (name, *flags of `quire users add`); "--passphrase-stdin" sets "pw"
Cast = dict[str, tuple[str, ...]]


@contextmanager
def running_quire(
    tmp_path_factory: pytest.TempPathFactory, folder: str, cast: Cast
) -> Iterator[Server]:
    """A real `quire serve` on an SQLite file of its own, with the cast added
    through the CLI; stopped (and killed if it lingers) afterwards."""
    require_chromium()
    home = tmp_path_factory.mktemp(folder)
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": f"sqlite:///{home / 'quire.db'}",
        "QUIRE_SIGNING_KEY_PATH": str(home / "signing-key.pem"),
    }
    tokens = {
        user: add_user(env, home, user, name, *flags)
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    cast: Cast = {
        "maya.chen": ("Maya Chen", "--passphrase-stdin"),
        "priya.rao": ("Priya Rao",),
        "quire.admin": ("Quire Admin", "--admin"),
    }
    with running_quire(tmp_path_factory, "quire-serve", cast) as srv:
        srv.missing = missing_routes(srv)
        yield srv


# ----------------------------------------------------------------- browser
@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if in_ci():
            raise
        pytest.skip("playwright is missing: pip install -e '.[dev]'")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Any, server: Server) -> Iterator[Callable[[str], Any]]:
    """Opens a fresh browser context (its own session storage) signed in as a user."""
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
        return page

    yield sign_in
    for context in contexts:
        context.close()


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=UI_TIMEOUT_MS)
    return playwright_expect(locator)


def require_routes(server: Server) -> None:
    if not server.missing:
        return
    reason = "the API does not serve these routes: " + ", ".join(server.missing)
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def read_packet(server: Server, user: str, packet_id: str) -> dict[str, Any]:
    with server.client(user) as http:
        response = http.get(f"/v1/packets/{packet_id}")
        response.raise_for_status()
        packet: dict[str, Any] = response.json()
        return packet


def section_text_on_server(server: Server, packet_id: str, section_id: str) -> str:
    """The section's text as the API serves it (read once the page says the
    edit is saved: the server acknowledged it)."""
    packet = read_packet(server, "maya.chen", packet_id)
    return str(next(s["text"] for s in packet["sections"] if s["id"] == section_id))


def entitlement_packet(http: httpx.Client, heading: str, text: str) -> tuple[str, str]:
    """Opens a packet owned by Maya with Priya as co-author, with one section;
    (packet id, section id)."""
    opened = http.post(
        "/v1/packets",
        json={
            "kind": "clarification",
            "title": "Entitlement clarification packet",
            "release_owner": "maya.chen",
            "authors": ["priya.rao"],
            "reviewers": [],
        },
    )
    assert opened.status_code == 201, opened.text
    packet_id: str = opened.json()["id"]
    section = http.post(
        f"/v1/packets/{packet_id}/sections", json={"heading": heading, "text": text}
    )
    assert section.status_code == 201, section.text
    return packet_id, section.json()["section_id"]


def screenshot(page: Any, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def fill_dialog(page: Any, values: dict[str, str]) -> None:
    dialog = page.locator("#form-dialog")
    expect(dialog).to_be_visible()
    for name, value in values.items():
        field = dialog.locator(f"[name={name}]")
        if field.evaluate("el => el.tagName") == "SELECT":
            field.select_option(value)  # pickers fed by the API
        else:
            field.fill(value)
    dialog.locator("#form-dialog-ok").click()
    expect(dialog).to_be_hidden()


def clarification_lane(server: Server, lane_id: str, members: list[str]) -> None:
    """The admin creates a lane accepting `clarification` packets (once)."""
    with server.client("quire.admin") as admin:
        lane = {"id": lane_id, "title": lane_id, "members": members}
        created = admin.post(
            "/v1/lanes", json={**lane, "accepts_kinds": ["clarification"]}
        )
        assert created.status_code in (201, 409), created.text


# ------------------------------------------------------------------- tests
def test_page_and_assets_are_served_without_a_token(server: Server) -> None:
    page = httpx.get(server.url + "/")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/static/js/main.js">' in page.text
    script = httpx.get(server.url + "/static/js/main.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(server.url + "/static/style.css").status_code == 200
    assert httpx.get(server.url + "/static/../main.py").status_code == 404


def test_a_bad_token_is_refused_with_the_api_error(
    browser: Any, server: Server
) -> None:
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.fill("#token", "qt_not-a-token")
        page.click("form.signin button[type=submit]")
        expect(page.get_by_test_id("error")).to_have_text("TOKEN_INVALID unknown token")
        expect(page.get_by_test_id("whoami")).to_be_hidden()
    finally:
        context.close()


def test_a_co_author_signs_in_and_sees_who_she_is_and_her_packets(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    page = open_page("maya.chen")
    expect(page.get_by_test_id("whoami")).to_have_text("Maya Chen (maya.chen)")
    expect(page.locator("h1")).to_have_text("Packets")
    screenshot(page, "packet-list")


def test_co_authors_edit_a_section_and_see_each_other_live(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    require_routes(server)
    maya = open_page("maya.chen")

    # Maya opens a packet and adds a section through the UI.
    maya.get_by_test_id("new-packet").click()
    fill_dialog(
        maya,
        {
            "title": "Service-credit calculation clarification packet",
            "kind": "clarification",
            "release_owner": "maya.chen",
            "authors": "priya.rao",
        },
    )
    expect(maya.get_by_test_id("packet-title")).to_have_text(
        "Service-credit calculation clarification packet"
    )
    packet_id = maya.url.rsplit("/", 1)[-1]
    maya.get_by_test_id("add-section").click()
    fill_dialog(maya, {"heading": "Outage-duration window", "text": ""})
    section = maya.get_by_test_id("section").first
    expect(section.get_by_test_id("section-heading")).to_have_text(
        "Outage-duration window"
    )
    section_id = section.get_attribute("data-section-id")
    assert section_id

    # She types; once the page says it is saved, the API serves the text.
    typed = "Windows start at the first customer-visible error."
    section.get_by_test_id("section-text").press_sequentially(typed, delay=5)
    expect(section.get_by_test_id("save-state")).to_have_text("saved")
    assert section_text_on_server(server, packet_id, section_id) == typed

    # Priya, a co-author, opens the same packet in her own browser.
    priya = open_page("priya.rao")
    priya.goto(f"{server.url}/#/packets/{packet_id}")
    priya_text = priya.locator(f"[data-section-id='{section_id}'] textarea")
    expect(priya_text).to_have_value(typed)
    expect(priya.get_by_test_id("live-status")).to_have_text("live")
    expect(maya.get_by_test_id("live-status")).to_have_text("live")

    # Maya's next words arrive on Priya's screen while Priya is typing elsewhere.
    priya_text.click()
    priya_text.press("End")
    priya_text.press_sequentially(" Maintenance is excluded.", delay=5)
    maya_text = section.get_by_test_id("section-text")
    maya_text.click()
    maya_text.press("Home")
    maya_text.press_sequentially("Agreed: ", delay=5)
    final = "Agreed: " + typed + " Maintenance is excluded."
    expect(priya_text).to_have_value(final)
    expect(maya_text).to_have_value(final)
    expect(section.get_by_test_id("save-state")).to_have_text("saved")
    expect(
        priya.locator(f"[data-section-id='{section_id}']").get_by_test_id("save-state")
    ).to_have_text("saved")
    assert section_text_on_server(server, packet_id, section_id) == final

    # Presence: Maya sees that Priya is editing the section.
    expect(section.get_by_test_id("presence-chip")).to_contain_text(
        "priya.rao · editing"
    )

    screenshot(maya, "packet-maya")
    screenshot(priya, "packet-priya")


def random_changeset(rng: random.Random, text: str) -> list[Op]:
    """A valid changeset on `text`: sorted, apart, at most one insert per place."""
    ops: list[Op] = []
    cursor = 0
    for _ in range(rng.randint(1, 3)):
        if cursor > len(text):
            break
        at = rng.randint(cursor, min(len(text), cursor + 6))
        delete = rng.choice([0, 0, 1, 2, 4])
        delete = min(delete, len(text) - at)
        insert = rng.choice(["", "x", "yz", "\U0001f600", "é"])
        if delete == 0 and not insert:
            insert = "w"
        if ops and ops[-1]["at"] == at and ops[-1]["delete"] == 0 and delete == 0:
            break
        ops.append(Op(at=at, delete=delete, insert=insert))
        cursor = at + delete + 1
    return validate_ops(ops, len(text))


def test_the_page_rebases_edits_exactly_as_the_server_does(
    browser: Any, server: Server
) -> None:
    """The page carries a co-author's edit over local typing with the server's
    rules (code points, their insert first at a tie, overlap is a conflict)."""
    rng = random.Random(20240611)
    cases = []
    for _ in range(300):
        base = "".join(
            rng.choice("ab \U0001f4c4ç\n") for _ in range(rng.randint(0, 12))
        )
        mine, theirs = random_changeset(rng, base), random_changeset(rng, base)
        try:
            rebased: list[Op] | None = transform(mine, theirs)
        except RebaseConflict:
            rebased = None
        after = apply_ops(apply_ops(base, theirs), rebased) if rebased else None
        cases.append(
            {
                "base": base,
                "mine": mine,
                "theirs": theirs,
                "want": rebased,
                "after": after,
            }
        )
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url + "/")
        page.wait_for_function("window.quire !== undefined")
        got = page.evaluate(
            """(cases) => cases.map((c) => {
                const r = window.quire.transformOps(c.mine, c.theirs, true);
                const after = r && r.length
                  ? window.quire.applyOps(window.quire.applyOps(c.base, c.theirs), r)
                  : null;
                return { rebased: r, after };
            })""",
            cases,
        )
    finally:
        context.close()
    for case, result in zip(cases, got, strict=True):
        assert (result["rebased"], result["after"]) == (case["want"], case["after"]), (
            case
        )


HOLD_SENDS = """() => {
    const send = WebSocket.prototype.send;
    window.held = [];
    window.holding = true;
    WebSocket.prototype.send = function (data) {
        if (window.holding) window.held.push([this, data]);
        else send.call(this, data);
    };
    window.releaseSends = () => {
        window.holding = false;
        for (const [socket, data] of window.held) send.call(socket, data);
    };
}"""


def select_text(page: Any, locator: Any, word: str) -> None:
    locator.click()
    locator.evaluate(
        "(ta, word) => { const at = ta.value.indexOf(word);"
        " ta.setSelectionRange(at, at + word.length); }",
        word,
    )


def test_an_overlapping_edit_is_shown_as_a_conflict_and_nothing_typed_is_lost(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    require_routes(server)
    base = "The window starts at the first error."
    with server.client("maya.chen") as http:
        packet_id, section_id = entitlement_packet(http, "Outage-duration window", base)
    maya, priya = open_page("maya.chen"), open_page("priya.rao")
    for page in (maya, priya):
        page.goto(f"{server.url}/#/packets/{packet_id}")
        expect(page.get_by_test_id("live-status")).to_have_text("live")
    maya_section = maya.locator(f"[data-section-id='{section_id}']")
    priya_section = priya.locator(f"[data-section-id='{section_id}']")
    maya_text = maya_section.get_by_test_id("section-text")
    priya_text = priya_section.get_by_test_id("section-text")

    # Maya's edit is slow to leave her browser; Priya replaces the same word first.
    maya.evaluate(HOLD_SENDS)
    select_text(maya, maya_text, "first")
    maya.keyboard.type("earliest")
    expect(maya_section.get_by_test_id("save-state")).to_have_text("saving…")
    select_text(priya, priya_text, "first")
    priya.keyboard.type("initial")
    theirs = "The window starts at the initial error."
    expect(priya_section.get_by_test_id("save-state")).to_have_text("saved")
    expect(maya_section.get_by_test_id("conflict")).to_be_visible()

    # The server records Maya's edit as a conflict and says which.
    maya.evaluate("() => window.releaseSends()")
    conflict_id = maya_section.get_by_test_id("conflict-id")
    expect(conflict_id).to_have_text(re.compile(r"^conf-\d+$"))
    expect(maya_text).to_have_value(theirs)
    expect(maya_section.locator("textarea.kept")).to_have_value(
        "The window starts at the earliest error."
    )
    recorded = conflict_id.inner_text()
    packet = read_packet(server, "maya.chen", packet_id)
    assert recorded in {c["id"] for c in packet["conflicts"]}
    screenshot(maya, "conflict-maya")

    # She keeps her version: it becomes a new edit on the current text.
    maya_section.get_by_role("button", name="Use my version").click()
    mine = "The window starts at the earliest error."
    expect(priya_text).to_have_value(mine)
    expect(maya_section.get_by_test_id("save-state")).to_have_text("saved")
    assert section_text_on_server(server, packet_id, section_id) == mine

    # The page says when the server has closed the conflict.
    expect(maya.locator("#flash")).to_contain_text(f"Conflict {recorded} resolved")
    conflicts = read_packet(server, "maya.chen", packet_id)["conflicts"]
    assert next(c["state"] for c in conflicts if c["id"] == recorded) == "resolved"


def test_two_browsers_replacing_the_same_word_at_once_record_a_conflict(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    """Each replaces the whole word with one that starts like it. Diffed to
    their smallest changes, both would be inserts after "sovereign", merged
    by the server into a blend ("sovereign-X (amara)"). The page sends the
    replacement the user made, so they overlap: one wins, one is a conflict."""
    require_routes(server)
    base = "Credits apply to the sovereign region only."
    with server.client("maya.chen") as http:
        packet_id, section_id = entitlement_packet(http, "Coverage", base)
    maya, priya = open_page("maya.chen"), open_page("priya.rao")
    sections, texts = [], []
    for page in (maya, priya):
        page.goto(f"{server.url}/#/packets/{packet_id}")
        expect(page.get_by_test_id("live-status")).to_have_text("live")
        section = page.locator(f"[data-section-id='{section_id}']")
        sections.append(section)
        texts.append(section.get_by_test_id("section-text"))

    # Both edits leave their browsers only once both are made: neither page
    # has seen the other's when it sends its own (the same base version).
    replacements = {"maya": "sovereign (amara)", "priya": "sovereign-X"}
    for page, section, text, word in zip(
        (maya, priya), sections, texts, replacements.values(), strict=True
    ):
        page.evaluate(HOLD_SENDS)
        select_text(page, text, "sovereign")
        # One input event: typed key by key, a slow machine can pass the
        # page's streaming interval mid-word and send half the word first.
        page.keyboard.insert_text(word)
        expect(section.get_by_test_id("save-state")).to_have_text("saving…")
    maya.evaluate("() => window.releaseSends()")
    priya.evaluate("() => window.releaseSends()")

    # Each page settles: its edit saved, or the conflict the server recorded.
    settled = re.compile(r"^(saved|conflict conf-\d+)$")
    states = {}
    for who, section in zip(replacements, sections, strict=True):
        expect(section.get_by_test_id("save-state")).to_have_text(settled)
        states[who] = section.get_by_test_id("save-state").inner_text()
    assert sorted(states.values())[0].startswith("conflict"), states
    assert list(states.values()).count("saved") == 1, states
    loser = next(who for who, state in states.items() if state != "saved")

    packet = read_packet(server, "maya.chen", packet_id)
    assert [c["raised_by"].split(".")[0] for c in packet["conflicts"]] == [loser]
    text = next(s["text"] for s in packet["sections"] if s["id"] == section_id)
    winner = next(who for who in replacements if who != loser)
    assert text == base.replace("sovereign", replacements[winner])
    for page_text in texts:
        expect(page_text).to_have_value(text)


def test_the_release_owner_holds_a_release_and_lifts_the_hold(
    server: Server, open_page: Callable[[str], Any]
) -> None:
    require_routes(server)
    with server.client("priya.rao") as http:
        packet_id, _ = entitlement_packet(http, "Scope", "Tier 2.")
        base = f"/v1/packets/{packet_id}"
        objection = {"target": {}, "text": "tier 2 scope is not sourced yet"}
        assert http.post(f"{base}/objections", json=objection).is_success
        revision = http.post(f"{base}/revisions", json={}).json()["revision"]
    clarification_lane(server, "hold-review", ["priya.rao"])
    with server.client("priya.rao") as http:
        requested = http.post(
            f"{base}/releases", json={"revision": revision, "lane": "hold-review"}
        )
        assert requested.json()["status"] == "held"  # OBJECTION_OPEN

    maya = open_page("maya.chen")
    maya.goto(f"{server.url}/#/packets/{packet_id}")
    release = maya.get_by_test_id("release").first
    expect(release.get_by_test_id("hold-reasons")).to_contain_text("OBJECTION_OPEN")
    release.get_by_test_id("hold").click()
    fill_dialog(maya, {"reason": "contract amendment under review"})
    reasons = release.get_by_test_id("hold-reasons")
    expect(reasons).to_contain_text("HELD_BY_RELEASE_OWNER")
    expect(reasons).to_contain_text("contract amendment under review")
    screenshot(maya, "release-held-by-owner")

    release.get_by_test_id("lift-hold").click()
    expect(reasons).not_to_contain_text("HELD_BY_RELEASE_OWNER")
    expect(reasons).to_contain_text("OBJECTION_OPEN")
    expect(release.get_by_test_id("hold")).to_be_visible()
    with server.client("maya.chen") as http:
        [shown] = http.get(f"/v1/packets/{packet_id}/releases").json()["items"]
    assert shown["owner_hold"] is None
    assert [h["code"] for h in shown["hold_reasons"]] == ["OBJECTION_OPEN"]

"""Recommendations over HTTP (seeds 000 and 001): the matrix, options and
their classification, the owner's ranking and its history, the blocked-path
register, precedents, the case, NO_IN_BAND_OPTION and the escalation packet.
maya owns, ben co-authors, bot is an agent author, rita reviews, olga is an
outsider; the data is the demo's (release/demo_recommendation.py)."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from release import demo_recommendation as seed
from tests.api.conftest import Api

KIND = seed.REC_KIND
LOCAL, BOARD = "local-accommodation", "governance-board"


@pytest.fixture(scope="module")
def lanes(api: Api) -> None:
    for user in ("lars", "gina"):
        api.tokens[user] = api.services.app.add_user(user, user.title(), roles=[])
    for lane_id, member, kinds, policy in (
        (LOCAL, "lars", [KIND], {}),
        (BOARD, "gina", ["escalation"], {"signer_may_have_authored": True}),
    ):
        body = {
            "id": lane_id,
            "title": lane_id,
            "members": [member],
            "accepts_kinds": kinds,
            "policy": policy,
        }
        response = api.post("root", "/v1/lanes", body)
        assert response.status_code == 201, response.text


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def refused(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text


def open_recommendation(api: Api) -> tuple[str, dict[str, str]]:
    pid = api.open_packet(kind=KIND, title=seed.SEED_001_TITLE)
    src = {
        name: ok(api.post("ben", f"/v1/packets/{pid}/sources", body), 201)["source_id"]
        for name, body in (
            ("order_form", seed.ORDER_FORM),
            ("matrix", seed.MATRIX_SOURCE),
            ("ledger", seed.IMPACT_LEDGER),
        )
    }
    ok(
        api.post(
            "ben",
            f"/v1/packets/{pid}/authority",
            {"source_id": src["matrix"], "matrix": seed.MATRIX},
        )
    )
    return pid, src


def add_option(
    api: Api, pid: str, option: dict[str, Any], evidence: list[str], user: str = "ben"
) -> dict[str, Any]:
    body = {**option, "evidence": evidence}
    result: dict[str, Any] = ok(api.post(user, f"/v1/packets/{pid}/options", body), 201)
    return result


def test_seed_001_story_end_to_end(api: Api, lanes: None) -> None:
    pid, src = open_recommendation(api)
    evidence = list(src.values())
    ids = []
    for option in seed.OPTIONS_001:
        created = add_option(api, pid, option, evidence)
        assert created["classification"] == "in_policy", created
        ids.append(created["option_id"])
    for ask in seed.ASKS_001:
        ok(api.post("ben", f"/v1/packets/{pid}/asks", ask), 201)
    # a second rate-reduction ask: asked twice
    ok(api.post("ben", f"/v1/packets/{pid}/asks", seed.ASKS_001[0]), 201)
    register = ok(api.get("rita", f"/v1/packets/{pid}/asks"))
    counts = {r["type"]: (r["classification"], r["count"]) for r in register["items"]}
    assert counts == {
        "permanent_rate_reduction": ("blocked", 2),
        "cross_product_rebate": ("blocked", 1),
        "extended_free_term": ("blocked", 1),
        "retention_concession": ("escalation_only", 1),
        "staffing_guarantee": ("escalation_only", 1),
    }
    assert register["drifting_beyond_scope"] is True
    assert register["repeated_out_of_band"] == ["permanent_rate_reduction"]

    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/ranking",
            {"order": ids, "because": {"comment": "capped credit first"}},
        )
    )
    objection = ok(
        api.post(
            "rita",
            f"/v1/packets/{pid}/objections",
            {"target": {}, "text": "Audit-export impact: prefer the split."},
        ),
        201,
    )["objection_id"]
    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/ranking",
            {"order": [ids[1], ids[0]], "because": {"objection_id": objection}},
        )
    )
    history = ok(api.get("ben", f"/v1/packets/{pid}/ranking/history"))["items"]
    last = history[-1]
    assert last["preferred_before"] == ids[0] and last["preferred_after"] == ids[1]
    assert last["preferred_changed"] is True
    assert last["because"] == {
        "objection_id": objection,
        "text": "Audit-export impact: prefer the split.",
    }
    assert last["downgraded"] == [ids[0]] and last["removed"] == [ids[2]]
    assert last["by"] == "maya"

    # content: hashed, in revisions and diffs
    ok(
        api.post(
            "rita",
            f"/v1/packets/{pid}/objections/{objection}/resolve",
            {"resolution": "ranking changed"},
        )
    )
    first = ok(api.post("ben", f"/v1/packets/{pid}/revisions", {}), 201)
    request = ok(
        api.post(
            "ben",
            f"/v1/packets/{pid}/releases",
            {"revision": first["revision"], "lane": LOCAL},
        ),
        201,
    )
    assert request["status"] == "pending", request
    approved = ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/releases/{request['release_id']}/approve",
            {
                "content_hash": first["content_hash"],
                "meaning": "local recommendation for review",
                "passphrase": "correct horse",
            },
        )
    )
    assert approved["status"] == "released"
    lane_view = ok(
        api.get("lars", f"/v1/lanes/{LOCAL}/releases/{pid}:{request['release_id']}")
    )
    part = lane_view["content"]["recommendation"]
    assert [o["id"] for o in part["options"]] == ids
    assert part["ranking"]["order"] == [ids[1], ids[0]]
    assert lane_view["manifest"]["recommendation"]["ranking"]["order"] == [
        ids[1],
        ids[0],
    ]
    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/ranking",
            {"order": [ids[0], ids[1]], "because": {"comment": "back again"}},
        )
    )
    second = ok(api.post("ben", f"/v1/packets/{pid}/revisions", {}), 201)
    assert second["content_hash"] != first["content_hash"]
    diff = ok(api.get("ben", f"/v1/packets/{pid}/revisions/1/diff/2"))
    assert "back again" in str(diff)


def test_seed_000_recovery_package_is_held_and_escalated(api: Api, lanes: None) -> None:
    pid, src = open_recommendation(api)
    ok(api.post("ben", f"/v1/packets/{pid}/case", {"dimensions": seed.CASE_000}))
    prec = ok(api.post("ben", f"/v1/packets/{pid}/precedents", seed.PRECEDENT_000), 201)
    recovery = ok(
        api.post(
            "ben",
            f"/v1/packets/{pid}/options",
            {
                **seed.RECOVERY_PACKAGE,
                "evidence": [src["matrix"]],
                "precedent_ids": [prec["precedent_id"]],
            },
        ),
        201,
    )
    assert recovery["classification"] == "blocked"
    narrower = add_option(api, pid, seed.NARROWER_PACKAGE, [src["ledger"]])
    assert narrower["classification"] == "escalation_only"
    options = ok(api.get("ben", f"/v1/packets/{pid}/options"))["items"]
    codes = {f["code"] for f in options[0]["breaches"]}
    assert codes == {
        "CAP_PERCENT_EXCEEDED",
        "CAP_MONTHS_EXCEEDED",
        "CAP_AMOUNT_EXCEEDED",
        "QUARTER_CAP_EXCEEDED",
    }
    assert options[0]["escalations"][0]["code"] == "TYPE_ESCALATION_ONLY"
    fit = options[0]["precedents"][0]
    assert fit["differ"] == ["renewal_posture"]
    assert set(fit["matched"]) == {
        "outage_minutes",
        "support_tier",
        "segment",
        "exception_basis",
    }
    revision = ok(api.post("ben", f"/v1/packets/{pid}/revisions", {}), 201)
    held = ok(
        api.post(
            "ben",
            f"/v1/packets/{pid}/releases",
            {"revision": revision["revision"], "lane": LOCAL},
        ),
        201,
    )
    assert held["status"] == "held"
    assert "NO_IN_BAND_OPTION" in [h["code"] for h in held["hold_reasons"]]

    refused(
        api.post("bot", f"/v1/packets/{pid}/escalation", {"lane": BOARD}),
        403,
        "AGENT_NOT_ALLOWED",
    )
    refused(
        api.post("ben", f"/v1/packets/{pid}/escalation", {"lane": BOARD}),
        403,
        "ROLE_NOT_ALLOWED",
    )
    refused(
        api.post("maya", f"/v1/packets/{pid}/escalation", {"lane": "no-such"}),
        404,
        "LANE_NOT_FOUND",
    )
    created = ok(
        api.post("maya", f"/v1/packets/{pid}/escalation", {"lane": BOARD}), 201
    )
    esc = created["packet_id"]
    view = ok(api.get("ben", f"/v1/packets/{pid}/recommendation"))
    assert view["escalation"]["packet_id"] == esc
    back = ok(api.get("maya", f"/v1/packets/{esc}/recommendation"))
    assert back["escalated_from"] == pid
    refused(
        api.post("maya", f"/v1/packets/{pid}/escalation", {"lane": BOARD}),
        409,
        "ALREADY_ESCALATED",
    )
    escalation = api.packet(esc, "maya")
    assert escalation["kind"] == "escalation" and escalation["release_owner"] == "maya"
    assert [s["digest"] for s in escalation["sources"]] == [
        seed.MATRIX_SOURCE["digest"],
        seed.IMPACT_LEDGER["digest"],
    ]
    # through the gate like any packet, to the board's lane
    cut = ok(api.post("maya", f"/v1/packets/{esc}/revisions", {}), 201)
    req = ok(
        api.post(
            "maya",
            f"/v1/packets/{esc}/releases",
            {"revision": cut["revision"], "lane": BOARD},
        ),
        201,
    )
    assert req["status"] == "pending", req
    ok(
        api.post(
            "maya",
            f"/v1/packets/{esc}/releases/{req['release_id']}/approve",
            {
                "content_hash": cut["content_hash"],
                "meaning": "escalated to the account-governance board",
                "passphrase": "correct horse",
            },
        )
    )
    board = ok(api.get("gina", f"/v1/lanes/{BOARD}/releases/{esc}:{req['release_id']}"))
    dossier = board["content"]["escalation"]
    assert dossier["from_packet_id"] == pid and dossier["owner"] == "maya"
    assert {b["code"] for b in dossier["breaches"]} >= {
        "QUARTER_CAP_EXCEEDED",
        "TYPE_ESCALATION_ONLY",
    }
    assert {t["code"] for t in dossier["unresolved_trade_offs"]} == {
        "PRECEDENT_PARTIAL_FIT"
    }
    assert "register" in dossier and dossier["precedents"][0]["compared"]["differ"] == [
        "renewal_posture"
    ]
    assert board["manifest"]["escalated_from"] == pid


def test_escalation_while_an_option_is_in_band_needs_a_reason(
    api: Api, lanes: None
) -> None:
    pid, src = open_recommendation(api)
    add_option(api, pid, seed.OPTIONS_001[0], [src["matrix"]])
    refused(
        api.post("maya", f"/v1/packets/{pid}/escalation", {"lane": BOARD}),
        409,
        "IN_BAND_OPTION_REMAINS",
    )
    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/escalation",
            {"lane": BOARD, "reason": "precedent risk: the board should decide"},
        ),
        201,
    )


def test_a_material_refresh_of_the_matrix_reclassifies_in_the_same_save(
    api: Api, lanes: None
) -> None:
    pid, src = open_recommendation(api)
    option = add_option(api, pid, seed.OPTIONS_001[0], [src["matrix"]])
    assert option["classification"] == "in_policy"
    before = api.packet(pid)["version"]
    response = ok(
        api.post(
            "bot",
            f"/v1/packets/{pid}/sources/{src['matrix']}/refresh",
            {"digest": "sha256:new-matrix", "reason": "Q4 matrix published"},
        )
    )
    assert response["version"] == before + 2  # the refresh and the reclassification
    events = ok(api.get("ben", f"/v1/packets/{pid}/events"))["items"]
    last_two = [e["type"] for e in events[-2:]]
    assert last_two == [
        "quire.packet.SourceRefreshed",
        "quire.packet.OptionReclassified",
    ], last_two
    options = ok(api.get("ben", f"/v1/packets/{pid}/options"))["items"]
    assert options[0]["classification"] == "conditional"
    assert options[0]["conditions"][0]["code"] == "AUTHORITY_SOURCE_REFRESHED"
    history = ok(api.get("ben", f"/v1/packets/{pid}/ranking/history"))["items"]
    assert history[-1]["kind"] == "reclassified"
    assert history[-1]["cause"] == "AUTHORITY_SOURCE_REFRESHED"
    # setting the matrix again, tighter, confirms it and reclassifies again
    tighter = copy.deepcopy(seed.MATRIX)
    tighter["caps"]["service_credit"]["percent"] = "5"
    again = ok(
        api.post(
            "ben",
            f"/v1/packets/{pid}/authority",
            {"source_id": src["matrix"], "matrix": tighter},
        )
    )
    assert again["reclassified"] == [option["option_id"]]
    options = ok(api.get("ben", f"/v1/packets/{pid}/options"))["items"]
    assert options[0]["classification"] == "blocked"
    # a refresh the owner judges non-material changes no classification
    before = api.packet(pid)["version"]
    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/sources/{src['matrix']}/refresh",
            {"digest": "sha256:typo-fix", "material": False, "reason": "typo"},
        )
    )
    assert api.packet(pid)["version"] == before + 1


def test_agents_propose_options_and_asks_but_never_rank_or_escalate(
    api: Api, lanes: None
) -> None:
    pid, src = open_recommendation(api)
    mine = add_option(api, pid, seed.OPTIONS_001[0], [src["matrix"]])
    proposed = add_option(api, pid, seed.OPTIONS_001[1], [src["matrix"]], user="bot")
    assert proposed["proposed"] is True
    ask = ok(api.post("bot", f"/v1/packets/{pid}/asks", seed.ASKS_001[0]), 201)
    assert ask["proposed"] is True
    assert ok(api.get("ben", f"/v1/packets/{pid}/asks"))["items"] == []
    # a proposal is not content, and cannot be ranked until a human accepts it
    revision = ok(api.post("ben", f"/v1/packets/{pid}/revisions", {}), 201)
    app = api.services.app
    content = app.revision_content(app.get_packet(pid), revision["revision"])[1]
    content_ids = [o["id"] for o in content["recommendation"]["options"]]
    assert content_ids == [mine["option_id"]]
    assert revision["revision"] == 1
    refused(
        api.post(
            "maya",
            f"/v1/packets/{pid}/ranking",
            {"order": [proposed["option_id"]], "because": {"comment": "x"}},
        ),
        422,
        "OPTION_NOT_ACCEPTED",
    )
    for user, code in (("bot", "AGENT_NOT_ALLOWED"), ("ben", "ROLE_NOT_ALLOWED")):
        refused(
            api.post(
                user,
                f"/v1/packets/{pid}/ranking",
                {"order": [mine["option_id"]], "because": {"comment": "x"}},
            ),
            403,
            code,
        )
    refused(
        api.post("bot", f"/v1/packets/{pid}/escalation", {"lane": BOARD}),
        403,
        "AGENT_NOT_ALLOWED",
    )
    refused(
        api.post("bot", f"/v1/packets/{pid}/options/{proposed['option_id']}/accept"),
        403,
        "AGENT_NOT_ALLOWED",
    )
    refused(
        api.post(
            "bot",
            f"/v1/packets/{pid}/authority",
            {"source_id": src["matrix"], "matrix": seed.MATRIX},
        ),
        403,
        "AGENT_NOT_ALLOWED",
    )
    ok(api.post("ben", f"/v1/packets/{pid}/options/{proposed['option_id']}/accept"))
    ok(api.post("ben", f"/v1/packets/{pid}/asks/{ask['ask_id']}/accept"))
    assert ok(api.get("ben", f"/v1/packets/{pid}/asks"))["items"][0]["count"] == 1
    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/ranking",
            {
                "order": [proposed["option_id"], mine["option_id"]],
                "because": {"comment": "accepted proposal"},
            },
        )
    )


BAD_OPTIONS = [
    ({"components": [{"type": "gift_card"}]}, "COMPONENT_TYPE_UNKNOWN"),
    ({"components": [{"type": "service_credit", "amount": "-5"}]}, "AMOUNT_NEGATIVE"),
    (
        {"components": [{"type": "service_credit", "percent": "101"}]},
        "PERCENT_OUT_OF_RANGE",
    ),
    ({"components": [{"type": "service_credit", "percent": 1.5}]}, "AMOUNT_INVALID"),
    ({"components": []}, "COMPONENTS_INVALID"),
    ({"components": [{"type": "service_credit", "colour": "red"}]}, "UNKNOWN_FIELD"),
    ({"evidence": ["src-99"]}, "EVIDENCE_UNKNOWN"),
    ({"evidence": []}, "EVIDENCE_UNKNOWN"),
    ({"precedent_ids": ["prec-9"]}, "PRECEDENT_UNKNOWN"),
    ({"title": " "}, "TITLE_EMPTY"),
]


@pytest.mark.parametrize(("change", "code"), BAD_OPTIONS)
def test_bad_options_are_422_and_write_nothing(
    api: Api, lanes: None, change: dict[str, Any], code: str
) -> None:
    pid, src = open_recommendation(api)
    before = api.stored_count()
    body = {**seed.OPTIONS_001[0], "evidence": [src["matrix"]], **change}
    refused(api.post("ben", f"/v1/packets/{pid}/options", body), 422, code)
    assert api.stored_count() == before + 1  # only the refusal's audit record


BAD_RANKINGS = [
    ({"order": ["opt-9"], "because": {"comment": "x"}}, "OPTION_UNKNOWN"),
    ({"order": ["opt-1", "opt-1"], "because": {"comment": "x"}}, "OPTION_DUPLICATE"),
    ({"order": [], "because": {"comment": "x"}}, "RANKING_EMPTY"),
    ({"order": ["opt-1"], "because": {}}, "BECAUSE_INVALID"),
    (
        {"order": ["opt-1"], "because": {"comment": "x", "objection_id": "obj-1"}},
        "BECAUSE_INVALID",
    ),
    ({"order": ["opt-1"], "because": {"objection_id": "obj-9"}}, "OBJECTION_UNKNOWN"),
    ({"order": ["opt-2"], "because": {"comment": "x"}}, "OPTION_NOT_IN_BAND"),
]


@pytest.mark.parametrize(("body", "code"), BAD_RANKINGS)
def test_bad_rankings_are_422_and_write_nothing(
    api: Api, lanes: None, body: dict[str, Any], code: str
) -> None:
    pid, src = open_recommendation(api)
    add_option(api, pid, seed.OPTIONS_001[0], [src["matrix"]])
    add_option(api, pid, seed.RECOVERY_PACKAGE, [src["matrix"]])
    before = api.stored_count()
    refused(api.post("maya", f"/v1/packets/{pid}/ranking", body), 422, code)
    assert api.stored_count() == before + 1


BAD_MATRICES = [
    ([], "MATRIX_INVALID"),
    ({"caps": {"service_credit": {"percent": "-1"}}}, "AMOUNT_NEGATIVE"),
    ({"caps": {"service_credit": "ten"}}, "MATRIX_INVALID"),
    ({"blocked_types": ["x"], "escalation_only_types": ["x"]}, "MATRIX_INVALID"),
    ({"caps": {}, "colour": 1}, "UNKNOWN_FIELD"),
]


@pytest.mark.parametrize(("matrix", "code"), BAD_MATRICES)
def test_a_matrix_that_does_not_parse_is_422_and_writes_nothing(
    api: Api, lanes: None, matrix: Any, code: str
) -> None:
    pid, src = open_recommendation(api)
    before = api.stored_count()
    body = {"source_id": src["matrix"], "matrix": matrix}
    response = api.post("ben", f"/v1/packets/{pid}/authority", body)
    assert response.status_code == 422, response.text
    if isinstance(matrix, dict):
        assert response.json()["error"]["code"] == code
    assert api.stored_count() == before + 1


def test_the_matrix_must_come_from_a_concession_matrix_source(
    api: Api, lanes: None
) -> None:
    pid, src = open_recommendation(api)
    before = api.stored_count()
    for source_id, code in (
        (src["order_form"], "AUTHORITY_SOURCE_KIND"),
        ("src-42", "AUTHORITY_SOURCE_UNKNOWN"),
    ):
        body = {"source_id": source_id, "matrix": seed.MATRIX}
        refused(api.post("ben", f"/v1/packets/{pid}/authority", body), 422, code)
    assert api.stored_count() == before + 2


def test_bad_asks_precedents_and_case_are_422(api: Api, lanes: None) -> None:
    pid, _ = open_recommendation(api)
    before = api.stored_count()
    bad = [
        (
            "asks",
            {"type": "free_pony", "requested_by": "cio", "text": "x"},
            "COMPONENT_TYPE_UNKNOWN",
        ),
        (
            "precedents",
            {**seed.PRECEDENT_000, "dimensions": {"segment": "x"}},
            "DIMENSIONS_INVALID",
        ),
        (
            "case",
            {"dimensions": {**seed.CASE_000, "outage_minutes": -3}},
            "DIMENSIONS_INVALID",
        ),
    ]
    for path, body, code in bad:
        refused(api.post("ben", f"/v1/packets/{pid}/{path}", body), 422, code)
    assert api.stored_count() == before + len(bad)


MARKER = "renewal-at-risk-7731"


def test_renewal_context_and_concession_history_reach_no_one_else(
    api: Api, lanes: None
) -> None:
    """Seed 000: renewal context and prior concessions are seen by the
    packet's members and the lane it is released to; every GET route the app
    has, asked by an outsider and by a member of another lane, reveals none."""
    pid, src = open_recommendation(api)
    case = {**seed.CASE_000, "renewal_posture": MARKER}
    ok(api.post("ben", f"/v1/packets/{pid}/case", {"dimensions": case}))
    precedent = {**seed.PRECEDENT_000, "granted": f"credit; {MARKER}"}
    ok(api.post("ben", f"/v1/packets/{pid}/precedents", precedent), 201)
    ask = {**seed.ASKS_001[3], "text": f"retention ahead of {MARKER}"}
    ok(api.post("ben", f"/v1/packets/{pid}/asks", ask), 201)
    add_option(api, pid, seed.OPTIONS_001[0], [src["matrix"]])
    revision = ok(api.post("ben", f"/v1/packets/{pid}/revisions", {}), 201)
    rid = ok(
        api.post(
            "ben",
            f"/v1/packets/{pid}/releases",
            {"revision": revision["revision"], "lane": LOCAL},
        ),
        201,
    )["release_id"]
    ok(
        api.post(
            "maya",
            f"/v1/packets/{pid}/releases/{rid}/approve",
            {
                "content_hash": revision["content_hash"],
                "meaning": "local review",
                "passphrase": "correct horse",
            },
        )
    )
    api.services.app.flush_refusals()
    # the members and the lane released to see it
    assert MARKER in api.get("rita", f"/v1/packets/{pid}/recommendation").text
    assert MARKER in api.get("lars", f"/v1/lanes/{LOCAL}/releases/{pid}:{rid}").text
    values = {
        "packet_id": pid,
        "release_id": f"{pid}:{rid}",
        "revision": "1",
        "a": "1",
        "b": "1",
    }
    probed = 0
    paths = api.client.get("/openapi.json").json()["paths"]
    for template, operations in paths.items():
        if "get" not in operations:
            continue
        for user, lane in (("olga", LOCAL), ("gina", BOARD)):
            path = re.sub(
                r"\{(\w+)\}",
                lambda m, lane=lane: values.get(  # type: ignore[misc]
                    m.group(1), lane if m.group(1).startswith("lane") else "x"
                ),
                template,
            )
            text = api.get(user, path).text
            assert MARKER not in text, (path, user)
            probed += 1
    assert probed > 40

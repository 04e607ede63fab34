"""Recovery-plan routes (shared/API.md v2, seed 004): set, read as JSON and
Markdown (now and per revision), classify (writes nothing, declares
nothing), holds naming rows over HTTP, and bad input (422, nothing written)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from release.demo_recovery import seed_plan, without_starter_approver
from tests.api.conftest import Api

LANE = "incident-review"


@pytest.fixture(scope="module")
def approvers(api: Api) -> None:
    for user_id in ("vp.support", "support.director", "support.manager"):
        api.services.app.add_user(user_id, user_id, roles=[])


def recovery_packet(api: Api) -> str:
    return api.open_packet(kind="recovery-plan", title="Tuesday's four-hour outage")


def post_plan(api: Api, pid: str, plan: Any, user: str = "ben") -> Any:
    return api.post(user, f"/v1/packets/{pid}/plan", plan)


def test_a_co_author_sets_the_plan_and_readers_get_it_with_its_checks(
    api: Api, approvers: None
) -> None:
    pid = recovery_packet(api)
    response = post_plan(api, pid, seed_plan())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["checks"] == []
    assert body["plan"]["remediation"][0]["approver"] == "vp.support"
    assert body["version"] == api.packet(pid)["version"]
    for reader in ("rita", "maya", "aud"):
        got = api.get(reader, f"/v1/packets/{pid}/plan")
        assert got.status_code == 200, got.text
        assert got.json()["content_hash"] == body["content_hash"]
    assert api.get("olga", f"/v1/packets/{pid}/plan").status_code == 403


def test_the_plan_as_markdown_now_and_as_a_revision_cut_it(
    api: Api, approvers: None
) -> None:
    pid = recovery_packet(api)
    assert post_plan(api, pid, seed_plan()).status_code == 200
    assert api.post("ben", f"/v1/packets/{pid}/revisions", {}).status_code == 201
    changed = seed_plan()
    changed["remediation"][0]["offer"] = "10-day service credit"
    assert post_plan(api, pid, changed).status_code == 200
    now = api.get("rita", f"/v1/packets/{pid}/plan.md")
    assert now.status_code == 200
    assert now.headers["content-type"].startswith("text/markdown")
    text = now.text
    assert text.startswith("# Tuesday's four-hour outage\n")
    for heading in (
        "## Severity classification",
        "## Customer communication sequence",
        "## Remediation matrix",
        "## Internal escalation",
        "## Post-incident review",
    ):
        assert heading in text
    assert "10-day service credit" in text
    first = api.get("rita", f"/v1/packets/{pid}/plan.md?revision=1").text
    assert "7-day service credit + named apology from VP" in first
    assert "10-day service credit" not in first
    missing = api.get("rita", f"/v1/packets/{pid}/plan.md?revision=9")
    assert (missing.status_code, missing.json()["error"]["code"]) == (
        404,
        "REVISION_NOT_FOUND",
    )
    assert api.get("olga", f"/v1/packets/{pid}/plan.md").status_code == 403


def test_no_plan_is_404_plan_not_found(api: Api) -> None:
    pid = recovery_packet(api)
    assert api.post("ben", f"/v1/packets/{pid}/revisions", {}).status_code == 201
    for path in ("plan", "plan.md", "plan.md?revision=1"):
        response = api.get("ben", f"/v1/packets/{pid}/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "PLAN_NOT_FOUND"
    facts = {"duration_minutes": 240, "customers_affected_pct": 100}
    response = api.post(
        "ben",
        f"/v1/packets/{pid}/plan/classify",
        {"facts": {**facts, "core_feature": True}},
    )
    assert response.json()["error"]["code"] == "PLAN_NOT_FOUND"


@pytest.mark.parametrize(
    ("facts", "severity", "met"),
    [
        # Tuesday: 4 hours, the whole service down for every customer.
        (
            {
                "duration_minutes": 240,
                "customers_affected_pct": 100,
                "core_feature": True,
            },
            "S1",
            ["min_duration_minutes", "min_customers_pct", "core_feature"],
        ),
        (
            {
                "duration_minutes": 45,
                "customers_affected_pct": "30",
                "core_feature": True,
            },
            "S2",
            ["min_duration_minutes"],
        ),
        (
            {
                "duration_minutes": 20,
                "customers_affected_pct": 5,
                "core_feature": False,
            },
            "S3",
            ["core_feature"],
        ),
        (
            {"duration_minutes": 10, "customers_affected_pct": 1, "core_feature": True},
            None,
            [],
        ),
    ],
)
def test_classify_recommends_the_seeds_severity_and_writes_nothing(
    api: Api,
    approvers: None,
    facts: dict[str, Any],
    severity: str | None,
    met: list[str],
) -> None:
    pid = recovery_packet(api)
    assert post_plan(api, pid, seed_plan()).status_code == 200
    before = api.stored_count()
    response = api.post("rita", f"/v1/packets/{pid}/plan/classify", {"facts": facts})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["severity"], body["criteria_met"]) == (severity, met)
    assert "never declares an incident" in body["note"]
    assert api.stored_count() == before


def test_classify_refuses_bad_facts_with_422_and_records_nothing(
    api: Api, approvers: None
) -> None:
    pid = recovery_packet(api)
    assert post_plan(api, pid, seed_plan()).status_code == 200
    before = api.stored_count()
    path = f"/v1/packets/{pid}/plan/classify"
    for facts, code in (
        ({"duration_minutes": 5, "customers_affected_pct": 5}, "FACTS_INVALID"),
        (
            {
                "duration_minutes": 5,
                "customers_affected_pct": 101,
                "core_feature": True,
            },
            "PERCENT_OUT_OF_RANGE",
        ),
        (
            {
                "duration_minutes": 5,
                "customers_affected_pct": 1,
                "core_feature": True,
                "x": 1,
            },
            "UNKNOWN_FIELD",
        ),
        (
            {
                "duration_minutes": 5.5,
                "customers_affected_pct": 1,
                "core_feature": True,
            },
            "PLAN_INVALID",
        ),
    ):
        response = api.post("ben", path, {"facts": facts})
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == code
    assert api.post("olga", path, {"facts": {}}).status_code == 403
    assert api.stored_count() == before


def test_bad_plans_are_422_with_the_parsers_codes_and_nothing_is_written(
    api: Api, approvers: None
) -> None:
    pid = recovery_packet(api)
    version = api.packet(pid)["version"]
    negative = seed_plan()
    negative["communications"][0]["at_minutes"] = -5
    pct = seed_plan()
    pct["severities"][0]["criteria"]["min_customers_pct"] = "250"
    extra = seed_plan()
    extra["remediation"][0]["credit_amount"] = "5000"
    huge = seed_plan()
    huge["escalation"][0]["at_minutes"] = 2**70
    for plan, code in (
        (negative, "PLAN_INVALID"),
        (pct, "PERCENT_OUT_OF_RANGE"),
        (extra, "UNKNOWN_FIELD"),
        (huge, "PLAN_INVALID"),
        ({"severities": [{"level": "S1"}]}, "PLAN_INVALID"),
        ({"severities": [], "remarks": "x"}, "INVALID_BODY"),
        ({"severities": [1]}, "INVALID_BODY"),
    ):
        response = post_plan(api, pid, plan)
        assert response.status_code == 422, (code, response.text)
        assert response.json()["error"]["code"] == code
    assert api.packet(pid)["version"] == version
    assert api.get("ben", f"/v1/packets/{pid}/plan").status_code == 404


def test_only_human_co_authors_and_the_owner_set_the_plan(
    api: Api, approvers: None
) -> None:
    pid = recovery_packet(api)
    version = api.packet(pid)["version"]
    for user in ("rita", "bot", "aud", "olga", "root"):
        assert post_plan(api, pid, seed_plan(), user).status_code == 403, user
    assert api.packet(pid)["version"] == version
    assert post_plan(api, pid, seed_plan(), "maya").status_code == 200
    other = api.open_packet()  # a service-credit clarification
    refused = post_plan(api, other, seed_plan())
    assert (refused.status_code, refused.json()["error"]["code"]) == (
        409,
        "NOT_A_RECOVERY_PLAN",
    )


def test_a_stale_expected_version_is_409_and_writes_nothing(
    api: Api, approvers: None
) -> None:
    pid = recovery_packet(api)
    version = api.packet(pid)["version"]
    ok = post_plan(api, pid, {**seed_plan(), "expected_version": version})
    assert ok.status_code == 200
    stale = post_plan(api, pid, {**seed_plan(), "expected_version": version})
    assert stale.status_code == 409
    assert api.packet(pid)["version"] == version + 1


def test_a_release_is_held_naming_the_row_and_the_diff_is_per_table(
    api: Api, approvers: None
) -> None:
    lane = api.post(
        "root",
        "/v1/lanes",
        {
            "id": LANE,
            "title": "Incident review",
            "members": ["olga"],
            "accepts_kinds": ["recovery-plan"],
        },
    )
    assert lane.status_code == 201, lane.text
    pid = recovery_packet(api)
    checks = post_plan(api, pid, without_starter_approver(seed_plan())).json()["checks"]
    assert [(c["code"], c["part"], c["row"]) for c in checks] == [
        ("REMEDIATION_APPROVER_MISSING", "remediation", row) for row in (8, 9, 10, 11)
    ]
    assert api.post("ben", f"/v1/packets/{pid}/revisions", {}).status_code == 201
    held = api.post("ben", f"/v1/packets/{pid}/releases", {"revision": 1, "lane": LANE})
    assert held.status_code in (200, 201), held.text
    reasons = held.json()["hold_reasons"]
    assert [(h["code"], h["row"]) for h in reasons] == [
        ("REMEDIATION_APPROVER_MISSING", row) for row in (8, 9, 10, 11)
    ]
    fixed = copy.deepcopy(seed_plan())
    assert post_plan(api, pid, fixed).json()["checks"] == []
    assert api.post("ben", f"/v1/packets/{pid}/revisions", {}).status_code == 201
    diff = api.get("rita", f"/v1/packets/{pid}/revisions/1/diff/2").json()["plan"]
    assert diff["severities"]["change"] == "unchanged"
    assert [r["row"] for r in diff["remediation"]["added"]] == [8, 9, 10, 11]
    assert {r["value"]["approver"] for r in diff["remediation"]["added"]} == {
        "support.manager"
    }

"""Worksheet routes (issue 11, parts 3-4) over HTTP: create, facts,
interpretations, the side-by-side view, a refresh carrying corrected facts,
the manifest and the lane view showing every interpretation; bad input is
422 with the calculator's codes and writes nothing."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.api.conftest import Api
from tests.api.test_release_routes import lanes, released
from tests.unit import worksheet_cases as case
from workspace.credit import to_json

__all__ = ["lanes"]  # fixture used here


def post(api: Api, user: str, path: str, body: Any) -> Any:
    """POSTs `body` as exact JSON (Decimals keep their digits)."""
    return api.client.post(
        path,
        content=to_json(body),
        headers=api.headers(user, **{"Content-Type": "application/json"}),
    )


def exact(response: Any) -> Any:
    return json.loads(response.text, parse_float=Decimal)


def setup(api: Api, packet_id: str) -> tuple[str, str]:
    """Cites telemetry (src-1) and a calendar (src-2); a worksheet with two
    interpretations; returns (worksheet id, objection id)."""
    base = f"/v1/packets/{packet_id}"
    for kind, digest in (("telemetry-extract", "sha256:t1"), ("calendar", "sha256:c1")):
        cited = api.post(
            "ben",
            f"{base}/sources",
            {"kind": kind, "title": kind, "reference": kind, "digest": digest,
             "precedence": 2},
        )  # fmt: skip
        assert cited.status_code == 201, cited.text
    created = post(
        api,
        "ben",
        f"{base}/worksheets",
        {
            "title": "April credit",
            "facts": case.facts(),
            "cites": {"outages": "src-1", "maintenance": "src-2"},
        },
    )
    assert created.status_code == 201, created.text
    wid = created.json()["worksheet_id"]
    raised = api.post("rita", f"{base}/objections", {"target": {}, "text": "Notice?"})
    oid = raised.json()["objection_id"]
    for name, rules, objection in (
        ("maintenance excluded", case.excluded(), None),
        ("maintenance counted", case.counted(), oid),
    ):
        added = post(
            api,
            "ben",
            f"{base}/worksheets/{wid}/interpretations",
            {"name": name, "rules": rules, "objection_id": objection},
        )
        assert added.status_code == 201, added.text
    return wid, oid


def test_the_view_shows_every_interpretation_and_what_differs(
    api: Api, packet_id: str
) -> None:
    wid, oid = setup(api, packet_id)
    response = api.get("rita", f"/v1/packets/{packet_id}/worksheets/{wid}")
    assert response.status_code == 200, response.text
    assert '"credit_amount": 2500.00' in response.text  # exact digits
    view = exact(response)
    assert view["cited_digests"] == {"maintenance": "sha256:c1", "outages": "sha256:t1"}
    assert [
        (i["name"], i["objection_id"], i["result"]["eligible_downtime_minutes"])
        for i in view["interpretations"]
    ] == [("maintenance excluded", None, 292), ("maintenance counted", oid, 412)]
    [difference] = view["differences"]
    assert difference["rules"] == [
        {"rule": "maintenance_handling", "a": "exclude_from_downtime", "b": "none"}
    ]
    changes = difference["changes"]
    assert changes["eligible_downtime_minutes"] == {"from": 292, "to": 412, "by": 120}
    assert changes["credit_amount"]["by"] == Decimal("1500.00")
    assert changes["uptime_pct"]["from"] == Decimal("99.324074")
    assert changes["band"]["from"]["index"] == 0 and changes["band"]["to"]["index"] == 1
    steps = [s["step"] for s in view["interpretations"][0]["result"]["steps"]]
    assert "maintenance" in steps and "uptime" in steps
    listed = api.get("ben", f"/v1/packets/{packet_id}/worksheets").json()
    assert listed["worksheets"] == [
        {"worksheet_id": wid, "title": "April credit", "interpretations": 2,
         "stale": False}
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("route", "body", "status", "code"),
    [
        ("", {"title": "x", "facts": {**case.facts(), "uptime": 1}}, 422,
         "UNKNOWN_FIELD"),
        ("", {"title": "x", "facts": {**case.facts(), "period": "2024-13"}}, 422,
         "PERIOD_INVALID"),
        ("", {"title": "x", "facts": case.facts(), "cites": {"uptime": "src-1"}}, 422,
         "CITES_INVALID"),
        ("", {"title": "x", "facts": case.facts(), "cites": {"outages": "src-9"}}, 404,
         "SOURCE_NOT_FOUND"),
        ("", {"facts": case.facts()}, 422, "INVALID_BODY"),
        ("/ws-1/facts", {"facts": {"period": "2024-04"}}, 422, "FIELD_REQUIRED"),
        ("/ws-1/facts", {"facts": {**case.facts(), "fee_amount": -1}}, 422,
         "AMOUNT_NEGATIVE"),
        ("/ws-9/facts", {"facts": case.facts()}, 404, "WORKSHEET_NOT_FOUND"),
        ("/ws-1/interpretations", {"name": "x", "rules": {}}, 422, "FIELD_REQUIRED"),
        ("/ws-1/interpretations",
         {"name": "x", "rules": {**case.counted(), "bucket_policy": "most"}}, 422,
         "UNKNOWN_POLICY"),
        ("/ws-1/interpretations", {"name": "maintenance counted",
         "rules": case.counted()}, 409, "INTERPRETATION_NAME_TAKEN"),
        ("/ws-1/interpretations",
         {"name": "y", "rules": case.counted(), "objection_id": "obj-9"}, 404,
         "OBJECTION_NOT_FOUND"),
    ],
)  # fmt: skip
def test_bad_input_is_refused_with_a_stable_code_and_writes_nothing(
    api: Api, packet_id: str, route: str, body: Any, status: int, code: str
) -> None:
    setup(api, packet_id)
    version = api.packet(packet_id)["version"]
    response = post(api, "ben", f"/v1/packets/{packet_id}/worksheets{route}", body)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert api.packet(packet_id)["version"] == version


def test_agents_and_reviewers_may_not_set_facts(api: Api, packet_id: str) -> None:
    wid, _ = setup(api, packet_id)
    base = f"/v1/packets/{packet_id}"
    version = api.packet(packet_id)["version"]
    for user, path, body, code in (
        ("bot", f"{base}/worksheets/{wid}/facts", {"facts": case.facts()},
         "AGENT_NOT_ALLOWED"),
        ("bot", f"{base}/sources/src-1/refresh",
         {"digest": "sha256:t2", "worksheet_facts": {wid: case.facts()}},
         "AGENT_NOT_ALLOWED"),
        ("rita", f"{base}/worksheets/{wid}/facts", {"facts": case.facts()},
         "ROLE_NOT_ALLOWED"),
    ):  # fmt: skip
        response = post(api, user, path, body)
        assert (response.status_code, response.json()["error"]["code"]) == (403, code)
    assert api.packet(packet_id)["version"] == version


def test_a_refresh_with_corrected_facts_supersedes_and_the_lane_sees_every_reading(
    api: Api, packet_id: str, lanes: dict[str, str]
) -> None:
    wid, _ = setup(api, packet_id)
    base = f"/v1/packets/{packet_id}"
    api.post("rita", f"{base}/objections/obj-1/resolve", {"resolution": "kept"})
    rid, _ = released(api, packet_id, lanes["lars"])
    shown = api.get("lars", f"/v1/lanes/{lanes['lars']}/releases/{packet_id}:{rid}")
    assert shown.status_code == 200, shown.text
    [bound] = shown.json()["manifest"]["worksheets"]
    assert [
        (i["name"], i["result"]["eligible_downtime_minutes"],
         i["result"]["credit_amount"], i["result"]["band"]["index"])
        for i in bound["interpretations"]
    ] == [("maintenance excluded", 292, "1000.00", 0),
          ("maintenance counted", 412, "2500.00", 1)]  # fmt: skip

    bad = post(
        api,
        "ben",
        f"{base}/sources/src-1/refresh",
        {"digest": "sha256:t2", "worksheet_facts": {wid: {"period": "x"}}},
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "FIELD_REQUIRED")
    assert api.packet(packet_id)["sources"][0]["digest"] == "sha256:t1"

    refreshed = post(
        api,
        "ben",
        f"{base}/sources/src-1/refresh",
        {
            "digest": "sha256:t2",
            "reason": "37 minutes double counted",
            "worksheet_facts": {wid: case.facts(case.CORRECTED_END)},
        },
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["superseded_releases"] == [rid]
    view = exact(api.get("ben", f"{base}/worksheets/{wid}"))
    assert [
        i["result"]["eligible_downtime_minutes"] for i in view["interpretations"]
    ] == [
        255,
        375,
    ]
    assert view["cited_digests"]["outages"] == "sha256:t2" and view["stale"] == []


def test_a_refresh_without_facts_shows_the_worksheet_stale(
    api: Api, packet_id: str
) -> None:
    wid, _ = setup(api, packet_id)
    base = f"/v1/packets/{packet_id}"
    api.post("ben", f"{base}/sources/src-2/refresh", {"digest": "sha256:c2"})
    view = api.get("ben", f"{base}/worksheets/{wid}").json()
    assert view["stale"] == [
        {"fact": "maintenance", "source_id": "src-2", "digest": "sha256:c1",
         "current": "sha256:c2"}
    ]  # fmt: skip
    updated = post(
        api, "ben", f"{base}/worksheets/{wid}/facts", {"facts": case.facts()}
    )
    assert updated.status_code == 200, updated.text
    assert api.get("ben", f"{base}/worksheets/{wid}").json()["stale"] == []

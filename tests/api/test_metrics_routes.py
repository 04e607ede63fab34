"""GET /v1/metrics/governance (who may read it, JSON and CSV, windows) and
GET /metrics (Prometheus text, parsed with prometheus_client's parser)."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from projections.runner import PROJECTION_NAMES
from projections.store import read_models_for
from tests.api.conftest import Api
from tests.api.live_client import receive_until

pytestmark = pytest.mark.timeout(60)

GOVERNANCE = "/v1/metrics/governance"


def released_once(api: Api) -> tuple[str, str]:
    """A packet released once to a fresh lane: (packet id, release id)."""
    lane = f"lane-{api.stored_count()}"
    assert (
        api.post(
            "root",
            "/v1/lanes",
            {
                "id": lane,
                "title": "Review",
                "members": ["olga"],
                "accepts_kinds": ["service-credit-clarification"],
            },
        ).status_code
        == 201
    )
    pid = api.open_packet()
    api.post("ben", f"/v1/packets/{pid}/sections", {"heading": "H", "text": "t"})
    cut = api.post("ben", f"/v1/packets/{pid}/revisions", {}).json()
    request = api.post(
        "ben",
        f"/v1/packets/{pid}/releases",
        {"revision": cut["revision"], "lane": lane},
    ).json()
    approved = api.post(
        "maya",
        f"/v1/packets/{pid}/releases/{request['release_id']}/approve",
        {
            "content_hash": cut["content_hash"],
            "meaning": "ok",
            "passphrase": "correct horse",
        },
    )
    assert approved.status_code == 200, approved.text
    return pid, request["release_id"]


def measures(api: Api, user: str = "aud", query: str = "") -> dict[str, Any]:
    response = api.get(user, f"{GOVERNANCE}{query}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()["measures"]
    return body


def test_only_auditors_and_admins_read_the_governance_measures(api: Api) -> None:
    for user in ("ben", "maya", "bot", "olga"):
        response = api.get(user, GOVERNANCE)
        assert response.status_code == 403, user
        assert response.json()["error"]["code"] == "ROLE_NOT_ALLOWED"
    assert api.get(None, GOVERNANCE).status_code == 401
    assert api.get("aud", GOVERNANCE).status_code == 200
    assert api.get("root", GOVERNANCE).status_code == 200


def test_a_release_through_the_api_is_measured_at_once(api: Api) -> None:
    before = measures(api)["lane_acceptance"]["value"]["released"]
    released_once(api)
    after = measures(api)
    # Read-your-writes: the projection caught up before answering.
    assert after["lane_acceptance"]["value"]["released"] == before + 1
    assert after["lane_acceptance"]["value"]["undecided"] == before + 1
    assert after["blocked_asks"]["available"] is True
    assert after["blocked_asks"]["value"]["blocked"] == 0


def test_a_window_in_the_future_counts_nothing(api: Api) -> None:
    released_once(api)
    later = measures(api, query="?since=2999-01-01T00:00:00Z")
    assert later["lane_acceptance"]["value"]["released"] == 0
    assert later["time_to_first_release"]["value"]["count"] == 0
    everything = measures(api, query="?until=2999-01-01T00:00:00Z")
    assert everything["lane_acceptance"]["value"]["released"] >= 1


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("?since=2025-03-01T00:00:00", "TIME_INVALID"),
        ("?since=2025-03-02T00:00:00Z&until=2025-03-01T00:00:00Z", "QUERY_INVALID"),
    ],
)
def test_a_bad_window_is_refused(api: Api, query: str, code: str) -> None:
    response = api.get("aud", f"{GOVERNANCE}{query}")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_csv_by_accept_header_or_format_query(api: Api) -> None:
    released_once(api)
    json_body = measures(api)
    by_header = api.client.get(
        GOVERNANCE, headers=api.headers("aud", Accept="text/csv")
    )
    by_query = api.get("aud", f"{GOVERNANCE}?format=csv")
    for response in (by_header, by_query):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(response.text)))
        assert rows[0] == ["measure", "field", "value"]
        values = {(m, f): v for m, f, v in rows[1:]}
        assert values[("lane_acceptance", "released")] == str(
            json_body["lane_acceptance"]["value"]["released"]
        )
        assert values[("ranking_changes_per_review_cycle", "available")] == "true"


def scrape(api: Api) -> dict[str, Any]:
    response = api.client.get("/metrics")  # no token: like /healthz
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {f.name: f for f in text_string_to_metric_families(response.text)}


def test_metrics_expose_latency_by_route_template_and_read_model_lag(
    api: Api,
) -> None:
    pid, _ = released_once(api)
    for _ in range(3):
        assert api.get("ben", f"/v1/packets/{pid}").status_code == 200
    assert api.get("ben", "/no/such/path").status_code == 404
    families = scrape(api)

    latency = families["quire_http_request_duration_seconds"]
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in latency.samples
        if s.name.endswith("_count")
    }
    assert counts[("/v1/packets/{packet_id}", "GET", "2xx")] >= 3
    assert counts[("/v1/packets/{packet_id}/releases", "POST", "2xx")] >= 1
    assert counts[("unmatched", "GET", "4xx")] >= 1
    # Bounded cardinality: no raw packet id ever becomes a label.
    assert not any(pid in route for route, _, _ in counts)

    head = families["quire_event_log_head"].samples[0].value
    assert head == api.stored_count()
    lags = {
        s.labels["projection"]: s.value
        for s in families["quire_projection_lag_events"].samples
    }
    assert set(lags) == set(PROJECTION_NAMES)
    assert all(0 <= lag <= head for lag in lags.values())
    # The governance measures were just read, so their projection caught up
    # with the log as it was then.
    api.get("aud", GOVERNANCE)
    lags = {
        s.labels["projection"]: s.value
        for s in scrape(api)["quire_projection_lag_events"].samples
    }
    assert lags["governance"] <= api.stored_count() - head

    assert families["quire_webhook_backlog"].samples[0].value == 0
    # The approval made the audit log sign a checkpoint: once it has caught
    # up, its age is a sample (seconds since it was signed).
    store = read_models_for(api.services)
    assert store.wait_for(["audit_log"], api.stored_count(), timeout=10)
    [age] = scrape(api)["quire_audit_checkpoint_age_seconds"].samples
    assert 0 <= age.value < 3600
    [size] = scrape(api)["quire_audit_checkpoint_tree_size"].samples
    assert 1 <= size.value <= api.stored_count()


def test_live_edits_and_fan_out_lag_are_counted(api: Api, packet_id: str) -> None:
    def applied_and_fanned() -> tuple[float, float]:
        families = scrape(api)
        edits = {
            s.labels["outcome"]: s.value
            for s in families["quire_live_edits"].samples
            if s.name == "quire_live_edits_total"
        }
        lag = [
            s.value
            for s in families["quire_live_fanout_lag_seconds"].samples
            if s.name == "quire_live_fanout_lag_seconds_count"
        ]
        return edits["applied"], lag[0]

    applied, fanned = applied_and_fanned()
    token = api.tokens["ben"]
    with api.client.websocket_connect(
        f"/v1/packets/{packet_id}/live?token={token}"
    ) as ws:
        receive_until(ws, lambda m: m["type"] == "subscribed")
        ws.send_json(
            {
                "type": "op",
                "section_id": "sec-1",
                "base_version": 2,
                "ops": [{"at": 0, "delete": 0, "insert": "Live: "}],
                "client_id": "tab",
                "client_seq": 1,
            }
        )
        receive_until(ws, lambda m: m["type"] == "ack")
        receive_until(ws, lambda m: m["type"] == "event" and m["version"] == 3)
    after_applied, after_fanned = applied_and_fanned()
    assert after_applied == applied + 1
    assert after_fanned >= fanned + 1

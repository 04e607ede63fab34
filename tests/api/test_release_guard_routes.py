"""Wave 2 guards over HTTP: materiality, approvals by non-owners and at once,
unknown lanes and revisions, cancelling a request, rejecting a suggestion."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.api.conftest import Api
from tests.api.test_release_routes import cut, lanes
from tests.api.test_section_routes import edit

__all__ = ["lanes"]  # the module-scoped lanes fixture


def error(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]["code"]


def cite(api: Api, packet_id: str) -> str:
    created = api.post(
        "ben",
        f"/v1/packets/{packet_id}/sources",
        {
            "kind": "telemetry",
            "title": "Uptime",
            "reference": "r",
            "digest": "sha256:a",
            "precedence": 1,
        },
    )
    assert created.status_code == 201, created.text
    source_id: str = created.json()["source_id"]
    return source_id


def test_only_the_owner_judges_a_changed_digest_non_material(
    api: Api, packet_id: str
) -> None:
    sid = cite(api, packet_id)
    path = f"/v1/packets/{packet_id}/sources/{sid}/refresh"
    body = {"digest": "sha256:b", "material": False, "reason": "format only"}
    for user in ("bot", "ben"):
        assert error(api.post(user, path, body)) == (403, "MATERIALITY_NOT_ALLOWED")
    judged = api.post("maya", path, {**body, "worksheet_facts": {}})
    assert judged.status_code == 200, judged.text
    source = api.packet(packet_id)["sources"][0]
    assert source["non_material"][0]["reason"] == "format only"


def test_non_owners_approving_change_nothing_but_the_audit_log(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    revision = cut(api, packet_id)
    rid = api.post(
        "ben",
        f"{base}/releases",
        {"revision": revision["revision"], "lane": lanes["lars"]},
    ).json()["release_id"]
    version = api.packet(packet_id)["version"]
    refusals = len(api.refusals())
    body = {"content_hash": revision["content_hash"], "meaning": "m", "passphrase": "x"}
    for user in ("ben", "rita", "bot"):
        assert error(api.post(user, f"{base}/releases/{rid}/approve", body)) == (
            403,
            "ROLE_NOT_ALLOWED",
        )
    assert len(api.refusals()) == refusals + 3
    assert api.packet(packet_id)["version"] == version
    assert api.get("ben", f"{base}/releases/{rid}").json()["status"] == "pending"


def test_two_approvals_at_once_release_once_and_refuse_the_other(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    revision = cut(api, packet_id)
    rid = api.post(
        "ben",
        f"{base}/releases",
        {"revision": revision["revision"], "lane": lanes["lars"]},
    ).json()["release_id"]
    body = {
        "content_hash": revision["content_hash"],
        "meaning": "approved",
        "passphrase": "correct horse",
    }
    with ThreadPoolExecutor(2) as pool:
        answers = list(
            pool.map(
                lambda _: api.post("maya", f"{base}/releases/{rid}/approve", body),
                range(2),
            )
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200, 409], [a.text for a in answers]
    assert api.get("ben", f"{base}/releases/{rid}").json()["status"] == "released"


def test_a_request_naming_an_unknown_lane_or_revision_is_not_found(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    revision = cut(api, packet_id)["revision"]
    assert error(
        api.post("ben", f"{base}/releases", {"revision": revision, "lane": "nope"})
    ) == (404, "LANE_NOT_FOUND")
    assert error(
        api.post("ben", f"{base}/releases", {"revision": 99, "lane": lanes["lars"]})
    ) == (404, "REVISION_NOT_FOUND")
    assert api.get("ben", f"{base}/releases").json()["items"] == []


def test_a_request_is_cancelled_for_good(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    revision = cut(api, packet_id)
    rid = api.post(
        "ben",
        f"{base}/releases",
        {"revision": revision["revision"], "lane": lanes["lars"]},
    ).json()["release_id"]
    cancel = f"{base}/releases/{rid}/cancel"
    assert error(api.post("rita", cancel, {"reason": "no"})) == (
        403,
        "ROLE_NOT_ALLOWED",
    )
    cancelled = api.post("ben", cancel, {"reason": "wrong lane"})
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["status"] == "cancelled"
    body = {
        "content_hash": revision["content_hash"],
        "meaning": "m",
        "passphrase": "correct horse",
    }
    assert error(api.post("maya", f"{base}/releases/{rid}/approve", body)) == (
        409,
        "RELEASE_NOT_OPEN",
    )
    assert error(api.post("maya", cancel, {"reason": "again"})) == (
        409,
        "RELEASE_NOT_OPEN",
    )


def test_a_rejection_keeps_its_reason_and_category(api: Api, packet_id: str) -> None:
    proposed = edit(
        api, packet_id, {"base_version": 2, "text": "Grant 20%."}, user="bot"
    )
    sid = proposed.json()["suggestion_id"]
    path = f"/v1/packets/{packet_id}/suggestions/{sid}/reject"
    bad = api.post("maya", path, {"reason": "x", "category": "vibes"})
    assert error(bad) == (422, "INVALID_BODY")
    rejected = api.post(
        "maya",
        path,
        {"reason": "recommends a concession", "category": "concession_recommendation"},
    )
    assert rejected.status_code == 200, rejected.text
    [suggestion] = api.packet(packet_id)["suggestions"]
    assert suggestion["rejection"] == {
        "by": "maya",
        "reason": "recommends a concession",
        "category": "concession_recommendation",
    }

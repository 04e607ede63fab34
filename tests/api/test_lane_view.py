"""What a lane sees of a release (issue 14, item 2): the signatures, the scope,
the accepted residual objections with their text and the owner's rationale,
the bound sources and prerequisites, and the diff from the release it
replaced; nothing else of the packet."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api
from tests.api.test_release_routes import cut, lanes

__all__ = ["lanes"]


def release_with_residual(
    api: Api, packet_id: str, lane: str, objection_id: str, scope: dict[str, Any]
) -> str:
    revision = cut(api, packet_id)
    base = f"/v1/packets/{packet_id}"
    rid = api.post(
        "ben", f"{base}/releases", {"revision": revision["revision"], "lane": lane}
    ).json()["release_id"]
    accepted = api.post(
        "maya",
        f"{base}/releases/{rid}/residuals",
        {"objection_id": objection_id, "rationale": "tier 3 is out of this scope"},
    )
    assert accepted.status_code == 200, accepted.text
    approved = api.post(
        "maya",
        f"{base}/releases/{rid}/approve",
        {
            "content_hash": revision["content_hash"],
            "meaning": "approved for restricted review intake",
            "passphrase": "correct horse",
            "scope": scope,
        },
    )
    assert approved.status_code == 200, approved.text
    return str(rid)


def test_the_lane_sees_what_was_signed_and_what_changed_since(
    api: Api, lanes: dict[str, str], packet_id: str
) -> None:
    base = f"/v1/packets/{packet_id}"
    source = {
        "kind": "order-form",
        "title": "Signed order form",
        "reference": "of-2291",
        "digest": "sha256:of-1",
        "precedence": 1,
    }
    assert api.post("ben", f"{base}/sources", source).status_code == 201
    prerequisite = {"title": "Named-contact register current", "satisfied": True}
    assert api.post("ben", f"{base}/prerequisites", prerequisite).status_code == 201
    text = "Tier 3 environments are not in the order form."
    oid = api.post("rita", f"{base}/objections", {"target": {}, "text": text}).json()[
        "objection_id"
    ]
    lane = lanes["lars"]
    scope = {"covered_period": "2026-03", "note": "tiers 1-2"}
    first = release_with_residual(api, packet_id, lane, oid, scope)

    shown = api.get("lars", f"/v1/lanes/{lane}/releases/{packet_id}:{first}").json()
    assert shown["scope"]["declared"] == scope
    assert shown["scope"]["sections"] == [{"id": "sec-1", "heading": "Entitlement"}]
    [residual] = shown["residuals"]
    assert residual["objection_id"] == oid
    assert residual["text"] == text
    assert residual["rationale"] == "tier 3 is out of this scope"
    assert [s["source_id"] for s in shown["sources"]] == ["src-1"]
    assert shown["sources"][0]["digest"] == "sha256:of-1"
    assert shown["sources"][0]["precedence"] == 1
    assert [p["state"] for p in shown["prerequisites"]] == ["satisfied"]
    assert [s["signer"] for s in shown["signatures"]] == ["maya"]
    assert shown["diff_from_previous"] is None

    version = api.get("ben", base).json()["version"]
    edit = {"base_version": version, "text": "Credits accrue monthly, in arrears."}
    assert api.post("ben", f"{base}/sections/sec-1/edits", edit).status_code == 200
    second = release_with_residual(api, packet_id, lane, oid, scope)
    shown = api.get("lars", f"/v1/lanes/{lane}/releases/{packet_id}:{second}").json()
    diff = shown["diff_from_previous"]
    assert (diff["from"], diff["to"]) == (1, 2)
    assert "in arrears" in str(diff["sections"])
    # Nothing else of the packet: no objections ledger, members or events.
    assert not {"objections", "authors", "reviewers", "events"} & set(shown)

"""Several named signers over HTTP (shared/API.md v2): the release owner
names them (422 for a duplicate, an agent, an unknown user or a non-member,
nothing written; 403 for anyone else), each signs through the approve route,
the release stays held SIGNATURE_MISSING naming who is missing until the
last signature, and the lane view and the manifest list every signature;
GET /v1/me/signatures lists what awaits the caller."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api
from workspace import accounts

KIND = "service-credit-clarification"
LANE = "signers-review"
PASSPHRASES = {"maya": "correct horse", "nora": "nora signs", "rhea": "rhea signs"}


@pytest.fixture(scope="module")
def lane(api: Api) -> str:
    app = api.services.app
    api.tokens["lars"] = app.add_user("lars", "Lars", roles=[])
    api.tokens["nora"] = app.add_user(
        "nora", "Nora Named", roles=[], passphrase=PASSPHRASES["nora"]
    )
    api.tokens["rhea"] = app.add_user(
        "rhea", "Rhea Reviewer", roles=[], passphrase=PASSPHRASES["rhea"]
    )
    created = api.post(
        "root",
        "/v1/lanes",
        {"id": LANE, "title": "Review", "members": ["lars"], "accepts_kinds": [KIND]},
    )
    assert created.status_code == 201, created.text
    return LANE


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**8)


def packet(api: Api) -> str:
    pid = api.open_packet(reviewers=["rita", "rhea", "nora"])
    added = api.post(
        "ben", f"/v1/packets/{pid}/sections", {"heading": "Caps", "text": "10%"}
    )
    assert added.status_code == 201, added.text
    return pid


def request(api: Api, pid: str) -> tuple[str, dict[str, Any]]:
    revision = api.post("ben", f"/v1/packets/{pid}/revisions", {}).json()
    requested = api.post(
        "ben",
        f"/v1/packets/{pid}/releases",
        {"revision": revision["revision"], "lane": LANE},
    )
    assert requested.status_code == 201, requested.text
    return requested.json()["release_id"], revision


def approve(api: Api, pid: str, rid: str, revision: dict[str, Any], user: str) -> Any:
    return api.post(
        user,
        f"/v1/packets/{pid}/releases/{rid}/approve",
        {
            "content_hash": revision["content_hash"],
            "meaning": f"{user} approves for restricted review intake",
            "passphrase": PASSPHRASES.get(user, "wrong"),
        },
    )


def test_each_named_signer_signs_and_the_last_releases(api: Api, lane: str) -> None:
    pid = packet(api)
    named = api.post(
        "maya", f"/v1/packets/{pid}/signers", {"signers": ["nora", "rhea"]}
    )
    assert named.status_code == 200, named.text
    assert named.json()["signers_required"] == ["maya", "nora", "rhea"]
    rid, revision = request(api, pid)

    assert [i["release_id"] for i in queue(api, "nora", pid)] == [rid]
    first = approve(api, pid, rid, revision, "nora")
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "held"
    (hold,) = first.json()["hold_reasons"]
    assert (hold["code"], hold["missing"]) == ("SIGNATURE_MISSING", ["maya", "rhea"])
    assert queue(api, "nora", pid) == []
    assert api.get("lars", f"/v1/lanes/{LANE}/releases/{rid}").status_code == 404
    # The packet page shows signatures collected so far and who is awaited.
    [shown] = [r for r in api.packet(pid)["releases"] if r["release_id"] == rid]
    assert [s["signer"] for s in shown["signatures"]] == ["nora"]
    assert shown["signatures_missing"] == ["maya", "rhea"]

    outsider = approve(api, pid, rid, revision, "ben")
    assert outsider.status_code == 403
    agent = approve(api, pid, rid, revision, "bot")
    assert agent.status_code == 403
    assert api.packet(pid)["version"] == first.json()["version"]

    assert approve(api, pid, rid, revision, "maya").json()["status"] == "held"
    last = approve(api, pid, rid, revision, "rhea")
    assert last.status_code == 200, last.text
    assert last.json()["status"] == "released"
    view = api.get("lars", f"/v1/lanes/{LANE}/releases/{rid}")
    assert view.status_code == 200, view.text
    signatures = view.json()["signatures"]
    assert [s["signer"] for s in signatures] == ["nora", "maya", "rhea"]
    assert set(signatures[0]) == {"signer", "name", "meaning", "signed_at"}
    manifest = api.get("rita", f"/v1/packets/{pid}/releases/{rid}/manifest").json()
    assert [s["signer"] for s in manifest["manifest"]["signatures"]] == [
        "nora",
        "maya",
        "rhea",
    ]
    assert {s["manifest_hash"] for s in manifest["manifest"]["signatures"]} == {
        manifest["manifest"]["signed_manifest_hash"]
    }


def queue(api: Api, user: str, pid: str) -> list[dict[str, Any]]:
    response = api.get(user, "/v1/me/signatures")
    assert response.status_code == 200, response.text
    return [i for i in response.json()["items"] if i["packet_id"] == pid]


@pytest.mark.parametrize(
    ("signers", "code"),
    [
        (["nora", "nora"], "SIGNER_DUPLICATE"),
        (["bot"], "SIGNER_IS_AGENT"),
        (["nobody"], "SIGNER_UNKNOWN"),
        (["olga"], "SIGNER_NOT_MEMBER"),
    ],
)
def test_bad_signer_lists_are_refused_with_nothing_written(
    api: Api, lane: str, signers: list[str], code: str
) -> None:
    pid = packet(api)
    before = api.packet(pid)["version"]
    refused = api.post("maya", f"/v1/packets/{pid}/signers", {"signers": signers})
    assert (refused.status_code, refused.json()["error"]["code"]) == (422, code)
    assert api.packet(pid)["version"] == before


def test_only_the_release_owner_names_signers(api: Api, lane: str) -> None:
    pid = packet(api)
    for user in ("ben", "rita", "bot", "olga"):
        refused = api.post(user, f"/v1/packets/{pid}/signers", {"signers": ["nora"]})
        assert refused.status_code == 403, refused.text
    assert api.packet(pid)["version"] == 2
    assert api.get("maya", "/v1/me/signatures").status_code == 200


def test_a_named_signer_sees_their_own_attempts_left_in_the_preview(
    api: Api, lane: str
) -> None:
    """The approval screen's lock-out count is every required signer's, not
    only the owner's (a named signer would otherwise sign blind to it)."""
    api.tokens["tess"] = api.services.app.add_user(
        "tess", "Tess Signer", roles=[], passphrase="tess signs"
    )
    pid = api.open_packet(reviewers=["rita", "tess"])
    added = api.post(
        "ben", f"/v1/packets/{pid}/sections", {"heading": "H", "text": "t"}
    )
    assert added.status_code == 201, added.text
    named = api.post("maya", f"/v1/packets/{pid}/signers", {"signers": ["tess"]})
    assert named.status_code == 200, named.text
    rid, revision = request(api, pid)
    wrong = approve(api, pid, rid, revision, "tess")  # not tess's passphrase
    assert wrong.status_code == 409, wrong.text
    preview = f"/v1/packets/{pid}/releases/{rid}/preview"
    seen = api.get("tess", preview)
    assert seen.status_code == 200, seen.text
    assert seen.json()["signing"] == {
        "failed_attempts": 1,
        "locked": False,
        "lock_after": 5,
    }
    assert api.get("rita", preview).json()["signing"] is None  # signs nothing

"""Packet commands on every backend: bad input, clashes, conflicts, resends."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import project_aggregate

from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import (
    AddSection,
    CiteSource,
    CutRevision,
    RaiseObjection,
    ResolveObjection,
)
from workspace.domain import Packet
from workspace.errors import (
    EditConflictError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    QuireError,
    TooLargeError,
    VersionClashError,
)

MISSING_PACKET = "00000000-0000-4000-8000-000000000000"


@pytest.fixture
def people(app: Workspace) -> dict[str, Principal]:
    app.add_user("maya", "Maya Chen", roles=[], passphrase="correct horse")
    app.add_user("ben", "Ben Ortiz", roles=[])
    app.add_user("rita", "Rita Reviewer", roles=[])
    app.add_user("bot", "Reconciler", roles=["agent"])
    app.add_user("aud", "Ada Auditor", roles=["auditor"])
    return {
        u: app.get_user(u).principal() for u in ("maya", "ben", "rita", "bot", "aud")
    }


@pytest.fixture
def packet_id(app: Workspace, people: dict[str, Principal]) -> str:
    packet = app.open_packet(
        people["ben"],
        kind="service-credit-clarification",
        title="Service-credit calculation clarification",
        release_owner="maya",
        authors=["ben", "bot"],
        reviewers=["rita"],
    )
    return str(packet.id)


def stored_count(app: Workspace) -> int:
    return app.recorder.max_notification_id() or 0


def test_opening_a_packet_records_members_and_the_opener(
    app: Workspace, packet_id: str
) -> None:
    packet = app.get_packet(packet_id)
    assert packet.version == 1
    assert packet.release_owner == "maya"
    assert packet.authors == ["ben", "bot"]
    assert packet.reviewers == ["rita"]


@pytest.mark.parametrize(
    ("call", "code", "error"),
    [
        (
            lambda a, p, pid: a.open_packet(
                p["ben"],
                kind="k",
                title="  ",
                release_owner="maya",
                authors=[],
                reviewers=[],
            ),
            "TITLE_EMPTY",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.open_packet(
                p["ben"],
                kind="k",
                title="t",
                release_owner="nobody",
                authors=[],
                reviewers=[],
            ),
            "USER_UNKNOWN",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.execute(
                pid, p["ben"], AddSection(heading="", text="x")
            ),
            "HEADING_EMPTY",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                pid, p["ben"], "sec-99", base_version=2, ops=[]
            ),
            "SECTION_NOT_FOUND",
            NotFoundError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                pid,
                p["ben"],
                "sec-1",
                base_version=2,
                ops=[{"at": 50, "delete": 0, "insert": "x"}],
            ),
            "OP_OUT_OF_RANGE",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                pid,
                p["ben"],
                "sec-1",
                base_version=2,
                ops=[{"at": 0, "delete": -1, "insert": ""}],
            ),
            "OP_NEGATIVE_LENGTH",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                pid,
                p["ben"],
                "sec-1",
                base_version=2,
                ops=[
                    {"at": 3, "delete": 0, "insert": "a"},
                    {"at": 1, "delete": 0, "insert": "b"},
                ],
            ),
            "OPS_UNORDERED",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                pid, p["ben"], "sec-1", base_version=2, text="x" * (1024 * 1024 + 1)
            ),
            "SECTION_TOO_LARGE",
            TooLargeError,
        ),
        (
            lambda a, p, pid: a.execute(
                pid, p["ben"], AddSection(heading="big", text="é" * (512 * 1024 + 1))
            ),
            "SECTION_TOO_LARGE",
            TooLargeError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                MISSING_PACKET, p["ben"], "sec-1", base_version=1, text="x"
            ),
            "PACKET_NOT_FOUND",
            NotFoundError,
        ),
        (
            lambda a, p, pid: a.execute(
                "not-a-uuid", p["ben"], AddSection(heading="h", text="")
            ),
            "PACKET_NOT_FOUND",
            NotFoundError,
        ),
        (
            lambda a, p, pid: a.edit_section(
                pid, p["ben"], "sec-1", base_version=99, text="x"
            ),
            "BASE_VERSION_INVALID",
            InvalidInputError,
        ),
        (
            lambda a, p, pid: a.execute(
                pid,
                p["rita"],
                RaiseObjection(target={"section_id": "sec-7"}, text="why?"),
            ),
            "SECTION_NOT_FOUND",
            NotFoundError,
        ),
        (
            lambda a, p, pid: a.execute(
                pid,
                p["ben"],
                CiteSource(
                    kind="order-form",
                    title="Order form",
                    reference="ref",
                    digest="",
                    precedence=1,
                ),
            ),
            "DIGEST_EMPTY",
            InvalidInputError,
        ),
    ],
)
def test_bad_input_is_refused_with_a_stable_code_and_nothing_is_stored(
    app: Workspace,
    people: dict[str, Principal],
    packet_id: str,
    call: Any,
    code: str,
    error: type[QuireError],
) -> None:
    app.execute(packet_id, people["ben"], AddSection(heading="Scope", text="short"))
    before = stored_count(app)
    with pytest.raises(error) as raised:
        call(app, people, packet_id)
    assert raised.value.code == code
    assert stored_count(app) == before


def test_two_writers_on_the_same_base_version_one_wins_one_clashes(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    # Both load version 1, both decide, both save: the second save must clash.
    first = app.get_packet(packet_id)
    second = app.get_packet(packet_id)
    meta = people["ben"].meta()
    first.add_section(meta, heading="One", text="a", max_bytes=1024)
    second.add_section(meta, heading="Two", text="b", max_bytes=1024)
    app.save(first)
    with pytest.raises(Exception) as raised:
        app.save(second)
    assert "Integrity" in type(raised.value).__name__
    # Through the command API, a stale expected version is a VERSION_CLASH.
    with pytest.raises(VersionClashError) as clash:
        app.execute(
            packet_id,
            people["ben"],
            AddSection(heading="Three", text="c"),
            expected_version=1,
        )
    assert clash.value.code == "VERSION_CLASH"
    assert [s["heading"] for s in app.get_packet(packet_id).sections.values()] == [
        "One"
    ]


def test_concurrent_edits_to_different_paragraphs_both_land(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    base_text = "Outage window.\n\nMaintenance exclusions.\n"
    done = app.execute(
        packet_id, people["ben"], AddSection(heading="Calc", text=base_text)
    )
    sid, base = done.result, done.version
    app.edit_section(
        packet_id,
        people["ben"],
        sid,
        base_version=base,
        text="Outage window: 6h 40m.\n\nMaintenance exclusions.\n",
    )
    out = app.edit_section(
        packet_id,
        people["maya"],
        sid,
        base_version=base,
        text="Outage window.\n\nMaintenance exclusions: none.\n",
    )
    assert out.text == "Outage window: 6h 40m.\n\nMaintenance exclusions: none.\n"


def test_rewrites_of_the_same_sentence_give_one_edit_and_one_stored_conflict(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    done = app.execute(
        packet_id, people["ben"], AddSection(heading="Cap", text="The cap is 10%.")
    )
    sid, base = done.result, done.version
    app.edit_section(
        packet_id, people["ben"], sid, base_version=base, text="The cap is 15%."
    )
    with pytest.raises(EditConflictError) as raised:
        app.edit_section(
            packet_id,
            people["maya"],
            sid,
            base_version=base,
            text="The cap is 12%.",
            client_id="m",
            client_seq=1,
        )
    conflict_id = raised.value.details["conflict_id"]
    packet = app.get_packet(packet_id)
    assert packet.sections[sid]["text"] == "The cap is 15%."
    conflict = packet.conflicts[conflict_id]
    assert conflict["state"] == "open"
    assert (
        conflict["ops"] == [{"at": 12, "delete": 1, "insert": "2"}] or conflict["ops"]
    )
    # The losing ops are kept: applying them to the base reproduces the attempt.
    from workspace.rebase import apply_ops

    assert apply_ops("The cap is 10%.", conflict["ops"]) == "The cap is 12%."
    # A resend of the conflicted edit answers the same conflict, stores nothing.
    before = stored_count(app)
    with pytest.raises(EditConflictError) as again:
        app.edit_section(
            packet_id,
            people["maya"],
            sid,
            base_version=base,
            text="The cap is 12%.",
            client_id="m",
            client_seq=1,
        )
    assert again.value.details["conflict_id"] == conflict_id
    assert stored_count(app) == before


def test_a_resent_edit_is_applied_once_and_returns_its_first_result(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    done = app.execute(packet_id, people["ben"], AddSection(heading="H", text="abc"))
    sid, base = done.result, done.version
    ops = [{"at": 3, "delete": 0, "insert": "d"}]
    first = app.edit_section(
        packet_id,
        people["ben"],
        sid,
        base_version=base,
        ops=ops,
        client_id="tab-1",
        client_seq=7,
    )
    app.edit_section(
        packet_id,
        people["maya"],
        sid,
        base_version=first.version,
        ops=[{"at": 0, "delete": 0, "insert": ">"}],
    )
    again = app.edit_section(
        packet_id,
        people["ben"],
        sid,
        base_version=base,
        ops=ops,
        client_id="tab-1",
        client_seq=7,
    )
    assert (again.version, again.text, again.replayed) == (first.version, "abcd", True)
    assert app.get_packet(packet_id).sections[sid]["text"] == ">abcd"


def test_agents_propose_suggestions_that_a_human_accepts(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    done = app.execute(
        packet_id, people["ben"], AddSection(heading="H", text="credit 5%")
    )
    sid, base = done.result, done.version
    out = app.edit_section(
        packet_id, people["bot"], sid, base_version=base, text="credit 5% (capped)"
    )
    assert out.suggestion_id is not None
    assert app.get_packet(packet_id).sections[sid]["text"] == "credit 5%"
    app.edit_section(
        packet_id,
        people["ben"],
        sid,
        base_version=out.version,
        ops=[{"at": 0, "delete": 0, "insert": "Service "}],
    )
    with pytest.raises(NotAllowedError):
        app.accept_suggestion(packet_id, people["bot"], out.suggestion_id)
    accepted = app.accept_suggestion(packet_id, people["maya"], out.suggestion_id)
    assert accepted.text == "Service credit 5% (capped)"
    assert app.get_packet(packet_id).suggestions[out.suggestion_id]["state"] == (
        "accepted"
    )


@pytest.mark.parametrize("who", ["rita", "bot", "aud"])
def test_reviewers_agents_and_auditors_do_not_edit_or_cut(
    app: Workspace, people: dict[str, Principal], packet_id: str, who: str
) -> None:
    with pytest.raises(NotAllowedError):
        app.execute(packet_id, people[who], AddSection(heading="H", text="x"))
    with pytest.raises(NotAllowedError):
        app.execute(packet_id, people[who], CutRevision("v1"))


def test_only_the_raiser_or_release_owner_resolves_and_agents_never_do(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    oid = app.execute(
        packet_id, people["rita"], RaiseObjection(target={}, text="Basis?")
    ).result
    with pytest.raises(NotAllowedError):
        app.execute(
            packet_id,
            people["bot"],
            ResolveObjection(objection_id=oid, resolution="fine"),
        )
    with pytest.raises(NotAllowedError):
        app.execute(
            packet_id,
            people["ben"],
            ResolveObjection(objection_id=oid, resolution="fine"),
        )
    app.execute(
        packet_id,
        people["maya"],
        ResolveObjection(objection_id=oid, resolution="clarified in §2"),
    )
    assert app.get_packet(packet_id).objections[oid]["state"] == "resolved"


def type_digits(
    app: Workspace, who: Principal, packet_id: str, sid: str, count: int
) -> None:
    """`count` one-character edits of a section, each on the latest version."""
    for i in range(count):
        app.edit_section(
            packet_id,
            who,
            sid,
            base_version=app.get_packet(packet_id).version,
            ops=[{"at": 0, "delete": 0, "insert": str(i)}],
        )


def test_any_past_version_loads_and_revisions_keep_their_hash(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    sid = app.execute(
        packet_id, people["ben"], AddSection(heading="H", text="v1 text")
    ).result
    rev1 = app.execute(packet_id, people["ben"], CutRevision("PSE-v1")).result
    type_digits(app, people["ben"], packet_id, sid, 12)  # snapshots every 5
    old = app.get_packet(packet_id, version=rev1["version"])
    assert old.sections[sid]["text"] == "v1 text"
    from workspace.hashing import content_hash

    assert content_hash(old.content()) == rev1["content_hash"]
    packet = app.get_packet(packet_id)
    _, content = app.revision_content(packet, 1)
    assert content_hash(content) == rev1["content_hash"]


def test_snapshots_are_taken_at_each_interval_and_equal_the_replayed_state(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    """On PostgreSQL snapshots are written by a thread of their own after the
    save that reaches them. Each one must equal the packet folded from its
    events up to that version."""
    sid = app.execute(packet_id, people["ben"], AddSection(heading="H", text="")).result
    type_digits(app, people["ben"], packet_id, sid, 12)  # snapshots every 5
    version = app.get_packet(packet_id).version
    app.flush_snapshots()

    assert app.snapshots is not None
    taken = list(app.snapshots.get(UUID(packet_id)))
    assert [s.originator_version for s in taken] == list(range(5, version + 1, 5))
    for snapshot in taken:
        events = app.events.get(UUID(packet_id), lte=snapshot.originator_version)
        replayed = project_aggregate(None, events)
        assert isinstance(replayed, Packet)
        assert snapshot.mutate(None).state() == replayed.state()


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_the_librarys_own_environment_variables_do_not_leak_in(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """POSTGRES_ENABLE_DB_FUNCTIONS would let projections skip events under
    concurrent writers (DESIGN.md): a developer's shell must not turn it on."""
    monkeypatch.setenv("POSTGRES_ENABLE_DB_FUNCTIONS", "y")
    monkeypatch.setenv("AGGREGATE_CACHE_MAXSIZE", "1")
    app = Workspace(settings=settings)
    try:
        assert app.recorder.datastore.enable_db_functions is False
        assert app.env.get("AGGREGATE_CACHE_MAXSIZE") == "500"
    finally:
        app.close()

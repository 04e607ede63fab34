"""Read models on every backend: revision history and diffs, objection ledger,
packet list, release manifests and lane inboxes, audit log; exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from projections import audit, objections, packets, releases, revisions
from projections.driver import Driver, Projection
from projections.events import EventRecord
from projections.packets import PacketList
from projections.runner import all_projections, create_read_models
from projections.store import ReadStore, Tx
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import (
    AddSection,
    AnswerObjection,
    ChangeMembers,
    CutRevision,
    RaiseObjection,
    RemoveSection,
    ReopenObjection,
    ResolveObjection,
    WithdrawObjection,
)
from workspace.config import Settings


@pytest.fixture
def store(app: Workspace, settings: Settings) -> Iterator[ReadStore]:
    read_store = ReadStore(settings, app)
    create_read_models(read_store)
    yield read_store
    read_store.close()


@pytest.fixture
def people(app: Workspace) -> dict[str, Principal]:
    for user, roles in (
        ("maya", []),
        ("ben", []),
        ("rita", []),
        ("bot", ["agent"]),
        ("aud", ["auditor"]),
        ("olga", []),
    ):
        app.add_user(user, user.title(), roles=roles)
    return {
        u: app.get_user(u).principal()
        for u in ("maya", "ben", "rita", "bot", "aud", "olga")
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


def catch_up(store: ReadStore, settings: Settings, batch_size: int = 7) -> None:
    session = store.session()
    try:
        for projection in all_projections(settings):
            Driver(store, projection, batch_size=batch_size).catch_up(session)
    finally:
        session.close()


def append_raw(
    app: Workspace, packet_id: str, topic: str, actor: str, **fields: Any
) -> None:
    """Stores an event by topic and fields only (the release layer's schema)."""
    pid = UUID(packet_id)
    last = app.recorder.select_events(pid, desc=True, limit=1)
    state = {
        "timestamp": datetime.now(UTC),
        "actor": actor,
        "actor_kind": "human",
        "reason": None,
        "client_id": None,
        "client_seq": None,
        **fields,
    }
    app.recorder.insert_events(
        [
            StoredEvent(
                originator_id=pid,
                originator_version=last[0].originator_version + 1,
                topic=topic,
                state=app.mapper.transcoder.encode(state),
            )
        ]
    )


def test_revision_history_lists_each_cut_with_contributors_since_the_previous(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    done = app.execute(
        packet_id,
        people["ben"],
        AddSection(heading="Entitlement", text="Credits accrue.\n"),
    )
    sid, version = done.result, done.version
    app.edit_section(
        packet_id,
        people["maya"],
        sid,
        base_version=version,
        text="Credits accrue monthly.\n",
    )
    app.execute(packet_id, people["ben"], CutRevision("v1"))
    app.execute(
        packet_id, people["rita"], RaiseObjection(target={}, text="Cite the addendum")
    )
    app.execute(packet_id, people["maya"], CutRevision(None))
    catch_up(store, settings)

    history = revisions.history(store, packet_id)
    packet = app.get_packet(packet_id)
    assert [h["revision"] for h in history] == [1, 2]
    assert [h["label"] for h in history] == ["v1", None]
    assert [h["content_hash"] for h in history] == [
        r["content_hash"] for r in packet.revisions
    ]
    assert [h["cut_by"] for h in history] == ["ben", "maya"]
    assert [h["contributors"] for h in history] == [
        r["contributors"] for r in packet.revisions
    ]
    assert history[0]["contributors"] == ["ben", "maya"]
    assert history[1]["contributors"] == []  # an objection is not authorship
    assert history[0]["cut_at"] == packet.revisions[0]["cut_at"]


def test_diff_between_two_revisions_is_unified_per_section(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    ben = people["ben"]
    done = app.execute(packet_id, ben, AddSection(heading="Scope", text="one\ntwo\n"))
    kept, v = done.result, done.version
    done = app.execute(packet_id, ben, AddSection(heading="Old", text="bye\n"))
    gone, v = done.result, done.version
    app.execute(packet_id, ben, CutRevision("r1"))
    app.edit_section(packet_id, ben, kept, base_version=v, text="one\n2\n")
    app.execute(packet_id, ben, RemoveSection(gone))
    added = app.execute(
        packet_id, ben, AddSection(heading="New", text="hello\n")
    ).result
    app.execute(packet_id, ben, CutRevision("r2"))
    catch_up(store, settings)

    old = revisions.content(store, packet_id, 1)
    new = revisions.content(store, packet_id, 2)
    assert old is not None and new is not None
    result = revisions.diff(old, new, 1, 2)
    by_id = {s["section_id"]: s for s in result["sections"]}
    assert by_id[kept]["change"] == "changed"
    assert by_id[kept]["diff"].splitlines() == [
        f"--- r1/{kept}",
        f"+++ r2/{kept}",
        "@@ -1,2 +1,2 @@",
        " one",
        "-two",
        "+2",
    ]
    assert by_id[gone]["change"] == "removed"
    assert "-bye" in by_id[gone]["diff"].splitlines()
    assert by_id[added]["change"] == "added"
    assert "+hello" in by_id[added]["diff"].splitlines()


def test_objection_ledger_keeps_every_state_change_and_residual_acceptance(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    oid = app.execute(
        packet_id, people["rita"], RaiseObjection(target={}, text="The cap is unclear")
    ).result
    app.execute(
        packet_id,
        people["ben"],
        AnswerObjection(objection_id=oid, answer="See clause 4"),
    )
    app.execute(
        packet_id,
        people["rita"],
        ResolveObjection(objection_id=oid, resolution="Clause 4 settles it"),
    )
    app.execute(
        packet_id,
        people["rita"],
        ReopenObjection(objection_id=oid, reason="Clause 4 was amended"),
    )
    _request(app, packet_id, people["ben"], "rel-1")
    append_raw(
        app,
        packet_id,
        "quire.packet.ResidualAccepted",
        "maya",
        release_id="rel-1",
        objection_id=oid,
        rationale="Known gap, tracked in the amendment",
        text_hash="sha256:abc",
    )
    second = app.execute(
        packet_id, people["ben"], RaiseObjection(target={}, text="Typo")
    ).result
    app.execute(packet_id, people["ben"], WithdrawObjection(second))
    catch_up(store, settings)

    ledger = {o["id"]: o for o in objections.ledger(store, packet_id)}
    first = ledger[oid]
    assert [h["action"] for h in first["history"]] == [
        "raised",
        "answered",
        "resolved",
        "reopened",
        "accepted_residual",
    ]
    assert first["raised_by"] == "rita"
    assert first["history"][3]["reason"] == "Clause 4 was amended"
    assert first["state"] == "residual"
    assert first["residuals"] == [
        {
            "release_id": "rel-1",
            "rationale": "Known gap, tracked in the amendment",
            "text_hash": "sha256:abc",
            "accepted_by": "maya",
            "accepted_at": first["history"][4]["at"],
        }
    ]
    assert ledger[second]["state"] == "withdrawn"


def _request(
    app: Workspace,
    packet_id: str,
    author: Principal,
    release_id: str,
    hold_reasons: list[dict[str, str]] | None = None,
) -> dict[str, Any]:
    """Cuts a revision and requests its release (as the release layer would)."""
    revision = app.execute(packet_id, author, CutRevision(None)).result
    append_raw(
        app,
        packet_id,
        "quire.packet.ReleaseRequested",
        author.user_id,
        release_id=release_id,
        revision=revision["number"],
        content_hash=revision["content_hash"],
        lane_id="acct-gov",
        status="held" if hold_reasons else "pending",
        hold_reasons=hold_reasons or [],
    )
    return revision


def _approve(app: Workspace, packet_id: str, release_id: str, revision: int) -> None:
    cut = app.get_packet(packet_id).revision(revision)
    append_raw(
        app,
        packet_id,
        "quire.packet.ReleaseApproved",
        "maya",
        release_id=release_id,
        revision=revision,
        content_hash=cut["content_hash"],
        lane_id="acct-gov",
        meaning="approved for intake",
        manifest={"revision": revision, "lane": "acct-gov"},
        manifest_hash="sha256:" + "0" * 64,
    )


def test_packet_list_follows_status_open_objections_and_last_activity(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    def row() -> dict[str, Any]:
        catch_up(store, settings)
        found = packets.packet_row(store, packet_id)
        assert found is not None
        return found

    assert row()["status"] == "draft"
    oid = app.execute(
        packet_id, people["rita"], RaiseObjection(target={}, text="Why?")
    ).result
    assert row()["open_objections"] == 1
    app.execute(packet_id, people["ben"], CutRevision("v1"))
    assert row()["status"] == "in review"
    _request(
        app,
        packet_id,
        people["ben"],
        "rel-1",
        [{"code": "OBJECTION_OPEN", "detail": oid}],
    )
    assert row()["status"] == "held"
    app.execute(
        packet_id, people["rita"], ResolveObjection(objection_id=oid, resolution="fine")
    )
    append_raw(
        app, packet_id, "quire.packet.ReleaseCleared", "maya", release_id="rel-1"
    )
    assert row()["status"] == "in review"
    _approve(app, packet_id, "rel-1", 2)
    current = row()
    assert current["status"] == "released"
    assert current["open_objections"] == 0
    assert (
        current["version"]
        == app.recorder.select_events(UUID(packet_id), desc=True, limit=1)[
            0
        ].originator_version
    )
    assert current["last_actor"] == "maya"
    append_raw(
        app,
        packet_id,
        "quire.packet.ReleaseSuperseded",
        "ben",
        release_id="rel-1",
        cause="SOURCE_DRIFT",
        trigger={"event": "quire.packet.SourceRefreshed", "source_id": "src-1"},
        successor_release_id=None,
    )
    assert row()["status"] == "superseded"


def test_packet_list_shows_members_their_packets_and_auditors_all(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    other = app.open_packet(
        people["olga"],
        kind="recovery-plan",
        title="Recovery plan",
        release_owner="olga",
        authors=[],
        reviewers=[],
    )
    app.execute(
        packet_id,
        people["maya"],
        ChangeMembers(release_owner="maya", authors=["ben"], reviewers=[]),
    )
    catch_up(store, settings)

    def ids(user: str) -> list[str]:
        return [p["id"] for p in packets.visible_to(store, people[user])]

    assert ids("ben") == [packet_id]
    assert ids("maya") == [packet_id]
    assert ids("rita") == []  # no longer a reviewer
    assert ids("bot") == []  # an agent is no longer an author
    assert ids("olga") == [str(other.id)]
    assert ids("aud") == [packet_id, str(other.id)]
    listed = packets.visible_to(store, people["ben"])[0]
    assert listed["title"] == "Service-credit calculation clarification"
    assert listed["kind"] == "service-credit-clarification"
    assert listed["release_owner"] == "maya"


def test_manifests_and_lane_inbox_follow_release_events(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    app.execute(packet_id, people["ben"], AddSection(heading="H", text="t"))
    app.execute(packet_id, people["ben"], CutRevision("PSE-Packet-v1"))
    append_raw(
        app,
        packet_id,
        "quire.packet.ReleaseRequested",
        "ben",
        release_id="rel-1",
        revision=1,
        content_hash=app.get_packet(packet_id).revision(1)["content_hash"],
        lane_id="acct-gov",
        status="pending",
        hold_reasons=[],
    )
    _approve(app, packet_id, "rel-1", 1)
    append_raw(
        app,
        packet_id,
        "quire.packet.ReleaseAcknowledged",
        "lena",
        release_id="rel-1",
        lane_id="acct-gov",
    )
    catch_up(store, settings)
    inbox = releases.lane_inbox(store, "acct-gov")
    assert [(i["release_id"], i["status"], i["label"]) for i in inbox] == [
        ("rel-1", "released", "PSE-Packet-v1")
    ]
    assert inbox[0]["acknowledged_by"] == ["lena"]
    append_raw(
        app,
        packet_id,
        "quire.packet.ReleaseSuperseded",
        "ben",
        release_id="rel-1",
        cause="SOURCE_DRIFT",
        trigger={"event": "quire.packet.SourceRefreshed", "source_id": "src-2"},
        successor_release_id=None,
    )
    catch_up(store, settings)
    manifest = releases.release_manifest(store, packet_id, "rel-1")
    assert manifest is not None
    assert manifest["status"] == "superseded"
    assert manifest["approved_by"] == "maya"
    assert manifest["manifest"] == {"revision": 1, "lane": "acct-gov"}
    assert manifest["supersession"]["cause"] == "SOURCE_DRIFT"
    assert manifest["supersession"]["trigger"]["source_id"] == "src-2"
    assert releases.lane_inbox(store, "acct-gov")[0]["status"] == "superseded"


def test_audit_log_records_every_event_and_checkpoints_cuts(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    app.execute(packet_id, people["ben"], AddSection(heading="H", text="t"))
    app.execute(packet_id, people["ben"], CutRevision("v1"))
    app.record_view(people["aud"], "packet", packet_id=packet_id)
    catch_up(store, settings)

    events = audit.packet_events(store, packet_id)
    assert [e["type"] for e in events] == [
        "quire.packet.Opened",
        "quire.packet.SectionAdded",
        "quire.packet.RevisionCut",
    ]
    assert all(e["actor"] == "ben" and e["actor_kind"] == "human" for e in events)
    assert all(len(e["leaf_hash"]) == 64 for e in events)
    with store.read() as tx:
        logged = tx.all(
            "SELECT leaf_index, topic, actor, actor_kind, packet_id FROM audit_log "
            "ORDER BY leaf_index"
        )
    head = int(app.recorder.max_notification_id() or 0)
    assert [r[0] for r in logged] == list(range(head))
    viewed = [r for r in logged if r[1] == "quire.trail.Viewed"]
    assert viewed == [(viewed[0][0], "quire.trail.Viewed", "aud", "human", packet_id)]
    cut_leaf = next(e["leaf_index"] for e in events if e["type"].endswith("Cut"))
    assert [c["tree_size"] for c in audit.checkpoints(store)] == [cut_leaf + 1]


class FailingAfterApply(Projection):
    """Wraps a projection and fails after it has written its rows."""

    def __init__(self, inner: Projection) -> None:
        self.inner = inner
        self.name = inner.name  # type: ignore[misc]

    def load(self, tx: Tx) -> None:
        self.inner.load(tx)

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        self.inner.apply(tx, events)
        raise RuntimeError("the process died mid-batch")


def test_a_failed_batch_leaves_neither_rows_nor_tracking(
    app: Workspace,
    store: ReadStore,
    people: dict[str, Principal],
    packet_id: str,
) -> None:
    session = store.session()
    try:
        failing = Driver(store, FailingAfterApply(PacketList()))
        with pytest.raises(RuntimeError):
            failing.catch_up(session)
        assert store.position(PacketList.name) == 0
        assert packets.packet_row(store, packet_id) is None
        Driver(store, PacketList()).catch_up(session)
        assert store.position(PacketList.name) == app.recorder.max_notification_id()
        assert packets.packet_row(store, packet_id) is not None
    finally:
        session.close()


def test_a_moved_tracking_record_makes_a_stale_instance_reload(
    app: Workspace, store: ReadStore, packet_id: str, people: dict[str, Principal]
) -> None:
    first = store.session()
    second = store.session()
    try:
        stale = Driver(store, PacketList())
        stale.prepare(first)  # loaded at position 0
        Driver(store, PacketList()).catch_up(second)  # another instance ran
        app.execute(packet_id, people["ben"], AddSection(heading="H", text="t"))
        stale.catch_up(first)  # must not apply the first events twice
        row = packets.packet_row(store, packet_id)
        assert row is not None and row["version"] == 2
        with store.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM packet_list") == (1,)
    finally:
        first.close()
        second.close()

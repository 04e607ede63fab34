"""A revision stores each section text once (issue 9, item 3): an unchanged
text refers to the revision holding it, a large one is compressed; every
reader sees the full content and its hash, on every backend."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator

import pytest

from projections import revisions as revision_reads
from projections.audit_export import export_packet
from projections.audit_verify import verify_export
from projections.checkpoints import load_or_create_private_key
from projections.driver import Driver
from projections.runner import all_projections, create_read_models
from projections.store import ReadStore
from workspace.application import Workspace
from workspace.commands import AddSection, CutRevision
from workspace.config import Settings
from workspace.domain import Packet
from workspace.hashing import content_hash
from workspace.revision_texts import COMPRESS_FROM

BIG = "Outage chronology, minute by minute. " * (COMPRESS_FROM // 20)


@pytest.fixture
def store(app: Workspace, settings: Settings) -> Iterator[ReadStore]:
    read_store = ReadStore(settings, app)
    create_read_models(read_store)
    yield read_store
    read_store.close()


def stored_cut(app: Workspace, packet_id: str, number: int) -> tuple[dict, int]:
    """A cut's stored content, and the size of its stored event in bytes."""
    packet = app.get_packet(packet_id)
    version = packet.revision(number)["version"]
    [record] = app.recorder.select_events(
        packet.id, gt=version - 1, lte=version, limit=1
    )
    event = app.mapper.to_domain_event(record)
    assert isinstance(event, Packet.RevisionCut)
    return dict(event.content), len(record.state)


def test_unchanged_texts_are_stored_once_and_read_in_full(
    app: Workspace, store: ReadStore, settings: Settings
) -> None:
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    pid = str(
        app.open_packet(
            ben, kind="k", title="Credit", release_owner="ben", authors=[], reviewers=[]
        ).id
    )
    big = app.execute(pid, ben, AddSection(heading="Chronology", text=BIG)).result
    app.execute(pid, ben, AddSection(heading="Summary", text="412 minutes."))
    app.execute(pid, ben, CutRevision(label="v1"))
    packet = app.get_packet(pid)
    summary = packet.section_order[1]
    app.edit_section(
        pid, ben, summary, base_version=packet.version, text="375 minutes."
    )
    app.execute(pid, ben, CutRevision(label="v2"))
    expected = app.get_packet(pid).content()

    first, first_size = stored_cut(app, pid, 1)
    second, second_size = stored_cut(app, pid, 2)
    # The large text is stored compressed once, then referred to.
    assert "text_z" in first["sections"][0] and "text" not in first["sections"][0]
    assert first_size < len(BIG.encode()) / 3
    assert second["sections"][0] == {
        "id": big,
        "heading": "Chronology",
        "text_of": 1,
    }
    assert second["sections"][1]["text"] == "375 minutes."
    assert second_size < 2_000

    # Every reader sees the full content, which hashes to the revision's hash.
    packet = app.get_packet(pid)
    record, content = app.revision_content(packet, 2)
    assert content == expected
    assert content["sections"][0]["text"] == BIG
    assert content_hash(content) == record["content_hash"]
    _, old = app.revision_content(packet, 1)
    assert old["sections"][1]["text"] == "412 minutes."
    assert content_hash(old) == packet.revision(1)["content_hash"]

    session = store.session()
    try:
        for projection in all_projections(settings):
            Driver(store, projection).catch_up(session)
        assert revision_reads.content(store, pid, 2) == content
        key = load_or_create_private_key(settings.signing_key_path)
        out = io.StringIO()
        export_packet(store, session, pid, key, out)
    finally:
        session.close()
    lines = out.getvalue().splitlines()
    assert verify_export(lines, None).ok

    # Replayed from its events alone, the packet keeps the same text index.
    replayed = app.repository.get(packet.id, deepcopy_from_cache=False)
    assert replayed.revisions == packet.revisions


def test_a_reference_to_a_cut_missing_from_an_export_is_named(
    app: Workspace, store: ReadStore, settings: Settings
) -> None:
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    pid = str(
        app.open_packet(
            ben, kind="k", title="Credit", release_owner="ben", authors=[], reviewers=[]
        ).id
    )
    app.execute(pid, ben, AddSection(heading="Chronology", text="412 minutes."))
    app.execute(pid, ben, CutRevision())
    app.execute(pid, ben, CutRevision())
    session = store.session()
    try:
        for projection in all_projections(settings):
            Driver(store, projection).catch_up(session)
        key = load_or_create_private_key(settings.signing_key_path)
        out = io.StringIO()
        export_packet(store, session, pid, key, out)
    finally:
        session.close()
    lines = out.getvalue().splitlines()
    # Point revision 2's reference at a revision the export does not hold.
    for i, line in enumerate(lines):
        entry = json.loads(line)
        if entry.get("data", {}).get("number") == 2 and "content" in entry["data"]:
            entry["data"]["content"]["sections"][0]["text_of"] = 9
            lines[i] = json.dumps(entry)
    verdict = verify_export(lines, None)
    assert not verdict.ok


def test_a_holder_whose_other_sections_refer_further_back_reads_in_full(
    app: Workspace,
) -> None:
    """Revision 3 refers to revision 2 for one section while revision 2 refers
    to revision 1 for another: each reference names the literal holder."""
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    pid = str(
        app.open_packet(
            ben, kind="k", title="Credit", release_owner="ben", authors=[], reviewers=[]
        ).id
    )
    a = app.execute(pid, ben, AddSection(heading="A", text="same")).result
    b = app.execute(pid, ben, AddSection(heading="B", text="same")).result
    app.execute(pid, ben, CutRevision())
    packet = app.get_packet(pid)
    app.edit_section(pid, ben, b, base_version=packet.version, text="changed")
    app.execute(pid, ben, CutRevision())
    app.execute(pid, ben, CutRevision())
    third, _ = stored_cut(app, pid, 3)
    assert [s.get("text_of") for s in third["sections"]] == [1, 2]
    packet = app.get_packet(pid)
    for number in (1, 2, 3):
        record, content = app.revision_content(packet, number)
        assert content_hash(content) == record["content_hash"]
    assert [s["text"] for s in content["sections"]] == ["same", "changed"]
    assert a == content["sections"][0]["id"]

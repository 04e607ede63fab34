"""Verifiable history: export with inclusion proofs, offline verification, and
tampering (in the export file, and in the database after a checkpoint)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.audit import AuditMismatchError, MerkleFrontier
from projections.audit_export import export_packet
from projections.audit_verify import verify_export
from projections.checkpoints import load_or_create_private_key, public_key_raw
from projections.driver import Driver
from projections.events import canonical_json, canonical_record
from projections.merkle import MerkleLog, leaf_hash
from projections.runner import all_projections, create_read_models
from projections.store import ReadStore
from tests.conftest import PG_URL
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import AddSection, CutRevision, RaiseObjection, ResolveObjection
from workspace.config import Settings, persistence_env

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------- pieces
@settings(max_examples=30, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=4), max_size=70))
def test_the_frontier_root_equals_the_full_tree_root(data: list[bytes]) -> None:
    frontier = MerkleFrontier()
    log = MerkleLog()
    for item in data:
        frontier.append(leaf_hash(item))
        log.append(leaf_hash(item))
        assert frontier.root() == log.root()
        again = MerkleFrontier.load(frontier.size, frontier.dump())
        assert again.root() == frontier.root()


@settings(max_examples=60, deadline=None)
@given(
    nid=st.integers(0, 2**53 - 1),
    version=st.integers(0, 2**53 - 1),
    topic=st.text(max_size=12),
    state=st.text(max_size=16),
)
def test_the_canonical_record_is_rfc8785(
    nid: int, version: int, topic: str, state: str
) -> None:
    record: dict[str, Any] = {
        "id": nid,
        "originator_id": "3f1c2d3e-1111-2222-3333-444455556666",
        "originator_version": version,
        "topic": topic,
        "state": state,
    }
    assert canonical_record(record) == bytes(rfc8785.dumps(record))


@settings(max_examples=30, deadline=None)
@given(size=st.integers(1, 80), extra=st.integers(0, 5))
def test_many_proofs_at_once_equal_one_proof_at_a_time(size: int, extra: int) -> None:
    leaves = [leaf_hash(i.to_bytes(2, "big")) for i in range(size + extra)]
    one_by_one = MerkleLog()
    for leaf in leaves:
        one_by_one.append(leaf)
    bulk = MerkleLog(leaves[: size // 2])
    bulk.extend(leaves[size // 2 :])
    assert bulk.root() == one_by_one.root()
    assert bulk.proofs(range(size), size) == [
        one_by_one.proof(i, size) for i in range(size)
    ]


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(JSON)
def test_the_fast_canonical_json_is_rfc8785(value: Any) -> None:
    try:
        expected = bytes(rfc8785.dumps(value))
    except rfc8785.CanonicalizationError:
        return
    assert canonical_json(value) == expected


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def store(app: Workspace, settings: Settings) -> Iterator[ReadStore]:
    read_store = ReadStore(settings, app)
    create_read_models(read_store)
    yield read_store
    read_store.close()


@pytest.fixture
def history(app: Workspace) -> dict[str, Any]:
    """Two packets with interleaved events; the first has cuts and objections."""
    for user in ("ben", "maya", "rita"):
        app.add_user(user, user.title(), roles=[])
    p: dict[str, Principal] = {
        u: app.get_user(u).principal() for u in ("ben", "maya", "rita")
    }

    def open_(title: str) -> str:
        return str(
            app.open_packet(
                p["ben"],
                kind="k",
                title=title,
                release_owner="maya",
                authors=["ben"],
                reviewers=["rita"],
            ).id
        )

    first = open_("Entitlement clarification")
    other = open_("Recovery plan")
    done = app.execute(first, p["ben"], AddSection(heading="Scope", text="Credits.\n"))
    sid, v = done.result, done.version
    app.execute(other, p["ben"], AddSection(heading="Plan", text="Steps.\n"))
    app.edit_section(first, p["maya"], sid, base_version=v, text="Credits accrue.\n")
    app.execute(first, p["ben"], CutRevision("v1"))
    oid = app.execute(first, p["rita"], RaiseObjection(target={}, text="Cap?")).result
    app.execute(first, p["rita"], ResolveObjection(objection_id=oid, resolution="ok"))
    app.execute(first, p["ben"], CutRevision("v2"))
    app.execute(first, p["ben"], AddSection(heading="Late", text="After the cut.\n"))
    return {"packet": first, "other": other}


def catch_up(store: ReadStore, settings: Settings) -> None:
    session = store.session()
    try:
        for projection in all_projections(settings):
            Driver(store, projection).catch_up(session)
    finally:
        session.close()


def export(store: ReadStore, settings: Settings, packet_id: str) -> list[str]:
    catch_up(store, settings)
    key = load_or_create_private_key(settings.signing_key_path)
    out = io.StringIO()
    session = store.session()
    try:
        export_packet(store, session, packet_id, key, out)
    finally:
        session.close()
    return out.getvalue().splitlines()


# -------------------------------------------------------------------- export
def test_an_untouched_export_verifies_with_the_pinned_key(
    store: ReadStore, settings: Settings, history: dict[str, Any], app: Workspace
) -> None:
    lines = export(store, settings, history["packet"])
    key = public_key_raw(load_or_create_private_key(settings.signing_key_path))
    verdict = verify_export(lines, key)
    assert verdict.ok, verdict.message
    events = [json.loads(line) for line in lines[1:-2]]
    versions = [e["record"]["originator_version"] for e in events]
    assert versions == list(range(1, len(events) + 1))
    stored = app.recorder.select_events(UUID(history["packet"]))
    assert len(events) == len(stored)
    header = json.loads(lines[0])
    assert header["tree_size"] == app.recorder.max_notification_id()


def test_an_export_signed_by_another_key_fails_against_the_pinned_key(
    store: ReadStore, settings: Settings, history: dict[str, Any], tmp_path: Path
) -> None:
    lines = export(store, settings, history["packet"])
    stranger = public_key_raw(load_or_create_private_key(tmp_path / "other.pem"))
    verdict = verify_export(lines, stranger)
    assert not verdict.ok
    assert verdict.line == len(lines)


def _event_line(lines: list[str], version: int) -> int:
    for number, line in enumerate(lines):
        value = json.loads(line)
        if value.get("record", {}).get("originator_version") == version:
            return number
    raise AssertionError(f"no version {version}")


def test_one_changed_byte_in_an_exported_event_is_named(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    lines = export(store, settings, history["packet"])
    index = _event_line(lines, 3)  # maya's edit
    shown = lines.copy()
    shown[index] = shown[index].replace("maya", "mayb", 1)  # one byte of the data
    verdict = verify_export(shown, None)
    assert not verdict.ok
    assert verdict.line == index + 1
    assert "version 3" in verdict.message

    recorded = lines.copy()
    event = json.loads(recorded[index])
    state = event["record"]["state"]
    flipped = state[:10] + ("A" if state[10] != "A" else "B") + state[11:]
    recorded[index] = recorded[index].replace(state, flipped)
    verdict = verify_export(recorded, None)
    assert not verdict.ok
    assert verdict.line == index + 1
    assert "altered" in verdict.message


def test_a_removed_exported_event_is_named(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    lines = export(store, settings, history["packet"])
    middle = _event_line(lines, 4)
    verdict = verify_export(lines[:middle] + lines[middle + 1 :], None)
    assert not verdict.ok
    assert verdict.line == middle + 1
    assert "expected version 4" in verdict.message

    last = len(lines) - 3
    verdict = verify_export(lines[:last] + lines[last + 1 :], None)
    assert not verdict.ok
    assert verdict.line == 1  # the signed header counts the events
    assert "removed" in verdict.message


def test_two_swapped_exported_events_are_named(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    lines = export(store, settings, history["packet"])
    a, b = _event_line(lines, 2), _event_line(lines, 3)
    swapped = lines.copy()
    swapped[a], swapped[b] = swapped[b], swapped[a]
    verdict = verify_export(swapped, None)
    assert not verdict.ok
    assert verdict.line == a + 1
    assert "expected version 2" in verdict.message


def test_an_event_of_another_packet_inserted_into_an_export_is_named(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    lines = export(store, settings, history["packet"])
    foreign = export(store, settings, history["other"])[2]
    at = _event_line(lines, 3)
    verdict = verify_export([*lines[:at], foreign, *lines[at:]], None)
    assert not verdict.ok
    assert verdict.line == at + 1
    assert "inserted" in verdict.message


# ---------------------------------------------------------- in the database
def _alter_stored_event(settings: Settings, packet_id: str, version: int) -> None:
    """Rewrites one stored event behind the application's back."""
    url = settings.database_url
    if url.startswith("sqlite"):
        import sqlite3

        path = persistence_env(url, create_table=False)["SQLITE_DBNAME"]
        with sqlite3.connect(path) as conn:
            (state,) = conn.execute(
                "SELECT state FROM stored_events "
                "WHERE originator_id = ? AND originator_version = ?",
                (UUID(packet_id).hex, version),
            ).fetchone()
            conn.execute(
                "UPDATE stored_events SET state = ? "
                "WHERE originator_id = ? AND originator_version = ?",
                (state.replace(b"Credits", b"Debits!"), UUID(packet_id).hex, version),
            )
        return
    schema = persistence_env(url, create_table=False)["POSTGRES_SCHEMA"]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            f'UPDATE "{schema}".quire_events SET state = convert_to('
            "replace(convert_from(state, 'UTF8'), 'Credits', 'Debits!'), 'UTF8') "
            "WHERE originator_id = %s AND originator_version = %s",
            (UUID(packet_id), version),
        )


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_an_event_altered_in_the_database_after_a_checkpoint_fails_the_export(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    export(store, settings, history["packet"])  # the log is checkpointed
    _alter_stored_event(settings, history["packet"], 2)
    with pytest.raises(AuditMismatchError) as caught:
        export(store, settings, history["packet"])
    message = caught.value.message
    assert history["packet"] in message
    assert "version 2" in message
    assert "altered" in message


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_an_event_and_its_audit_row_altered_together_fail_at_the_checkpoint(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    catch_up(store, settings)
    _alter_stored_event(settings, history["packet"], 2)
    with store.transaction() as tx:
        tx.execute("DELETE FROM audit_log")
        tx.execute("DELETE FROM audit_state")
        tx.execute(
            "UPDATE projection_tracking SET position = 0 WHERE name = 'audit_log'"
        )
    with pytest.raises(AuditMismatchError) as caught:
        catch_up(store, settings)  # the replay meets the signed checkpoints
    assert "checkpoint of tree size" in caught.value.message


@pytest.mark.parametrize("backend", ["sqlite", "postgres"], indirect=True)
def test_a_full_export_names_an_altered_event_of_any_packet(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    export(store, settings, history["other"])
    _alter_stored_event(settings, history["packet"], 2)
    export(store, settings, history["other"])  # its own events are intact
    key = load_or_create_private_key(settings.signing_key_path)
    session = store.session()
    try:
        with pytest.raises(AuditMismatchError) as caught:
            export_packet(
                store, session, history["other"], key, io.StringIO(), full=True
            )
    finally:
        session.close()
    assert f"{history['packet']} version 2" in caught.value.message


# ----------------------------------------------------------------------- CLI
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_quire_audit_verify_runs_offline_and_exits_non_zero_when_tampered(
    store: ReadStore, settings: Settings, history: dict[str, Any], tmp_path: Path
) -> None:
    lines = export(store, settings, history["packet"])
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(lines) + "\n")
    bad = tmp_path / "bad.jsonl"
    at = _event_line(lines, 2)
    bad.write_text("\n".join(lines[:at] + lines[at + 1 :]) + "\n")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "QUIRE_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
    }

    def verify(path: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", "audit", "verify", str(path)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )

    ok = verify(good)
    assert ok.returncode == 0, ok.stderr
    assert "intact" in ok.stdout
    tampered = verify(bad)
    assert tampered.returncode == 1
    assert f"line {at + 1}" in tampered.stderr


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)
def test_a_rebuild_that_meets_an_altered_event_leaves_the_read_models_as_they_were(
    store: ReadStore, settings: Settings, history: dict[str, Any]
) -> None:
    """`quire projections rebuild` on PostgreSQL commits at once: stopped by
    an altered event, it has changed no read model (readers never saw them
    emptied)."""
    catch_up(store, settings)

    def rows() -> dict[str, int]:
        session = store.session()
        try:
            with session.read() as tx:
                return {
                    table: (tx.one(f"SELECT count(*) FROM {table}") or (0,))[0]
                    for projection in all_projections(settings)
                    for table in projection.tables
                }
        finally:
            session.close()

    before = rows()
    assert before["packet_list"] == 2 and before["audit_log"] > 0
    _alter_stored_event(settings, history["packet"], 2)
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": settings.database_url,
        "QUIRE_SIGNING_KEY_PATH": str(settings.signing_key_path),
        "PYTHONPATH": str(ROOT),
    }
    rebuilt = subprocess.run(
        [sys.executable, "-m", "api.cli", "projections", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert rebuilt.returncode != 0
    assert "AUDIT_MISMATCH" in rebuilt.stderr
    assert rows() == before

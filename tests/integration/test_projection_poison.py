"""Poison events: a projection that cannot apply one event records it, skips
it, and keeps projecting the events after it (SQLite and PostgreSQL, with the
projections running as threads, as in `quire serve` and `quire worker`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from projections import events as ev
from projections import packets, poison
from projections.driver import Driver
from projections.events import EventRecord
from projections.packets import PacketList
from projections.runner import ProjectionRunner, all_projections, create_read_models
from projections.store import ReadStore, Tx
from tests.integration.test_projections import append_raw
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import AddSection, RaiseObjection
from workspace.config import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store(app: Workspace, settings: Settings) -> Iterator[ReadStore]:
    read_store = ReadStore(settings, app)
    create_read_models(read_store)
    yield read_store
    read_store.close()


@pytest.fixture
def ben(app: Workspace) -> Principal:
    app.add_user("ben", "Ben", roles=[])
    return app.get_user("ben").principal()


def open_packet(app: Workspace, ben: Principal, title: str) -> str:
    packet = app.open_packet(
        ben, kind="k", title=title, release_owner="ben", authors=[], reviewers=[]
    )
    return str(packet.id)


def test_an_event_a_projection_cannot_apply_is_recorded_and_skipped(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    ben: Principal,
    backend: str,
) -> None:
    first = open_packet(app, ben, "First")
    # Stored below the HTTP layer: an objection without its id (the packet
    # list's fold raises on it), and on PostgreSQL a title holding a NUL,
    # which PostgreSQL text columns refuse.
    append_raw(app, first, ev.OBJECTION_RAISED, "ben", text="no id")
    bad_ids = [store.head()]
    if backend == "postgres":
        # The domain refuses NUL now (TEXT_HAS_NUL), so it is stored raw, as a
        # packet written before that guard (or by a bug) would hold it.
        nul = open_packet(app, ben, "Soon retitled")
        append_raw(app, nul, "quire.packet.Retitled", "ben", title="Nul\x00title")
        bad_ids.append(store.head())
    later = open_packet(app, ben, "Later")
    app.execute(later, ben, AddSection(heading="Scope", text="Credits accrue."))

    runner = ProjectionRunner(store, all_projections(settings), poison_attempts=2)
    runner.start()
    try:
        assert runner.wait(timeout=60), "a projection stopped at a poison event"
    finally:
        runner.stop()

    assert packets.packet_row(store, later) is not None
    rows = {(r["projection"], r["notification_id"]): r for r in poison.listed(store)}
    for nid in bad_ids:
        row = rows[("packet_list", nid)]
        assert row["skipped"] and row["attempts"] >= 2
        assert row["error"] and row["first_seen"] <= row["last_seen"]
    assert rows[("packet_list", bad_ids[0])]["topic"] == ev.OBJECTION_RAISED
    if backend == "postgres":
        assert "NUL" in rows[("packet_list", bad_ids[1])]["error"]
    # The audit log never skips: it applied every event.
    assert not any(p == "audit_log" for p, _ in rows)


class FlakyPacketList(PacketList):
    """The packet list, failing on objections while `broken` (a bug, fixed
    later by a deploy)."""

    broken: ClassVar[bool] = True

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        if self.broken and any(e.topic == ev.OBJECTION_RAISED for e in events):
            raise RuntimeError("packet list bug")
        super().apply(tx, events)


def test_a_poison_event_is_re_applied_on_retry_once_the_cause_is_fixed(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    ben: Principal,
    backend: str,
) -> None:
    pid = open_packet(app, ben, "Plan")
    app.execute(pid, ben, RaiseObjection(target={}, text="Cite the addendum"))
    runner = ProjectionRunner(store, [FlakyPacketList()], poison_attempts=2)
    runner.start()
    try:
        assert runner.wait(timeout=60)
    finally:
        runner.stop()
    row = packets.packet_row(store, pid)
    assert row is not None and row["open_objections"] == 0
    [poisoned] = poison.listed(store)
    assert poisoned["projection"] == "packet_list" and poisoned["skipped"]

    FlakyPacketList.broken = False
    try:
        assert poison.request_retry(store) == [
            ("packet_list", poisoned["notification_id"])
        ]
        driver = Driver(store, [FlakyPacketList()])
        session = store.session()
        try:
            assert driver.acquire(session, wait=False)
            assert driver.retry_poisoned(session) == 1
        finally:
            session.close()
    finally:
        FlakyPacketList.broken = True
    assert poison.listed(store) == []
    row = packets.packet_row(store, pid)
    assert row is not None and row["open_objections"] == 1


def quire(tmp: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": url,
        "QUIRE_SIGNING_KEY_PATH": str(tmp / "key.pem"),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_command_line_lists_poison_events_and_retries_them(
    app: Workspace,
    store: ReadStore,
    settings: Settings,
    ben: Principal,
    backend: str,
    tmp_path: Path,
) -> None:
    pid = open_packet(app, ben, "Plan")
    append_raw(app, pid, ev.OBJECTION_RAISED, "ben", text="no id")
    runner = ProjectionRunner(store, all_projections(settings), poison_attempts=1)
    runner.start()
    try:
        assert runner.wait(timeout=60)
    finally:
        runner.stop()

    listed = quire(tmp_path, settings.database_url, "projections", "poisoned")
    assert listed.returncode == 1, listed.stderr
    assert f"packet_list #{store.head()} {ev.OBJECTION_RAISED}" in listed.stdout
    # The event is still malformed: the retry fails again and says so.
    retried = quire(tmp_path, settings.database_url, "projections", "retry")
    assert retried.returncode == 1, retried.stderr
    assert "re-applied 0 of" in retried.stdout
    [row] = [r for r in poison.listed(store) if r["projection"] == "packet_list"]
    assert row["attempts"] == 2 and not row["retry"]

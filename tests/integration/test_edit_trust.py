"""Live-edit trust (issue 9): de-duplication per user, a base version from
before the section existed, and the packet cache under concurrent readers."""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.application import project_aggregate

from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import AddSection
from workspace.config import Settings
from workspace.domain import Packet
from workspace.errors import (
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    VersionClashError,
)

INSERT_X = [{"at": 0, "delete": 0, "insert": "x"}]


@pytest.fixture
def people(app: Workspace) -> dict[str, Principal]:
    for user in ("maya", "ben", "olga"):
        app.add_user(user, user.title(), roles=[])
    return {u: app.get_user(u).principal() for u in ("maya", "ben", "olga")}


@pytest.fixture
def packet_id(app: Workspace, people: dict[str, Principal]) -> str:
    packet = app.open_packet(
        people["ben"],
        kind="service-credit-clarification",
        title="Service-credit calculation clarification",
        release_owner="maya",
        authors=["ben"],
        reviewers=[],
    )
    app.execute(
        packet.id, people["ben"], AddSection(heading="Entitlement", text="Credits.")
    )
    return str(packet.id)


def replayed(app: Workspace, packet_id: str) -> Packet:
    """The packet folded from every stored event: no snapshot, no cache."""
    packet = project_aggregate(None, app.events.get(app.get_packet(packet_id).id))
    assert isinstance(packet, Packet)
    return packet


# ------------------------------------------------ item 2: per-user de-dup
def test_colliding_client_ids_of_two_users_are_both_applied_and_replay_agrees(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    ids = {"client_id": "tab-1", "client_seq": 1}
    ben = app.edit_section(
        packet_id, people["ben"], "sec-1", base_version=2, ops=INSERT_X, **ids
    )
    maya = app.edit_section(
        packet_id, people["maya"], "sec-1", base_version=2, ops=INSERT_X, **ids
    )
    again = app.edit_section(
        packet_id, people["ben"], "sec-1", base_version=2, ops=INSERT_X, **ids
    )
    assert (ben.version, maya.version) == (3, 4)
    assert (again.version, again.replayed) == (3, True)
    packet = app.get_packet(packet_id)
    assert packet.sections["sec-1"]["text"] == "xxCredits."
    # The remembered results are derived from the events' actors, so a full
    # replay (and a snapshot plus its tail) holds the same.
    assert replayed(app, packet_id).state() == packet.state()
    assert packet.client_result("ben", "tab-1", 1) == {"version": 3}
    assert packet.client_result("maya", "tab-1", 1) == {"version": 4}
    assert packet.client_result("olga", "tab-1", 1) is None


def test_an_outsider_copying_ids_is_refused_before_any_remembered_result(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    ids = {"client_id": "tab-1", "client_seq": 1}
    app.edit_section(
        packet_id, people["ben"], "sec-1", base_version=2, text="Draft.", **ids
    )
    with pytest.raises((NotAllowedError, NotFoundError)) as refused:
        app.edit_section(
            packet_id, people["olga"], "sec-1", base_version=2, text="?", **ids
        )
    assert "Draft" not in str(refused.value.details)
    assert app.get_packet(packet_id).version == 3


def test_a_snapshot_from_before_per_user_keys_loads_and_matches_nobody(
    app: Workspace, people: dict[str, Principal], packet_id: str
) -> None:
    """A packet state folded before this change kept `clients` by client id."""
    packet = app.get_packet(packet_id)
    del vars(packet)["client_results"]
    packet.clients = {"tab-1": {"1": 2}}  # type: ignore[attr-defined]
    assert packet.client_result("maya", "tab-1", 1) is None
    meta = people["maya"].meta(client_id="tab-1", client_seq=1)
    packet.edit_section(
        meta, section_id="sec-1", base_version=2, ops=[], max_bytes=1000
    )
    assert "clients" not in vars(packet)
    assert packet.client_result("maya", "tab-1", 1) == {"version": 3}


# ------------------------------- item 17: a base from before the section
@pytest.mark.parametrize("edited_since", [False, True])
@pytest.mark.parametrize("kind", ["text", "ops"])
def test_an_edit_based_before_the_section_existed_is_refused(
    app: Workspace,
    people: dict[str, Principal],
    packet_id: str,
    edited_since: bool,
    kind: str,
) -> None:
    ben = people["ben"]
    done = app.execute(
        packet_id, ben, AddSection(heading="Window", text="Starts at 09:00.")
    )
    section_id, added = done.result, done.version
    assert added == 3
    if edited_since:
        app.edit_section(packet_id, ben, section_id, base_version=added, ops=INSERT_X)
    before = app.get_packet(packet_id)
    edit: dict[str, Any] = (
        {"text": "Overwritten."}
        if kind == "text"
        else {"ops": [{"at": 0, "delete": 3, "insert": "Ends"}]}
    )
    with pytest.raises(InvalidInputError) as refused:
        app.edit_section(packet_id, ben, section_id, base_version=2, **edit)
    assert refused.value.code == "BASE_VERSION_INVALID"
    after = app.get_packet(packet_id)
    assert after.version == before.version
    assert after.sections[section_id]["text"] == before.sections[section_id]["text"]


# ------------------------------------ item 5: the cache under concurrency
@pytest.fixture
def switch_often() -> Iterator[None]:
    """Threads switch far more often than usual, so a read that is not safe
    against a concurrent fast-forward shows it within a second or two."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_concurrent_readers_and_writers_of_one_packet_see_whole_versions(
    app: Workspace,
    settings: Settings,
    people: dict[str, Principal],
    packet_id: str,
    switch_often: None,
) -> None:
    """Readers load the packet in one process while writers edit it there and
    from another: no read fails, and each is one whole version (the section's
    text holds exactly one 'x' per edit up to the version read)."""
    ben = people["ben"]
    # A larger state makes each copy take longer, and so a race likelier.
    for n in range(40):
        app.execute(
            packet_id, ben, AddSection(heading=f"Filler {n}", text="filler " * 40)
        )
    start = app.get_packet(packet_id).version
    other = Workspace(settings=settings)  # another process's application
    stop = threading.Event()
    failures: list[BaseException] = []
    reads = [0]

    def check(packet: Packet) -> None:
        text = packet.sections["sec-1"]["text"]
        if text != "x" * (packet.version - start) + "Credits.":
            raise AssertionError(f"version {packet.version} with text {text!r}")

    def read() -> None:
        try:
            while not stop.is_set():
                check(app.get_packet(packet_id))
                reads[0] += 1
        except BaseException as e:
            failures.append(e)
            stop.set()

    def write(through: Workspace, client_id: str) -> None:
        try:
            seq = 0
            while not stop.is_set():
                seq += 1
                base = through.get_packet(packet_id).version
                with contextlib.suppress(VersionClashError):
                    # A writer that lost to the other one too often in a row
                    # is told to try again: an answer, not a failure here.
                    through.edit_section(
                        packet_id,
                        ben,
                        "sec-1",
                        base_version=base,
                        ops=INSERT_X,
                        client_id=client_id,
                        client_seq=seq,
                    )
        except BaseException as e:
            failures.append(e)
            stop.set()

    threads = [threading.Thread(target=read) for _ in range(4)]
    threads += [
        threading.Thread(target=write, args=(other, "other-process")),
        threading.Thread(target=write, args=(app, "this-process")),
    ]
    try:
        for thread in threads:
            thread.start()
        stop.wait(timeout=3.0)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        other.close()
    assert not failures, failures[0]
    final = app.get_packet(packet_id)
    check(final)
    assert final.version > start and reads[0] > 0
    assert replayed(app, packet_id).state() == final.state()

"""Hypothesis state machine over random packet commands, on every backend.

Two clients edit one section from stale bases, resend, withdraw and cut
revisions. After every step: the state folded from stored events equals the
live state; snapshot plus tail equals full replay; every revision's content
hash recomputes identically; text from an accepted insert disappears only
through a later accepted delete.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from tests.conftest import database_url_for, drop_pg_schema
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import (
    AddSection,
    CiteSource,
    CutRevision,
    RaiseObjection,
    RefreshSource,
    WithdrawObjection,
    WithdrawSource,
)
from workspace.config import Settings
from workspace.domain import Packet
from workspace.errors import EditConflictError, QuireError
from workspace.hashing import content_hash

MARKERS = itertools.count()
EXAMPLES = int(os.environ.get("QUIRE_STATEFUL_EXAMPLES", "12"))


def full_replay(app: Workspace, packet_id: Any) -> Packet:
    """Folds every stored event from the start, ignoring snapshots."""
    aggregate: Any = None
    for event in app.events.get(packet_id):
        aggregate = event.mutate(aggregate)
    assert isinstance(aggregate, Packet)
    return aggregate


class PacketMachine(RuleBasedStateMachine):
    app: Workspace
    people: dict[str, Principal]

    def __init__(self) -> None:
        super().__init__()
        self.packet_id: Any = None
        self.section_id = ""
        self.alive: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self.seq = itertools.count(1)

    @initialize()
    def open_packet(self) -> None:
        packet = self.app.open_packet(
            self.people["ann"],
            kind="recovery-plan",
            title="Recovery plan",
            release_owner="own",
            authors=["ann", "bea"],
            reviewers=[],
        )
        self.packet_id = packet.id
        self.section_id = self.app.execute(
            packet.id, self.people["ann"], AddSection(heading="Plan", text="0123456789")
        ).result

    def current(self) -> Packet:
        return self.app.get_packet(self.packet_id)

    def text(self) -> str:
        return str(self.current().sections[self.section_id]["text"])

    @rule(
        who=st.sampled_from(["ann", "bea"]),
        stale=st.integers(0, 4),
        kind=st.sampled_from(["insert", "replace", "delete", "whole"]),
        where=st.floats(0, 1),
        span=st.integers(0, 4),
    )
    def edit(self, who: str, stale: int, kind: str, where: float, span: int) -> None:
        packet = self.current()
        base = max(packet.sections[self.section_id]["last_edit_version"] - stale, 3)
        base = min(base, packet.version)
        base_text = self.app.get_packet(self.packet_id, version=base).sections[
            self.section_id
        ]["text"]
        at = int(where * len(base_text))
        span = min(span, len(base_text) - at)
        # One private-use character per insert: a marker can never be split.
        marker = chr(0xE000 + next(MARKERS) % 6000)
        if kind == "insert":
            request: dict[str, Any] = {
                "ops": [{"at": at, "delete": 0, "insert": marker}]
            }
        elif kind == "replace":
            request = {"ops": [{"at": at, "delete": span, "insert": marker}]}
        elif kind == "delete":
            request = {"ops": [{"at": at, "delete": span, "insert": ""}]}
            marker = ""
        else:
            request = {"text": base_text[:at] + marker + base_text[at + span :]}
        request.update(client_id=who, client_seq=next(self.seq), base_version=base)
        before = self.text()
        try:
            out = self.app.edit_section(
                self.packet_id, self.people[who], self.section_id, **request
            )
        except EditConflictError:
            assert self.text() == before
            self.sent.append({"who": who, **request})
            return
        self.sent.append({"who": who, **request})
        deleted = kind in ("replace", "delete") or (kind == "whole" and span > 0)
        if deleted:
            # A later accepted delete may remove earlier inserts: re-baseline.
            self.alive = {m for m in self.alive if m in out.text}
        if marker:
            assert marker in out.text
            self.alive.add(marker)

    @precondition(lambda self: bool(self.sent))
    @rule(data=st.data())
    def resend(self, data: st.DataObject) -> None:
        request = dict(data.draw(st.sampled_from(self.sent)))
        who = request.pop("who")
        version = self.current().version
        with contextlib.suppress(EditConflictError):
            self.app.edit_section(
                self.packet_id, self.people[who], self.section_id, **request
            )
        assert self.current().version == version, "a resend must store nothing"

    @rule(material=st.booleans())
    def cite_refresh_or_withdraw(self, material: bool) -> None:
        packet = self.current()
        live = [s for s in packet.sources.values() if s["status"] == "current"]
        ann = self.people["ann"]
        if not live:
            self.app.execute(
                self.packet_id,
                ann,
                CiteSource(
                    kind="order-form",
                    title="Order form",
                    reference="OF-1",
                    digest="d0",
                    precedence=1,
                ),
            )
        elif material:
            self.app.execute(
                self.packet_id,
                ann,
                RefreshSource(
                    source_id=live[0]["id"],
                    digest=f"d{packet.version}",
                    material=True,
                    reason="telemetry corrected",
                ),
            )
        else:
            self.app.execute(
                self.packet_id, ann, WithdrawSource(source_id=live[0]["id"])
            )

    @rule(withdraw=st.booleans())
    def object_then_withdraw(self, withdraw: bool) -> None:
        packet = self.current()
        open_ = [o for o in packet.objections.values() if o["state"] == "open"]
        if open_ and withdraw:
            self.app.execute(
                self.packet_id,
                self.people[open_[0]["raised_by"]],
                WithdrawObjection(open_[0]["id"]),
            )
        else:
            self.app.execute(
                self.packet_id,
                self.people["bea"],
                RaiseObjection(target={"section_id": self.section_id}, text="basis?"),
            )

    @rule(label=st.one_of(st.none(), st.text("abc", min_size=1, max_size=3)))
    def cut(self, label: str | None) -> None:
        try:
            self.app.execute(self.packet_id, self.people["ann"], CutRevision(label))
        except QuireError as e:
            assert e.code == "LABEL_TAKEN"

    @invariant()
    def replay_equals_live_and_snapshot(self) -> None:
        if self.packet_id is None:
            return
        live = self.current()  # snapshot plus tail (snapshots every 5 events)
        assert full_replay(self.app, self.packet_id).state() == live.state()
        for revision in live.revisions:
            past = self.app.get_packet(self.packet_id, version=revision["version"])
            assert content_hash(past.content()) == revision["content_hash"]
            _, stored = self.app.revision_content(live, revision["number"])
            assert content_hash(stored) == revision["content_hash"]

    @invariant()
    def accepted_inserts_survive_until_deleted(self) -> None:
        if self.packet_id is None:
            return
        text = self.text()
        missing = [m for m in self.alive if m not in text]
        assert not missing, f"accepted inserts lost: {missing} in {text!r}"


@pytest.mark.parametrize("backend_name", ["memory", "sqlite", "postgres"])
def test_random_command_sequences_keep_every_invariant(
    backend_name: str, tmp_path: Path
) -> None:
    url, schema = database_url_for(backend_name, tmp_path)
    app = Workspace(
        {"CREATE_TABLE": "y"},
        settings=Settings(database_url=url, snapshot_interval=5, pool_size=2),
    )
    try:
        for user, roles in (("ann", []), ("bea", []), ("own", [])):
            app.add_user(user, user.title(), roles=roles)
        PacketMachine.app = app
        PacketMachine.people = {
            u: app.get_user(u).principal() for u in ("ann", "bea", "own")
        }
        machine = PacketMachine.TestCase
        machine.settings = settings(
            max_examples=EXAMPLES,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        machine().runTest()
    finally:
        app.close()
        if schema:
            drop_pg_schema(schema)

"""Over random interleavings of edits, refreshes, objections, cuts, approvals,
audience changes and clock advances: no active release ever has a dependency
that changed after its approval, and no approval binds a hash other than its
revision's. The oracle reads the stored events, not the release layer."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from release.application import ReleaseApp
from release.commands import AcceptResidual, ApproveRelease, RequestRelease
from release.sweeper import ManualClock, due_lapses, sweep_packet
from workspace import accounts
from workspace.commands import (
    AddSection,
    CiteSource,
    CutRevision,
    DeclarePrerequisite,
    RaiseObjection,
    RefreshSource,
    ReopenObjection,
    ResolveObjection,
    SatisfyPrerequisite,
)
from workspace.config import Settings
from workspace.domain import Packet
from workspace.errors import QuireError
from workspace.hashing import content_hash

KIND = "entitlement-clarification"
PASSPHRASE = "owner passphrase"

ops = st.one_of(
    st.tuples(st.just("edit"), st.integers(0, 1), st.text("abc", max_size=3)),
    st.tuples(st.just("refresh"), st.integers(0, 2), st.booleans()),
    st.tuples(st.just("object")),
    st.tuples(st.just("resolve")),
    st.tuples(st.just("reopen"), st.integers(0, 3)),
    st.tuples(st.just("cut")),
    st.tuples(st.just("request")),
    st.tuples(st.just("residual")),
    st.tuples(st.just("approve"), st.booleans()),
    st.tuples(st.just("release")),
    st.tuples(st.just("release")),  # twice: most interleavings need a release
    st.tuples(st.just("audience")),
    st.tuples(st.just("satisfy")),
    st.tuples(st.just("advance"), st.integers(1, 30)),
)


@pytest.fixture(autouse=True)
def cheap_passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accounts, "SCRYPT_N", 2**4)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2025, 1, 1, tzinfo=UTC))


@pytest.fixture
def release_app(settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    app = ReleaseApp({"CREATE_TABLE": "y"}, settings=settings, clock=clock)
    app.add_user("owner", "Owner", roles=[], passphrase=PASSPHRASE)
    app.add_user("ben", "Ben", roles=[])
    app.add_user("rita", "Rita", roles=[])
    app.add_user("bot", "Bot", roles=["agent"])
    app.add_user("admin", "Admin", roles=["admin"])
    app.add_user("lars", "Lars", roles=[])
    yield app
    app.close()


class World:
    def __init__(self, app: ReleaseApp, clock: ManualClock) -> None:
        self.app, self.clock = app, clock
        self.who = {u: app.get_user(u).principal() for u in ("owner", "ben", "rita")}
        self.who["bot"] = app.get_user("bot").principal()
        self.admin = app.get_user("admin").principal()
        self.lane = f"lane-{uuid.uuid4().hex[:8]}"
        app.create_lane(
            self.admin,
            lane_id=self.lane,
            title="Lane",
            members=["lars"],
            accepts_kinds=[KIND],
        )
        ben = self.who["ben"]
        packet = app.open_packet(
            ben,
            kind=KIND,
            title="P",
            release_owner="owner",
            authors=["ben", "bot"],
            reviewers=["rita"],
        )
        self.pid = str(packet.id)
        for heading in ("A", "B"):
            app.execute(self.pid, ben, AddSection(heading=heading, text="text"))
        for n in range(3):
            app.execute(
                self.pid,
                ben,
                CiteSource(
                    kind="k",
                    title=f"S{n}",
                    reference="r",
                    digest=f"d{n}-0",
                    precedence=n,
                    valid_until=clock.now + timedelta(hours=20) if n == 2 else None,
                ),
            )
        app.execute(
            self.pid,
            ben,
            DeclarePrerequisite(
                title="P", satisfied=True, valid_until=clock.now + timedelta(hours=40)
            ),
        )
        self.refreshes = 0

    def packet(self) -> Packet:
        return self.app.get_packet(self.pid)

    def open_release(self, packet: Packet) -> str | None:
        found = [
            r["id"]
            for r in packet.releases.values()
            if r["status"] in ("pending", "held")
        ]
        return found[-1] if found else None

    def do(self, op: tuple[Any, ...]) -> None:
        app, pid, packet = self.app, self.pid, self.packet()
        ben, rita, owner = self.who["ben"], self.who["rita"], self.who["owner"]
        name = op[0]
        if name == "edit":
            sid = packet.section_order[op[1]]
            app.edit_section(pid, ben, sid, base_version=packet.version, text=op[2])
        elif name == "refresh":
            self.refreshes += 1
            app.execute(
                pid,
                self.who["bot"],
                RefreshSource(
                    source_id=f"src-{op[1] + 1}",
                    digest=f"d{op[1]}-{self.refreshes}",
                    material=op[2],
                    reason="r",
                    valid_until=self.clock.now + timedelta(hours=20),
                ),
            )
        elif name == "object":
            app.execute(
                pid, rita, RaiseObjection(target={}, text=f"objection {packet.version}")
            )
        elif name == "resolve":
            open_ = [o for o, v in packet.objections.items() if v["state"] == "open"]
            if open_:
                app.execute(
                    pid,
                    rita,
                    ResolveObjection(objection_id=open_[0], resolution="resolved"),
                )
        elif name == "reopen":
            closed = [o for o, v in packet.objections.items() if v["state"] != "open"]
            if closed:
                app.execute(
                    pid,
                    rita,
                    ReopenObjection(
                        objection_id=closed[op[1] % len(closed)], reason="again"
                    ),
                )
        elif name == "cut":
            app.execute(pid, ben, CutRevision())
        elif name == "request" and packet.revisions:
            app.execute(
                pid,
                ben,
                RequestRelease(revision=len(packet.revisions), lane_id=self.lane),
            )
        elif name == "residual":
            rid = self.open_release(packet)
            open_ = [o for o, v in packet.objections.items() if v["state"] == "open"]
            if rid and open_:
                app.execute(
                    pid,
                    owner,
                    AcceptResidual(
                        release_id=rid, objection_id=open_[0], rationale="accepted"
                    ),
                )
        elif name == "approve":
            rid = self.open_release(packet)
            if rid:
                revision = packet.revision(packet.release(rid)["revision"])
                shown = revision["content_hash"] if op[1] else "sha256:other"
                approve = ApproveRelease(
                    rid, content_hash=shown, meaning="m", passphrase=PASSPHRASE
                )
                app.execute(pid, owner, approve)
        elif name == "release":  # cut, request, accept what is open, sign
            app.execute(pid, ben, CutRevision())
            self.do(("request",))
            while True:
                packet = self.packet()
                rid = self.open_release(packet)
                if not rid or not any(
                    o["state"] == "open" for o in packet.objections.values()
                ):
                    break
                self.do(("residual",))
            self.do(("approve", True))
        elif name == "audience":
            lane = app.get_lane(self.lane)
            members = ["lars"] if len(lane.members) > 1 else ["lars", "ben"]
            app.change_lane_members(self.admin, self.lane, members)
        elif name == "satisfy":
            app.execute(
                pid,
                ben,
                SatisfyPrerequisite(
                    prerequisite_id="pre-1",
                    evidence="renewed",
                    valid_until=self.clock.now + timedelta(hours=40),
                ),
            )
        elif name == "advance":
            self.clock.advance(timedelta(hours=op[1]))
            sweep_packet(app, pid)  # as the worker would, once time passes

    def check(self) -> None:
        packet = self.packet()
        lane = self.app.get_lane(self.lane)
        events = list(self.app.events.get(packet.id))
        assert not any(due_lapses(packet, self.clock.now))
        for release in packet.releases.values():
            if release["manifest"] is None:
                continue
            revision = packet.revision(release["revision"])
            _, content = self.app.revision_content(packet, release["revision"])
            bound = release["manifest"]["revision"]["content_hash"]
            assert bound == release["content_hash"] == revision["content_hash"]
            assert content_hash(content) == bound
            if release["status"] == "released":
                changed = changes_after(events, release)
                assert not changed, (release["id"], changed)
                audience = release["manifest"]["lane"]["audience_version"]
                assert audience == lane.audience_version


def changes_after(events: list[Any], release: dict[str, Any]) -> list[str]:
    """What the release depended on and changed after its approval, found in
    the stored events by an oracle independent of the release layer."""
    manifest = release["manifest"]
    sources = {s["source_id"] for s in manifest["sources"]}
    prerequisites = {p["prerequisite_id"] for p in manifest["prerequisites"]}
    residuals = {r["objection_id"] for r in manifest["residual_objections"]}
    changed = []
    for event in events:
        if event.originator_version <= release["approved_version"]:
            continue
        name = type(event).__name__
        if (
            (name == "SourceRefreshed" and event.material)
            or name in ("SourceWithdrawn", "SourceExpired")
        ) and event.source_id in sources:
            changed.append(f"{name} {event.source_id}")
        if name == "PrerequisiteLapsed" and event.prerequisite_id in prerequisites:
            changed.append(f"{name} {event.prerequisite_id}")
        if name == "ObjectionReopened" and event.objection_id in residuals:
            changed.append(f"{name} {event.objection_id}")
    return changed


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(st.lists(ops, min_size=5, max_size=18))
def test_no_active_release_outlives_a_change_to_what_it_depended_on(
    release_app: ReleaseApp, clock: ManualClock, steps: list[tuple[Any, ...]]
) -> None:
    world = World(release_app, clock)
    for step in [
        ("cut",),
        ("request",),
        *steps,
        ("cut",),
        ("request",),
        ("approve", True),
    ]:
        with contextlib.suppress(QuireError):  # refused or held: nothing changes
            world.do(step)
        world.check()

"""What every demo seed shares: creating its cast and its intake lanes once
(a second run changes nothing), and `Story`, the plumbing a seed's story is
told with: who issues which command on the story's packet, with the packet's
content written from tables (sections, sources, prerequisites by name)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from release.application import ReleaseApp
from release.commands import AcceptResidual, ApproveRelease, RequestRelease
from workspace.accounts import Principal
from workspace.commands import (
    AddSection,
    CiteSource,
    Command,
    CutRevision,
    DeclarePrerequisite,
    Executed,
    RaiseObjection,
    SatisfyPrerequisite,
)
from workspace.domain import Packet

#: user id -> (name, roles)
People = Mapping[str, tuple[str, list[str]]]


@dataclass(frozen=True)
class LaneSpec:
    """An intake lane the demo creates (as `ReleaseApp.create_lane` takes it)."""

    lane_id: str
    title: str
    members: list[str]
    accepts_kinds: list[str]
    policy: dict[str, Any] | None = None


def add_cast(
    app: ReleaseApp, people: People, passphrases: Mapping[str, str]
) -> dict[str, str]:
    """Creates whoever is missing; returns the new users' bearer tokens."""
    tokens: dict[str, str] = {}
    for user_id, (name, roles) in people.items():
        if not app.user_exists(user_id):
            tokens[user_id] = app.add_user(
                user_id,
                name,
                roles=roles,
                passphrase=passphrases.get(user_id),
                actor="demo",
            )
    return tokens


def add_intake_lanes(app: ReleaseApp, lanes: Sequence[LaneSpec]) -> None:
    """Creates the lanes that do not exist yet (the administrator creates them)."""
    admin = app.get_user("quire.admin").principal()
    for lane in lanes:
        if app.find_lane(lane.lane_id) is None:
            app.create_lane(admin, **asdict(lane))


class Section(NamedTuple):
    author: str
    heading: str
    text: str


class Cited(NamedTuple):
    """A source cited as `{kind}://{name}` (its name in the story's table)."""

    by: str
    kind: str
    title: str
    digest: str
    precedence: int


class Prerequisite(NamedTuple):
    """`valid_for`: how long from the story's start it stays valid (negative:
    already lapsed), or no expiry."""

    by: str
    title: str
    satisfied: bool = True
    valid_for: timedelta | None = None


@dataclass
class Story:
    """Shared plumbing of the stories: `ids` names what the story created."""

    app: ReleaseApp
    packet_id: str = ""
    ids: dict[str, str] = field(default_factory=dict)

    def who(self, user_id: str) -> Principal:
        return self.app.get_user(user_id).principal()

    def packet(self) -> Packet:
        return self.app.get_packet(self.packet_id)

    def now(self) -> datetime:
        return self.app.clock()

    def run(self, user_id: str, command: Command) -> Executed[Any]:
        """`user_id` issues `command` on this story's packet."""
        return self.app.execute(self.packet_id, self.who(user_id), command)

    def write(
        self,
        sections: Mapping[str, Section],
        sources: Mapping[str, Cited],
        prerequisites: Mapping[str, Prerequisite],
    ) -> None:
        """Adds the sections, cites the sources and declares the
        prerequisites, in the tables' order, each named in `ids`."""
        now = self.now()
        for name, (author, heading, text) in sections.items():
            self.ids[name] = self.run(
                author, AddSection(heading=heading, text=text)
            ).result
        for name, cited in sources.items():
            self.source(name, cited)
        for name, (by, title, satisfied, valid_for) in prerequisites.items():
            valid_until = None if valid_for is None else now + valid_for
            declare = DeclarePrerequisite(
                title=title, satisfied=satisfied, valid_until=valid_until
            )
            self.ids[name] = self.run(by, declare).result

    def source(self, name: str, cited: Cited) -> None:
        cite = CiteSource(
            kind=cited.kind,
            title=cited.title,
            reference=f"{cited.kind}://{name}",
            digest=cited.digest,
            precedence=cited.precedence,
        )
        self.ids[name] = self.run(cited.by, cite).result

    def rewrite(self, user_id: str, name: str, text: str) -> None:
        self.app.edit_section(
            self.packet_id,
            self.who(user_id),
            self.ids[name],
            base_version=self.packet().version,
            text=text,
        )

    def satisfy(
        self, user_id: str, name: str, evidence: str, valid_until: datetime | None
    ) -> None:
        satisfy = SatisfyPrerequisite(
            prerequisite_id=self.ids[name], evidence=evidence, valid_until=valid_until
        )
        self.run(user_id, satisfy)

    def object(self, user_id: str, name: str, target: str, text: str) -> None:
        objection = RaiseObjection(target={"section_id": self.ids[target]}, text=text)
        self.ids[name] = self.run(user_id, objection).result

    def cut(self, user_id: str, label: str) -> dict[str, Any]:
        revision: dict[str, Any] = self.run(user_id, CutRevision(label)).result
        return revision

    def request(self, user_id: str, revision: int, lane_id: str) -> dict[str, Any]:
        done = self.run(user_id, RequestRelease(revision=revision, lane_id=lane_id))
        return self.app.release_view(done.packet, done.result)

    def accept_residual(
        self, owner: str, release_id: str, objection: str, rationale: str
    ) -> dict[str, Any]:
        accept = AcceptResidual(
            release_id=release_id,
            objection_id=self.ids[objection],
            rationale=rationale,
        )
        done = self.run(owner, accept)
        return self.app.release_view(done.packet, done.result)

    def sign(
        self, signer: str, release_id: str, *, meaning: str, scope: str, passphrase: str
    ) -> dict[str, Any]:
        """`signer` approves the release's revision as it stands."""
        packet = self.packet()
        revision = packet.revision(packet.release(release_id)["revision"])
        approve = ApproveRelease(
            release_id,
            content_hash=revision["content_hash"],
            meaning=meaning,
            passphrase=passphrase,
            scope=scope,
        )
        return self.app.release_view(self.run(signer, approve).packet, release_id)

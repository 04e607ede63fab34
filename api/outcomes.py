"""Running a route's command and shaping its outcome (no decisions are made
here): a packet route takes an `OnPacket` (the packet id from its path, the
caller and the application), builds the command from its body and hands it to
one of its methods, which call the one handler, `Workspace.execute`."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends

from api.deps import CurrentUser, ServicesDep, release_layer
from api.schemas import Output, SupersedingResult, VersionPublic, Write
from api.services import Services
from workspace import policy
from workspace.accounts import Principal
from workspace.commands import Command, Executed
from workspace.domain import Packet

Created = TypeVar("Created", bound=Output)


class OnPacket:
    """One request on one packet: which packet, who asks, through which app."""

    def __init__(self, svc: Services, packet_id: str, user: Principal) -> None:
        self.svc = svc
        self.app = svc.app
        self.packet_id = packet_id
        self.user = user

    def read(self) -> Packet:
        """The packet as it stands, if the caller may read it (403, 404)."""
        return self.app.read_packet(self.user, self.packet_id)

    def record_read(
        self, packet: Packet, what: str, detail: dict[str, Any] | None = None
    ) -> None:
        """Records what an auditor who is not a member of the packet read."""
        if self.user.is_auditor and not policy.is_member(self.user, packet):
            self.app.record_view(
                self.user, what, packet_id=str(packet.id), detail=detail
            )

    def execute(self, command: Command, body: Write | None = None) -> Executed[Any]:
        """Runs `command`, based on the body's `expected_version` if it names one."""
        expected = None if body is None else body.expected_version
        return self.app.execute(
            self.packet_id, self.user, command, expected_version=expected
        )

    def version_after(
        self, command: Command, body: Write | None = None
    ) -> VersionPublic:
        """`{version}`: the packet's version after the command."""
        return VersionPublic(version=self.execute(command, body).version)

    def created(self, command: Command, body: Write, answer: type[Created]) -> Created:
        """`{<entry>_id, version}` (201): the id of the entry the command
        added (its result) in `answer`'s one field besides `version`
        (`SectionCreated.section_id`), and the packet's version after it."""
        done = self.execute(command, body)
        (id_field,) = answer.model_fields.keys() - {"version"}
        return answer.model_validate({id_field: done.result, "version": done.version})

    def superseding(
        self, command: Command, body: Write | None = None
    ) -> SupersedingResult:
        """`{version, superseded_releases}`: what the command superseded."""
        before = self.app.get_packet(self.packet_id)
        after = self.execute(command, body).packet
        return SupersedingResult(
            version=after.version, superseded_releases=superseded_between(before, after)
        )

    def release_after(self, command: Command) -> dict[str, Any]:
        """The release view of the release a release command returned."""
        app = release_layer(self.svc)
        done = app.execute(self.packet_id, self.user, command)
        return app.release_view(done.packet, done.result)


def on_packet(packet_id: str, user: CurrentUser, svc: ServicesDep) -> OnPacket:
    return OnPacket(svc, packet_id, user)


#: A packet route's `packet_id`, caller and application, in one parameter.
OnPacketDep = Annotated[OnPacket, Depends(on_packet)]


def superseded_between(before: Any, after: Any) -> list[str]:
    """Releases that a command superseded: superseded after it, not before.

    Supersession lands in the same atomic save as the change that causes it
    (the release layer's `consequences`), so comparing the packet read just
    before the command with the one it returns names them.
    """

    def status(packet: Any, release_id: str) -> Any:
        release = getattr(packet, "releases", {}).get(release_id)
        return release.get("status") if isinstance(release, dict) else None

    return [
        release_id
        for release_id in getattr(after, "releases", {})
        if status(after, release_id) == "superseded"
        and status(before, release_id) != "superseded"
    ]

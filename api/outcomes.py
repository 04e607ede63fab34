"""Running a route's command and shaping its outcome (no decisions are made
here): a route builds the command from its body and hands it to one of these,
which call the one handler, `Workspace.execute`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.schemas import SupersedingResult, VersionPublic
from workspace.accounts import Principal
from workspace.commands import Command, Executed

if TYPE_CHECKING:
    from release.application import ReleaseApp
    from workspace.application import Workspace


def execute(
    app: Workspace, packet_id: str, user: Principal, command: Command, body: Any = None
) -> Executed[Any]:
    """Runs `command`, based on the body's `expected_version` if it names one."""
    expected = getattr(body, "expected_version", None)
    return app.execute(packet_id, user, command, expected_version=expected)


def version_after(
    app: Workspace, packet_id: str, user: Principal, command: Command, body: Any = None
) -> VersionPublic:
    """`{version}`: the packet's version after the command."""
    return VersionPublic(version=execute(app, packet_id, user, command, body).version)


def superseding(
    app: Workspace, packet_id: str, user: Principal, command: Command, body: Any = None
) -> SupersedingResult:
    """`{version, superseded_releases}`: what the command superseded."""
    before = app.get_packet(packet_id)
    after = execute(app, packet_id, user, command, body).packet
    return SupersedingResult(
        version=after.version, superseded_releases=superseded_between(before, after)
    )


def release_after(
    app: ReleaseApp, packet_id: str, user: Principal, command: Command
) -> dict[str, Any]:
    """The release view of the release a release command returned."""
    done = app.execute(packet_id, user, command)
    return app.release_view(done.packet, done.result)


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

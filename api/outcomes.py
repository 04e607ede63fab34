"""Shaping command outcomes for responses (no decisions are made here)."""

from __future__ import annotations

from typing import Any


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

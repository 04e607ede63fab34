"""Prerequisites: hashed with their state; the gate holds a release while one
is unmet or lapsed, or changed since the revision was cut; a manifest binds
them as the revision's content states them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workspace.content.base import Change, ContentModule, Hold, by_id, is_past
from workspace.content.registry import register

PREREQUISITE_UNMET = "PREREQUISITE_UNMET"
PREREQUISITE_LAPSED = "PREREQUISITE_LAPSED"


class Prerequisites(ContentModule):
    name = "prerequisites"
    order = 30

    def content(self, packet: Any) -> list[dict[str, Any]]:
        return [
            {
                "id": p["id"],
                "title": p["title"],
                "state": p["state"],
                "valid_until": p["valid_until"],
            }
            for p in packet.prerequisites.values()
        ]

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        holds: list[Hold] = []
        for pid, prerequisite in packet.prerequisites.items():
            title = prerequisite["title"]
            if prerequisite["state"] == "unmet":
                holds.append(
                    Hold(
                        PREREQUISITE_UNMET,
                        f"prerequisite {pid} ({title}) is not met",
                        {"prerequisite_id": pid},
                    )
                )
            elif prerequisite["state"] == "lapsed" or is_past(
                prerequisite["valid_until"], now
            ):
                holds.append(
                    Hold(
                        PREREQUISITE_LAPSED,
                        f"prerequisite {pid} ({title}) lapsed at "
                        f"{prerequisite['valid_until']}",
                        {
                            "prerequisite_id": pid,
                            "valid_until": prerequisite["valid_until"],
                        },
                    )
                )
        return holds

    def changes(self, cut: Any, current: Any) -> list[Change]:
        """Declared after the cut, or satisfied or renewed since (an unmet or
        lapsed one is PREREQUISITE_UNMET / PREREQUISITE_LAPSED instead)."""
        found: list[Change] = []
        then = {p["id"]: p for p in cut or []}
        for now_p in current:
            pid = now_p["id"]
            was = then.get(pid)
            named = f"prerequisite {pid} ({now_p['title']})"
            if was is None:
                found.append(Change(f"{named} was declared", {"prerequisite_id": pid}))
                continue
            if now_p["state"] in ("unmet", "lapsed"):
                continue
            changed = sorted(k for k in now_p if now_p[k] != was.get(k))
            if changed:
                said = ", ".join(f"{k} {was.get(k)!r} -> {now_p[k]!r}" for k in changed)
                found.append(
                    Change(
                        f"{named} changed",
                        {"prerequisite_id": pid},
                        f" ({said}); cut a new revision",
                    )
                )
        return found

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "prerequisites": [
                {
                    "prerequisite_id": p["id"],
                    "title": p["title"],
                    "state": p["state"],
                    "valid_until": p["valid_until"],
                }
                for p in content["prerequisites"]
            ]
        }

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        return by_id(old.get("prerequisites", []), new.get("prerequisites", []))


PREREQUISITES = register(Prerequisites())

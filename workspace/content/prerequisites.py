"""Prerequisites: hashed with their state; the gate holds a release while one
is unmet or lapsed, or changed since the revision was cut; a manifest binds
them as the revision's content states them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workspace.content.base import REVISION_STALE, ContentModule, Hold, by_id, is_past
from workspace.content.registry import register

PREREQUISITE_UNMET = "PREREQUISITE_UNMET"
PREREQUISITE_LAPSED = "PREREQUISITE_LAPSED"


class Prerequisites(ContentModule):
    name = "prerequisites"
    key = "prerequisites"
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

    def stale(
        self,
        packet: Any,
        record: dict[str, Any],
        content: dict[str, Any],
        current: Any,
    ) -> list[Hold]:
        """Declared after the cut, or satisfied or renewed since (an unmet or
        lapsed one is PREREQUISITE_UNMET / PREREQUISITE_LAPSED instead)."""
        number = record["number"]
        holds: list[Hold] = []
        cut = {p["id"]: p for p in content.get("prerequisites", [])}
        for now_p in current:
            pid = now_p["id"]
            was = cut.get(pid)
            if was is None:
                holds.append(
                    Hold(
                        REVISION_STALE,
                        f"prerequisite {pid} ({now_p['title']}) was declared after "
                        f"revision {number} was cut",
                        {"part": "prerequisites", "prerequisite_id": pid},
                    )
                )
                continue
            if now_p["state"] in ("unmet", "lapsed"):
                continue
            changed = sorted(k for k in now_p if now_p[k] != was.get(k))
            if changed:
                said = ", ".join(f"{k} {was.get(k)!r} -> {now_p[k]!r}" for k in changed)
                holds.append(
                    Hold(
                        REVISION_STALE,
                        f"prerequisite {pid} ({now_p['title']}) changed after "
                        f"revision {number} was cut ({said}); cut a new revision",
                        {"part": "prerequisites", "prerequisite_id": pid},
                    )
                )
        return holds

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

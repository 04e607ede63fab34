"""Cited sources: the ones not withdrawn are hashed, in citation order; the
gate holds a release whose sources drifted, were withdrawn or expired since
its revision was cut; a manifest binds them with the release owner's
non-material judgements."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from workspace.content.base import Change, ContentModule, Hold, by_id, is_past
from workspace.content.registry import register

SOURCE_DRIFTED_SINCE_CUT = "SOURCE_DRIFTED_SINCE_CUT"
SOURCE_EXPIRED = "SOURCE_EXPIRED"
SOURCE_UNREADABLE = "SOURCE_UNREADABLE"

HASHED = ("id", "kind", "title", "reference", "digest", "precedence", "valid_until")


def non_material_refreshes(packet: Any, source_ids: set[str]) -> list[Any]:
    """Every changed digest of these sources that the release owner judged
    non-material, with the reason, oldest first."""
    found = [
        {"source_id": sid, **judgement}
        for sid in sorted(source_ids)
        if sid in packet.sources
        for judgement in packet.sources[sid].get("non_material", [])
    ]
    return sorted(found, key=lambda j: (j["version"], j["source_id"]))


def unreadable_since(source: dict[str, Any], now: datetime) -> str | None:
    """When a watched source began failing, if it has failed for longer than
    its tolerance at `now` (None otherwise)."""
    fetch, watch = source.get("fetch"), source.get("watch")
    if not fetch or not watch or fetch.get("state") != "failing":
        return None
    since = datetime.fromisoformat(fetch["since"])
    if now - since < timedelta(seconds=watch["tolerance_seconds"]):
        return None
    return str(fetch["since"])


class Sources(ContentModule):
    name = "sources"
    order = 20

    def content(self, packet: Any) -> list[dict[str, Any]]:
        return [
            {key: packet.sources[sid][key] for key in HASHED}
            for sid in packet.source_order
            if packet.sources[sid]["status"] != "withdrawn"
        ]

    def holds(
        self, packet: Any, record: dict[str, Any] | None, now: datetime
    ) -> list[Hold]:
        if record is None:
            return []
        holds: list[Hold] = []
        for source_id, digest in record["source_digests"].items():
            source = packet.sources[source_id]
            title = source["title"]
            if source["status"] == "withdrawn":
                holds.append(
                    Hold(
                        SOURCE_DRIFTED_SINCE_CUT,
                        f"source {source_id} ({title}) was withdrawn after "
                        f"revision {record['number']} was cut",
                        {"source_id": source_id},
                    )
                )
            elif source.get("material_version", 0) > record["version"]:
                holds.append(
                    Hold(
                        SOURCE_DRIFTED_SINCE_CUT,
                        f"source {source_id} ({title}) was materially refreshed "
                        f"after revision {record['number']} was cut ({digest} -> "
                        f"{source['digest']})",
                        {"source_id": source_id},
                    )
                )
            if source["status"] == "expired" or (
                source["status"] == "current" and is_past(source["valid_until"], now)
            ):
                holds.append(
                    Hold(
                        SOURCE_EXPIRED,
                        f"source {source_id} ({title}) was valid until "
                        f"{source['valid_until']}",
                        {"source_id": source_id, "valid_until": source["valid_until"]},
                    )
                )
            since = unreadable_since(source, now)
            if since is not None and source["status"] != "withdrawn":
                fetch = source["fetch"]
                holds.append(
                    Hold(
                        SOURCE_UNREADABLE,
                        f"source {source_id} ({title}) could not be read since "
                        f"{since} ({fetch['error_code']}), longer than its "
                        f"tolerance of {source['watch']['tolerance_seconds']} s",
                        {"source_id": source_id, "since": since},
                    )
                )
        return holds

    def changes(self, cut: Any, current: Any) -> list[Change]:
        """A source cited after the cut (a material refresh or a withdrawal
        is SOURCE_DRIFTED_SINCE_CUT; a digest change the release owner judged
        non-material is not staleness: the manifest lists that judgement)."""
        then = {s["id"] for s in cut or []}
        return [
            Change(
                f"source {source['id']} ({source['title']}) was cited",
                {"source_id": source["id"]},
            )
            for source in current
            if source["id"] not in then
        ]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        bound = {s["id"] for s in content["sources"]}
        return {
            "sources": [
                {
                    "source_id": s["id"],
                    "kind": s["kind"],
                    "title": s["title"],
                    "precedence": s["precedence"],
                    "digest": s["digest"],
                    "valid_until": s["valid_until"],
                }
                for s in sorted(
                    content["sources"], key=lambda s: (s["precedence"], s["id"])
                )
            ],
            "non_material_refreshes": non_material_refreshes(packet, bound),
        }

    def diff(self, old: dict[str, Any], new: dict[str, Any], a: int, b: int) -> Any:
        return by_id(old.get("sources", []), new.get("sources", []))


SOURCES = register(Sources())

"""Sections: their ids, headings and texts, in order, are hashed; a manifest
binds their ids and headings as the release's scope; diffs are per section."""

from __future__ import annotations

import difflib
from typing import Any

from workspace.content.base import ContentModule
from workspace.content.registry import register


def _lines(text: str) -> list[str]:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _unified(a: str, b: str, old: str, new: str) -> str:
    return "".join(difflib.unified_diff(_lines(a), _lines(b), old, new))


class Sections(ContentModule):
    name = "sections"
    order = 10

    def content(self, packet: Any) -> list[dict[str, Any]]:
        return [
            {
                "id": sid,
                "heading": packet.sections[sid]["heading"],
                "text": packet.sections[sid]["text"],
            }
            for sid in packet.section_order
        ]

    def manifest(self, packet: Any, content: dict[str, Any]) -> dict[str, Any]:
        return {
            "scope": {
                "sections": [
                    {"id": s["id"], "heading": s["heading"]}
                    for s in content["sections"]
                ]
            }
        }

    def diff(
        self, old: dict[str, Any], new: dict[str, Any], a: int, b: int
    ) -> list[dict[str, Any]]:
        """Sections matched by id, in `b`'s order then those only in `a`; each
        with `change`: added, removed, changed, moved or unchanged."""
        old_sections = {s["id"]: (i, s) for i, s in enumerate(old.get("sections", []))}
        new_sections = {s["id"]: (i, s) for i, s in enumerate(new.get("sections", []))}
        order = [s["id"] for s in new.get("sections", [])] + [
            s["id"] for s in old.get("sections", []) if s["id"] not in new_sections
        ]
        sections = []
        for sid in order:
            before = old_sections.get(sid)
            after = new_sections.get(sid)
            old_text = before[1]["text"] if before else ""
            new_text = after[1]["text"] if after else ""
            old_heading = before[1]["heading"] if before else None
            new_heading = after[1]["heading"] if after else None
            if before is None:
                change = "added"
            elif after is None:
                change = "removed"
            elif old_text != new_text or old_heading != new_heading:
                change = "changed"
            elif before[0] != after[0]:
                change = "moved"
            else:
                change = "unchanged"
            sections.append(
                {
                    "section_id": sid,
                    "change": change,
                    "heading": {"from": old_heading, "to": new_heading},
                    "position": {
                        "from": before[0] if before else None,
                        "to": after[0] if after else None,
                    },
                    "diff": _unified(old_text, new_text, f"r{a}/{sid}", f"r{b}/{sid}"),
                }
            )
        return sections


SECTIONS = register(Sections())

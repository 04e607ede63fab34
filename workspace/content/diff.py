"""The changes from one revision's content to another's: the title, then every
registered content module's part (per-section unified diffs, sources and
prerequisites added, removed and changed, worksheets, plans, options...).
Pure; used by the revision read model and by the lane's view of a release."""

from __future__ import annotations

from typing import Any

from workspace.content.registry import modules


def revision_diff(
    old: dict[str, Any], new: dict[str, Any], a: int, b: int
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "from": a,
        "to": b,
        "title": {"from": old.get("title"), "to": new.get("title")},
    }
    for module in modules():
        part = module.diff(old, new, a, b)
        if part is not None:
            result[module.key] = part
    return result

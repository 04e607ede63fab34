"""Packet content modules, registered in a fixed order (sections, sources,
prerequisites, then any new module): see `base.ContentModule` and
ARCHITECTURE.md, "How to add a packet content module"."""

from workspace.content import prerequisites, sections, sources, worksheets
from workspace.content.base import (
    REVISION_STALE,
    Change,
    ContentModule,
    Hold,
    is_past,
)
from workspace.content.registry import modules, register

# isort: split
# Modules whose events subclass the packet's event class import
# workspace.domain, which imports this package: they come last.
from workspace.content import plan

#: The module files (importing one registers its module).
MODULE_FILES: tuple[object, ...] = (sections, sources, prerequisites, worksheets, plan)

__all__ = [
    "REVISION_STALE",
    "Change",
    "ContentModule",
    "Hold",
    "is_past",
    "modules",
    "register",
]

# Imported after `modules` exists: it imports workspace.domain, whose
# revisions module imports `modules` from here.
from workspace.content import recommendations  # noqa: E402

MODULE_FILES += (recommendations,)

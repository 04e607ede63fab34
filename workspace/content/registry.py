"""The registered packet content modules, in a fixed order (`order`, then
`name`): the order of the gate's holds and of the manifest's parts. A module
registers itself when its file is imported (`workspace/content/__init__.py`
imports every module file).
"""

from __future__ import annotations

from workspace.content.base import ContentModule

MODULES: list[ContentModule] = []


def register(module: ContentModule) -> ContentModule:
    """Adds a module (once per name); returns it."""
    if any(m.name == module.name or m.key == module.key for m in MODULES):
        raise ValueError(f"content module {module.name!r} is already registered")
    MODULES.append(module)
    return module


def modules() -> list[ContentModule]:
    return sorted(MODULES, key=lambda m: (m.order, m.name))

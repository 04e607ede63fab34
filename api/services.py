"""The one wiring place: builds the application objects from settings.

Called from the app's lifespan and from CLI commands, never at import time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from workspace.application import Workspace
from workspace.config import Settings, get_settings


@dataclass
class Services:
    settings: Settings
    app: Workspace
    extras: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        self.app.close()


def build_services(
    settings: Settings | None = None, *, create_table: bool = False
) -> Services:
    settings = settings or get_settings()
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    return Services(settings=settings, app=Workspace(env, settings=settings))

"""The one wiring place: builds the application objects from settings.

Called from the app's lifespan and from CLI commands, never at import time.
Background work (projections, the expiry sweeper, the live fan-out) is listed
in `Services.background`; whoever runs the services starts and stops it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import api.idempotency  # noqa: F401  (registers its event topics in every process)
from api import oidc
from projections.runner import projection_background
from release.application import ReleaseApp
from release.sweeper import ExpirySweeper
from release.watcher import SourceWatcher
from release.webhook_sender import WebhookSender
from workspace.application import Workspace
from workspace.config import Settings, backend_of, get_settings

log = logging.getLogger(__name__)

Role = Literal["serve", "worker", "cli"]


class Background(Protocol):
    """A thread or task that runs beside the API (start/stop are idempotent)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class Services:
    settings: Settings
    app: Workspace
    role: Role = "cli"
    background: list[Background] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)

    def start(self) -> None:
        for item in self.background:
            item.start()

    def close(self) -> None:
        for item in reversed(self.background):
            try:
                item.stop()
            except Exception:  # stopping must go on for the others
                log.exception("stopping %r failed", item)
        self.app.close()


def build_application(settings: Settings, env: dict[str, str]) -> Workspace:
    """The command-side application: the workspace with the release layer."""
    return ReleaseApp(env, settings=settings)


def build_background(services: Services) -> list[Background]:
    """What runs beside the API or in `quire worker`.

    - serve on SQLite (embedded): projections, the expiry sweeper and the
      source watcher and the webhook sender in-process;
    - serve on PostgreSQL: only the live fan-out (a `quire worker` runs the rest);
    - worker: projections, the sweeper, the source watcher and the webhook
      sender.
    """
    items: list[Background] = []
    items.extend(projection_background(services, services.role))
    embedded = backend_of(services.settings.database_url) == "sqlite"
    if services.role == "worker" or (services.role == "serve" and embedded):
        interval = services.settings.sweep_interval_seconds
        items.append(ExpirySweeper(services.app, interval))
        items.append(SourceWatcher(services.app))
        items.append(WebhookSender(services.app))
    if services.role == "serve":
        # Imported here: the hub needs `Services` from this module.
        from api.live.hub import LiveHub

        hub = LiveHub(services)
        services.extras["live"] = hub
        items.append(hub)
    return items


def build_services(
    settings: Settings | None = None,
    *,
    create_table: bool = False,
    role: Role = "cli",
) -> Services:
    settings = settings or get_settings()
    env = {"CREATE_TABLE": "y" if create_table else "n"}
    services = Services(
        settings=settings, app=build_application(settings, env), role=role
    )
    oidc.install(services.app, settings)  # provider JWTs, when configured
    if role != "cli":
        services.background.extend(build_background(services))
    return services

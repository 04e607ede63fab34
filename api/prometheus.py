"""Operational metrics in the Prometheus text format (GET /metrics).

Two kinds of series:

* counted as things happen, in this process (`REGISTRY`): request latency by
  route template, method and status class (the template, never the raw path,
  so the number of series stays bounded: an unmatched path is `unmatched`);
  live edits saved through websockets, by outcome; the fan-out lag from an
  event's timestamp to its hand-off to this process's sockets;
* read on each scrape (`ServiceCollector`): each projection's lag (the event
  log's head notification id minus its tracking position), the age of the
  latest signed audit checkpoint, and the webhook delivery backlog (lane
  webhook deliveries queued and not yet delivered, from the event log).

docs/metrics.md lists every series.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.routing import Match

from api.services import Services
from projections.runner import PROJECTION_NAMES
from projections.store import read_models_for
from release.webhook_sender import backlog as webhook_backlog

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

#: Series counted in this process (one registry for the process: several apps
#: in one process, as in tests, add to the same series).
REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)

REQUEST_SECONDS = Histogram(
    "quire_http_request_duration_seconds",
    "HTTP request latency by route template, method and status class.",
    ["route", "method", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
LIVE_EDITS = Counter(
    "quire_live_edits",
    "Edits received over live websockets and saved, by outcome "
    "(applied, conflict, error).",
    ["outcome"],
    registry=REGISTRY,
)
for _outcome in ("applied", "conflict", "error"):
    LIVE_EDITS.labels(_outcome)  # every outcome is a series from the start
LIVE_SAVE_PACKETS = Histogram(
    "quire_live_save_packets",
    "Packets whose live edits one save stored together (PostgreSQL's group "
    "save across packets).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
    registry=REGISTRY,
)
FANOUT_LAG = Histogram(
    "quire_live_fanout_lag_seconds",
    "From an event's timestamp to its hand-off to this process's live sockets.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)

UNMATCHED = "unmatched"


# ---------------------------------------------------------------- requests
def route_template(scope: dict[str, Any]) -> str:
    """The path template the request matched (set by the router), else the
    first route that fully matches it (a request answered before routing,
    e.g. 413), else `unmatched`."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str):
        return path
    app = scope.get("app")
    for candidate in getattr(getattr(app, "router", None), "routes", ()):
        try:
            match, _ = candidate.matches(scope)
        except Exception:  # a route that cannot judge this scope
            continue
        if match == Match.FULL:
            return str(getattr(candidate, "path", UNMATCHED))
    return UNMATCHED


class PrometheusMiddleware:
    """ASGI middleware timing every HTTP request (outermost, so it sees
    everything: refusals before routing and errors included)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sending(message: Any) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            REQUEST_SECONDS.labels(
                route_template(scope), scope["method"], f"{status // 100}xx"
            ).observe(time.perf_counter() - started)


# -------------------------------------------------------------------- live
def live_edits(results: Sequence[Any]) -> None:
    """Counts the outcomes of one saved batch of live edits."""
    for result in results:
        if isinstance(result, BaseException):
            outcome = "error"
        elif getattr(result, "conflict_id", None):
            outcome = "conflict"
        else:
            outcome = "applied"
        LIVE_EDITS.labels(outcome).inc()


def live_save(packets: int) -> None:
    """Observes how many packets one group save of live edits stored."""
    LIVE_SAVE_PACKETS.observe(packets)


def fanned_out(messages: Iterable[dict[str, Any]]) -> None:
    """Observes the fan-out lag of event messages handed to sockets."""
    now = datetime.now(UTC)
    for message in messages:
        at = message.get("at")
        if message.get("type") != "event" or not isinstance(at, str):
            continue
        try:
            moment = datetime.fromisoformat(at)
        except ValueError:
            continue
        if moment.tzinfo is not None:
            FANOUT_LAG.observe(max(0.0, (now - moment).total_seconds()))


# ------------------------------------------------------------------ scrape
class ServiceCollector(Collector):
    """Series read from the database on each scrape."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterable[Metric]:
        lag = GaugeMetricFamily(
            "quire_projection_lag_events",
            "Event log head notification id minus the projection's tracking position.",
            labels=["projection"],
        )
        head_gauge = GaugeMetricFamily(
            "quire_event_log_head", "The highest notification id in the event log."
        )
        age = GaugeMetricFamily(
            "quire_audit_checkpoint_age_seconds",
            "Seconds since the latest signed audit checkpoint (absent before "
            "the first one).",
        )
        size = GaugeMetricFamily(
            "quire_audit_checkpoint_tree_size",
            "Events covered by the latest signed audit checkpoint.",
        )
        backlog = GaugeMetricFamily(
            "quire_webhook_backlog",
            "Webhook deliveries queued and not yet delivered (lane webhooks).",
        )
        try:
            backlog.add_metric([], webhook_backlog(self.services.app))
        except Exception:  # the database is down: say less
            log.warning("metrics: could not count the webhook backlog", exc_info=True)
        try:
            store = read_models_for(self.services)
            head = store.head()
            head_gauge.add_metric([], head)
            for name in PROJECTION_NAMES:
                lag.add_metric([name], max(0, head - store.position(name)))
            with store.read() as tx:
                latest = tx.one(
                    "SELECT tree_size, timestamp FROM audit_checkpoints "
                    "ORDER BY tree_size DESC, timestamp DESC LIMIT 1"
                )
            if latest is not None:
                signed = datetime.fromisoformat(str(latest[1]).replace("Z", "+00:00"))
                age.add_metric(
                    [], max(0.0, (datetime.now(UTC) - signed).total_seconds())
                )
                size.add_metric([], int(latest[0]))
        except Exception:  # the database is down or not initialised: say less
            log.warning("metrics: could not read the read models", exc_info=True)
        return [head_gauge, lag, age, size, backlog]


def exposition(services: Services) -> bytes:
    """The whole text exposition: this process's series, then the scraped ones."""
    scraped = CollectorRegistry(auto_describe=False)
    scraped.register(ServiceCollector(services))
    return generate_latest(REGISTRY) + generate_latest(scraped)

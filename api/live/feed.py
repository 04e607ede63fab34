"""One subscription to the event log per server process.

The feed tails the application sequence (notification ids are the global
order, and the recorder's table lock makes commit order equal id order, so
reading "everything after my position" never skips a row that commits
later). Each new event of a packet that has live sockets in this process is
decoded once and handed to the hub.

- PostgreSQL: a dedicated connection LISTENs on the channel the recorder
  NOTIFYs after every insert (and on the presence channel). A live save's
  notification carries its events when they fit (workspace/pg_saves.py):
  when they come from this schema's table and follow on from the feed's
  position they are handed over as they are; any other notification
  (another schema's saves share the channel) wakes a catch-up read; a dropped
  connection is re-opened with back-off and the feed catches up from its
  last position, so nothing is lost while it was away (notifications sent
  meanwhile are not needed: the read is).
  A slow safety poll covers a notification that never arrives. When the
  database goes away (the LISTEN connection drops, or a read fails), the
  feed calls `on_lost` once, so the hub tells every socket
  `DATABASE_UNAVAILABLE` (reconnect); it then keeps reconnecting, and
  resumes from its position when the database returns.
- SQLite and memory: no LISTEN, so the feed polls; the hub also wakes it
  after each write made through this process, so local edits are seen at
  once. Only one process serves an SQLite file (shared/DESIGN.md).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from api.errors import DATABASE_ERRORS
from api.live.protocol import event_message
from workspace.pg_saves import notice_source, read_notice

log = logging.getLogger(__name__)

BATCH = 500

Deliver = Callable[[list[dict[str, Any]]], None]
Interested = Callable[[str], bool]
OnNotice = Callable[[str, str], None]
OnLost = Callable[[BaseException], None]


class EventFeed:
    """Tails the event log from a position; subclasses decide when to read."""

    def __init__(
        self,
        recorder: Any,
        mapper: Any,
        *,
        deliver: Deliver,
        interested: Interested,
        poll_seconds: float,
        name: str = "quire-live-feed",
        on_lost: OnLost | None = None,
    ) -> None:
        self.recorder = recorder
        #: Notices from other schemas' tables share the channel (pg_saves).
        self.source = notice_source(recorder)
        self.mapper = mapper
        self.deliver = deliver
        self.interested = interested
        self.poll_seconds = poll_seconds
        self.position = 0
        self.on_lost = on_lost
        #: The feed reads the log now; cleared when the database goes away.
        self.up = False
        self.stopping = threading.Event()
        self.woken = threading.Event()
        self.thread = threading.Thread(target=self._run_safely, name=name, daemon=True)

    def start(self) -> None:
        self.position = self.recorder.max_notification_id() or 0
        self.thread.start()

    def stop(self) -> None:
        self.stopping.set()
        self.woken.set()
        if self.thread.is_alive():
            self.thread.join(timeout=5)

    def wake(self) -> None:
        """A write was just made through this process: read now."""
        self.woken.set()

    def catch_up(self) -> None:
        """Reads and hands over everything after `position`."""
        while not self.stopping.is_set():
            batch: Sequence[Any] = self.recorder.select_notifications(
                start=self.position, limit=BATCH, inclusive_of_start=False
            )
            if not batch:
                return
            messages = [
                event_message(self.mapper.to_domain_event(n))
                for n in batch
                if self.interested(str(n.originator_id))
            ]
            self.position = batch[-1].id
            if messages:
                self.deliver(messages)
            if len(batch) < BATCH:
                return

    def _take_notice(self, payload: str) -> bool:
        """Hands over the events a NOTIFY carried (workspace/pg_saves.py),
        when they follow on from `position`; False when the log must be
        read instead (no events in it, or something came between)."""
        found = read_notice(payload, self.source) if payload else None
        if found is None:
            return False
        ids, events = found
        if ids[-1] <= self.position:
            return True  # read already
        if events is None or ids[0] != self.position + 1:
            return False
        messages = [
            event_message(self.mapper.to_domain_event(n))
            for n in events
            if self.interested(str(n.originator_id))
        ]
        self.position = ids[-1]
        if messages:
            self.deliver(messages)
        return True

    def _run_safely(self) -> None:
        backoff = 0.05
        while not self.stopping.is_set():
            try:
                self.run()
            except Exception as exc:
                if not isinstance(exc, DATABASE_ERRORS):
                    log.warning("live feed interrupted; resuming", exc_info=True)
                elif self.up:
                    log.warning("live feed lost the database (%s); reconnecting", exc)
                    if self.on_lost is not None:
                        self.on_lost(exc)
                else:
                    log.debug("live feed: the database is still away (%s)", exc)
                self.up = False
                self.stopping.wait(backoff)
                backoff = min(backoff * 2, 2.0)
            else:
                backoff = 0.05

    def run(self) -> None:
        """Polls: the embedded backends have no notifications."""
        while not self.stopping.is_set():
            self.catch_up()
            self.up = True
            self.woken.wait(self.poll_seconds)
            self.woken.clear()


class ListenFeed(EventFeed):
    """PostgreSQL: woken by LISTEN/NOTIFY, reconnecting when the line drops."""

    def __init__(
        self,
        recorder: Any,
        mapper: Any,
        *,
        conninfo: dict[str, str],
        deliver: Deliver,
        interested: Interested,
        poll_seconds: float,
        notice_channels: Sequence[str] = (),
        on_notice: OnNotice | None = None,
        on_lost: OnLost | None = None,
    ) -> None:
        super().__init__(
            recorder,
            mapper,
            deliver=deliver,
            interested=interested,
            poll_seconds=poll_seconds,
            on_lost=on_lost,
        )
        self.conninfo = dict(conninfo)
        self.events_channel: str = recorder.channel_name
        self.notice_channels = list(notice_channels)
        self.on_notice = on_notice
        self.application_name = f"quire-live-{os.getpid()}-{id(self):x}"
        self.listening = threading.Event()
        self.connections = 0

    def run(self) -> None:
        try:
            dsn = make_conninfo(
                "", **self.conninfo, application_name=self.application_name
            )
            with psycopg.connect(dsn, autocommit=True) as conn:
                for channel in [self.events_channel, *self.notice_channels]:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                self.connections += 1
                self.listening.set()
                # Whatever was written while we were not listening.
                self.catch_up()
                self.up = True
                if self.connections > 1:
                    log.info("live feed reconnected; resumed at %s", self.position)
                self._listen(conn)
        finally:
            self.listening.clear()

    def _listen(self, conn: psycopg.Connection[Any]) -> None:
        last_read = time.monotonic()
        while not self.stopping.is_set():
            due = False
            for note in conn.notifies(timeout=0.25, stop_after=1):
                if note.channel == self.events_channel:
                    due = due or not self._take_notice(note.payload)
                elif self.on_notice is not None:
                    self.on_notice(note.channel, note.payload)
            if self.woken.is_set():
                self.woken.clear()
                due = True
            if due or time.monotonic() - last_read >= self.poll_seconds:
                self.catch_up()
                last_read = time.monotonic()

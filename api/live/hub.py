"""The hub: fans the process's one event-log subscription out to its sockets,
and keeps presence (who views or edits which section) beside it.

Threading: the feed runs in a thread and hands decoded events to the event
loop with `call_soon_threadsafe`; every subscriber and presence structure is
touched only on the loop. Each socket has a bounded queue: a socket that
falls behind is disconnected (close code 4008) instead of slowing the others
or growing memory without bound.

Presence is not stored as events. On PostgreSQL it crosses processes as
NOTIFY messages on a channel of its own (`quire_presence_<schema>`), so a
co-author on one server sees who is in a section through another; each
entry lapses `presence_ttl_seconds` after its socket last said anything, and
every process expires the entries it knows of on its own clock. On SQLite
and memory there is one process, so presence stays in it.

When the feed loses the database, every socket is sent `DATABASE_UNAVAILABLE`
with `reconnect: true` (once per outage) and stays open: edits are refused
with the same error until the database returns, and the feed's reconnect
resumes the stream without a gap. The lock pool waits for a connection no
longer than the connect timeout, so an edit during an outage is answered
within seconds.

Graceful shutdown (`drain`, called by `quire serve` on SIGTERM once it stops
accepting connections): every socket refuses new edits (`error
SERVICE_RESTART` with `reconnect: true`), sends the answers of the edits
already taken (saved, or refused), then is sent `error SERVICE_RESTART` and
closed with 1012 (Service Restart): the client reconnects with `since=`,
to another process behind the load balancer or to this one restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs, urlparse

from psycopg.conninfo import make_conninfo
from psycopg_pool import ConnectionPool

from api import prometheus
from api.errors import DATABASE_ERRORS
from api.limits import LiveSettings
from api.live.feed import EventFeed, ListenFeed
from api.live.group import GroupSaver
from api.live.protocol import ENCODED, encode, unavailable_message
from api.live.writer import PacketWriter
from api.services import Services
from workspace.accounts import Principal
from workspace.config import backend_of, postgres_conninfo
from workspace.pg_saves import LockBusy, Prefetch, saving_on

log = logging.getLogger(__name__)

PRESENCE_STATES = frozenset({"viewing", "editing", "idle"})

#: Connections for per-packet advisory locks (packets edited at once, per process).
LOCK_CONNECTIONS = 8

#: How long a thread may hold the GIL while another waits for it (seconds).
#: The default 5 ms is added to every hand-over between the event loop and
#: the threads that save edits and read the feed: live edits need it short.
#: A save waits on several database round trips, each followed by such a
#: hand-over; at 200 edits/s, 0.2 ms gave a p50 of 5-6 ms where 1 ms gave 7-10.
GIL_SWITCH_INTERVAL = 0.0002


@dataclass(eq=False)
class Subscriber:
    """One socket's place in the fan-out: a bounded queue of messages."""

    packet_id: str
    principal: Principal
    queue: asyncio.Queue[dict[str, Any]]
    on_overflow: Callable[[Subscriber], None]
    conn_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    overflowed: bool = False

    def offer(self, message: dict[str, Any]) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.overflowed = True
            self.on_overflow(self)


@dataclass
class PresenceEntry:
    packet_id: str
    conn: str
    user: str
    name: str
    section_id: str | None
    state: str
    expires: float
    origin: str
    published: float = 0.0

    def message(self) -> dict[str, Any]:
        return {
            "type": "presence",
            "user": self.user,
            "name": self.name,
            "conn": self.conn,
            "section_id": self.section_id,
            "state": self.state,
        }


#: The first key of Quire's advisory locks ("QUIR"), so that they cannot
#: collide with another user of advisory locks in the same database.
ADVISORY_NAMESPACE = 0x51554952


def _normal(packet_id: str) -> tuple[str, uuid.UUID | None]:
    """A packet id as locks name it, and as a UUID (None: not one)."""
    try:
        packet_uuid = uuid.UUID(packet_id)
    except ValueError:
        return packet_id, None
    return str(packet_uuid), packet_uuid


def advisory_key(packet_id: str) -> tuple[int, int]:
    digest = hashlib.blake2b(packet_id.encode(), digest_size=4).digest()
    return ADVISORY_NAMESPACE, int.from_bytes(digest, "big", signed=True)


def presence_channel(database_url: str) -> str:
    schema = parse_qs(urlparse(database_url).query).get("schema", ["public"])[0]
    return f"quire_presence_{schema}"[:63]


class LiveHub:
    """A Background (start/stop) that serves every live socket of a process."""

    def __init__(self, services: Services, limits: LiveSettings | None = None) -> None:
        self.services = services
        self.limits = limits or LiveSettings()
        self.origin = uuid.uuid4().hex
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.presence: dict[str, dict[str, PresenceEntry]] = {}
        self._interested: frozenset[str] = frozenset()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.feed: EventFeed | None = None
        self.backend = backend_of(services.settings.database_url)
        self.channel = presence_channel(services.settings.database_url)
        self._expiry: asyncio.Task[None] | None = None
        self._publisher: ThreadPoolExecutor | None = None
        self._lock_pool: ConnectionPool[Any] | None = None
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.writers: dict[str, PacketWriter] = {}
        #: PostgreSQL: one save for every waiting packet (api/live/group.py).
        self.group: GroupSaver | None = None
        #: Open sockets (api.live.session.LiveSession), for `drain`.
        self.sessions: set[Any] = set()
        self.shutting_down = False

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        if self.feed is not None:
            return
        self.loop = asyncio.get_running_loop()
        sys.setswitchinterval(min(sys.getswitchinterval(), GIL_SWITCH_INTERVAL))
        app = self.services.app
        if self.backend == "postgres":
            self._publisher = ThreadPoolExecutor(1, thread_name_prefix="presence")
            self.group = GroupSaver(self)
            settings = self.services.settings
            conninfo = postgres_conninfo(settings.database_url, settings)
            self._lock_pool = ConnectionPool(
                make_conninfo("", **conninfo, application_name="quire-locks"),
                min_size=1,
                max_size=LOCK_CONNECTIONS,
                kwargs={"autocommit": True},
                # An edit during an outage is answered, not left waiting 30 s.
                timeout=max(1, settings.db_connect_timeout_seconds),
                name="quire-locks",
                open=True,
            )
            self.feed = ListenFeed(
                app.recorder,
                app.mapper,
                conninfo=postgres_conninfo(self.services.settings.database_url),
                deliver=self._deliver,
                interested=self.is_interested,
                poll_seconds=self.limits.feed_idle_poll_seconds,
                notice_channels=[self.channel],
                on_notice=self._on_notice,
                on_lost=self._on_database_lost,
            )
        else:
            self.feed = EventFeed(
                app.recorder,
                app.mapper,
                deliver=self._deliver,
                interested=self.is_interested,
                poll_seconds=self.limits.feed_poll_seconds,
            )
        self.feed.start()
        self._expiry = self.loop.create_task(self._expire_presence())

    def stop(self) -> None:
        if self.feed is not None:
            self.feed.stop()
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if self._publisher is not None:
            self._publisher.shutdown(wait=True, cancel_futures=False)
            self._publisher = None
        if self._lock_pool is not None:
            self._lock_pool.close()
            self._lock_pool = None

    async def drain(self, timeout: float) -> int:
        """Graceful shutdown: each open socket answers the edits it took,
        then closes with 1012 (reconnect); bounded by `timeout` seconds.
        Returns how many sockets were still open when it began."""
        self.shutting_down = True
        sessions = list(self.sessions)
        if not sessions:
            return 0
        log.info("draining %d live socket(s) for shutdown", len(sessions))
        tasks = [asyncio.ensure_future(session.restart()) for session in sessions]
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            task.cancel()
        if late:
            log.warning("%d live socket(s) did not drain in %.1f s", len(late), timeout)
        return len(sessions)

    def wake(self) -> None:
        """Something was written through this process: read the log now
        (PostgreSQL needs no nudge: the write's NOTIFY wakes the feed)."""
        if self.feed is not None and self.backend != "postgres":
            self.feed.wake()

    @contextlib.contextmanager
    def packet_lock(self, packet_id: str) -> Iterator[None]:
        """Serializes edits of one packet: in this process with a thread lock,
        and across processes (PostgreSQL) with an advisory lock.

        Optimistic concurrency alone stays correct (a clash is rebased and
        retried), but two busy processes then keep loading, deciding and
        losing to each other, and a writer can lose many times in a row.
        Queueing on the lock costs one round trip instead. The lock is a
        transaction lock on a pooled connection, and the save made while it
        is held goes through that connection and its COMMIT releases the
        lock (workspace/pg_saves.py); a process that dies releases it with
        its connection. Writes that do not take it (other routes, the CLI,
        the worker) still clash and retry as before.

        Lock connections come from a small pool of their own: a holder also
        needs application connections to load and save, so sharing one pool
        could leave every holder waiting for a connection another holds.
        """
        with self.packets_lock(packet_id, []):
            yield

    @contextlib.contextmanager
    def packets_lock(
        self, waited: str, tried: list[str], wait_seconds: float | None = None
    ) -> Iterator[list[bool]]:
        """`packet_lock` of `waited`, waited for (across processes at most
        `wait_seconds`, else `LockBusy`), and of each packet of `tried` that
        is free now, never waited for (the group save across packets,
        api/live/group.py): yields which of `tried` are held. While it waits,
        this thread holds no other packet's lock, so two threads or processes
        cannot wait for each other."""
        anchor, anchor_uuid = _normal(waited)
        free: list[tuple[str, uuid.UUID | None, threading.Lock]] = []
        with self._thread_lock_held(anchor, wait_seconds):
            try:
                for packet_id in tried:
                    other_id, other_uuid = _normal(packet_id)
                    lock = self._thread_lock(other_id)
                    if other_id != anchor and lock.acquire(blocking=False):
                        free.append((other_id, other_uuid, lock))
                held = [other_id for other_id, _, _ in free]
                pool = self._lock_pool
                if pool is None:
                    yield [_normal(packet_id)[0] in held for packet_id in tried]
                    return
                # The lock's round trip also reads what the cached copies lack.
                app = self.services.app
                with (
                    pool.connection() as conn,
                    saving_on(
                        conn,
                        advisory_key(anchor),
                        Prefetch.of(app, anchor_uuid),
                        [(advisory_key(i), Prefetch.of(app, u)) for i, u, _ in free],
                        wait_seconds,
                    ) as lock_held,
                ):
                    taken = {i for i, t in zip(held, lock_held.taken, strict=True) if t}
                    yield [_normal(packet_id)[0] in taken for packet_id in tried]
            finally:
                for _, _, lock in free:
                    lock.release()

    @contextlib.contextmanager
    def _thread_lock_held(
        self, packet_id: str, wait_seconds: float | None
    ) -> Iterator[None]:
        lock = self._thread_lock(packet_id)
        if not lock.acquire(timeout=-1 if wait_seconds is None else wait_seconds):
            raise LockBusy(f"packet {packet_id} is being saved in this process")
        try:
            yield
        finally:
            lock.release()

    def _thread_lock(self, packet_id: str) -> threading.Lock:
        with self._locks_guard:
            lock = self._locks.get(packet_id)
            if lock is None:
                lock = self._locks[packet_id] = threading.Lock()
        return lock

    def writer(self, packet_id: str) -> PacketWriter:
        """The group-commit queue of a packet's live edits in this process."""
        writer = self.writers.get(packet_id)
        if writer is None:
            writer = self.writers[packet_id] = PacketWriter(self, packet_id)
        return writer

    def writer_idle(self, writer: PacketWriter) -> None:
        if not writer.pending and self.writers.get(writer.packet_id) is writer:
            del self.writers[writer.packet_id]

    # ----------------------------------------------------------- fan-out
    def is_interested(self, packet_id: str) -> bool:
        return packet_id in self._interested

    def subscribe(
        self,
        packet_id: str,
        principal: Principal,
        on_overflow: Callable[[Subscriber], None],
    ) -> Subscriber:
        subscriber = Subscriber(
            packet_id=packet_id,
            principal=principal,
            queue=asyncio.Queue(maxsize=self.limits.ws_queue_max),
            on_overflow=on_overflow,
        )
        self.subscribers.setdefault(packet_id, set()).add(subscriber)
        self._interested = frozenset(self.subscribers)
        return subscriber

    def attach(self, subscriber: Subscriber) -> None:
        """Adds a subscriber made elsewhere (lane sockets: api/live/lanes.py)."""
        self.subscribers.setdefault(subscriber.packet_id, set()).add(subscriber)
        self._interested = frozenset(self.subscribers)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        group = self.subscribers.get(subscriber.packet_id)
        if group is not None:
            group.discard(subscriber)
            if not group:
                del self.subscribers[subscriber.packet_id]
        self._interested = frozenset(self.subscribers)
        self.leave(subscriber)

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        loop = self.loop
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop is shutting down
                loop.call_soon_threadsafe(self.dispatch, messages)

    def dispatch(self, messages: list[dict[str, Any]]) -> None:
        prometheus.fanned_out(messages)
        for message in messages:
            subscribers = list(self.subscribers.get(message["packet_id"], ()))
            if len(subscribers) > 1:  # encoded once, sent to each as is
                message[ENCODED] = encode(message)
            for subscriber in subscribers:
                subscriber.offer(message)

    def broadcast(self, packet_id: str, message: dict[str, Any]) -> None:
        for subscriber in list(self.subscribers.get(packet_id, ())):
            subscriber.offer(message)

    # ----------------------------------------------------------- presence
    def presence_of(self, packet_id: str) -> list[dict[str, Any]]:
        return [e.message() for e in self.presence.get(packet_id, {}).values()]

    def set_presence(
        self, subscriber: Subscriber, section_id: str | None, state: str
    ) -> None:
        now = time.monotonic()
        entry = PresenceEntry(
            packet_id=subscriber.packet_id,
            conn=subscriber.conn_id,
            user=subscriber.principal.user_id,
            name=subscriber.principal.name,
            section_id=section_id,
            state=state,
            expires=now + self.limits.presence_ttl_seconds,
            origin=self.origin,
            published=now,
        )
        self.presence.setdefault(subscriber.packet_id, {})[subscriber.conn_id] = entry
        self.broadcast(subscriber.packet_id, entry.message())
        self._publish("set", entry)

    def touch(self, subscriber: Subscriber) -> None:
        """Any message from a socket is a heartbeat for its presence."""
        entry = self.presence.get(subscriber.packet_id, {}).get(subscriber.conn_id)
        if entry is None:
            return
        now = time.monotonic()
        entry.expires = now + self.limits.presence_ttl_seconds
        if now - entry.published >= self.limits.presence_ttl_seconds / 3:
            entry.published = now
            self._publish("set", entry)

    def leave(self, subscriber: Subscriber) -> None:
        entries = self.presence.get(subscriber.packet_id, {})
        entry = entries.pop(subscriber.conn_id, None)
        if not entries:
            self.presence.pop(subscriber.packet_id, None)
        if entry is not None:
            self.broadcast(subscriber.packet_id, _leave_message(entry))
            self._publish("leave", entry)

    async def _expire_presence(self) -> None:
        period = max(0.05, min(1.0, self.limits.presence_ttl_seconds / 4))
        while True:
            await asyncio.sleep(period)
            self.expire_presence(time.monotonic())

    def expire_presence(self, now: float) -> None:
        for packet_id, entries in list(self.presence.items()):
            for conn, entry in list(entries.items()):
                if entry.expires <= now:
                    del entries[conn]
                    self.broadcast(packet_id, _leave_message(entry))
            if not entries:
                del self.presence[packet_id]

    def _publish(self, op: str, entry: PresenceEntry) -> None:
        if self._publisher is None:
            return
        payload = json.dumps(
            {
                "op": op,
                "origin": self.origin,
                "packet_id": entry.packet_id,
                "conn": entry.conn,
                "user": entry.user,
                "name": entry.name,
                "section_id": entry.section_id,
                "state": entry.state,
            }
        )
        self._publisher.submit(self._notify, payload)

    def _notify(self, payload: str) -> None:
        try:
            datastore = cast(Any, self.services.app.recorder).datastore
            with datastore.get_connection() as conn:
                conn.execute("SELECT pg_notify(%s, %s)", (self.channel, payload))
        except DATABASE_ERRORS as exc:
            log.warning("could not publish presence: %s: %s", type(exc).__name__, exc)
        except Exception:
            log.warning("could not publish presence", exc_info=True)

    def _on_database_lost(self, exc: BaseException) -> None:
        """From the feed's thread: tell every socket (once per outage)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.tell_all, unavailable_message())

    def tell_all(self, message: dict[str, Any]) -> None:
        for packet_id in list(self.subscribers):
            self.broadcast(packet_id, message)

    def _on_notice(self, channel: str, payload: str) -> None:
        loop = self.loop
        if channel != self.channel or loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(self.apply_remote_presence, payload)

    def apply_remote_presence(self, payload: str) -> None:
        try:
            note = json.loads(payload)
            if note["origin"] == self.origin:
                return
            packet_id = str(note["packet_id"])
            conn = str(note["conn"])
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed presence notice")
            return
        entries = self.presence.setdefault(packet_id, {})
        if note.get("op") == "leave":
            entry = entries.pop(conn, None)
            if not entries:
                self.presence.pop(packet_id, None)
            if entry is not None:
                self.broadcast(packet_id, _leave_message(entry))
            return
        entry = PresenceEntry(
            packet_id=packet_id,
            conn=conn,
            user=str(note.get("user")),
            name=str(note.get("name")),
            section_id=note.get("section_id"),
            state=str(note.get("state")),
            expires=time.monotonic() + self.limits.presence_ttl_seconds,
            origin=str(note["origin"]),
        )
        previous = entries.get(conn)
        entries[conn] = entry
        if previous is None or previous.message() != entry.message():
            self.broadcast(packet_id, entry.message())


def _leave_message(entry: PresenceEntry) -> dict[str, Any]:
    return {"type": "presence_leave", "user": entry.user, "conn": entry.conn}


def hub_of(services: Services) -> LiveHub | None:
    hub = services.extras.get("live")
    return hub if isinstance(hub, LiveHub) else None


class WakeOnWrite:
    """ASGI middleware: after each write request, nudges the live feed so that
    sockets on the embedded backends (which poll) see it at once."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["method"] != "GET":
            services = getattr(scope["app"].state, "services", None)
            hub = hub_of(services) if services is not None else None
            if hub is not None:
                hub.wake()

"""The command side: load, decide, save. Every command returns the new version.

One eventsourcing `Application` holds packets, users and (from the release
layer) lanes in one event log, so projections and the audit Merkle tree see a
single total order. The release layer subclasses `Workspace` and overrides
`consequences` so that supersession lands in the same atomic save as the change
that caused it.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from importlib import import_module
from typing import Any, TypeVar, cast
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
)
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import register_topic

from workspace import policy
from workspace.accounts import (
    AuditTrail,
    Principal,
    TokenIndex,
    User,
    user_event_classes,
)
from workspace.bounds import BoundedEventStore, bound_connections
from workspace.commands.base import MAX_ATTEMPTS, Command, Context, Executed
from workspace.config import Settings, backend_of, get_settings, persistence_env
from workspace.content.registry import modules as content_modules
from workspace.domain import (
    Meta,
    Packet,
    PacketEvent,
    all_event_classes,
)
from workspace.editing import EditBatch, EditOutcome, EditRequest
from workspace.errors import (
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    VersionClashError,
)
from workspace.pg_saves import route_inserts
from workspace.refusals import RefusalCoalescer
from workspace.revision_texts import expand
from workspace.text_history import RecentHistory
from workspace.users import UserAccounts

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

#: Locks guarding cached packets (`Workspace._cache_lock`), shared by id.
CACHE_LOCK_STRIPES = 64

# Content modules define their events in their own files: import them all
# before registering every event's topic.
import_module("workspace.content")
for _cls in [*all_event_classes(), *user_event_classes()]:
    register_topic(_cls.TOPIC, _cls)
register_topic(Packet.TOPIC, Packet)
register_topic(User.TOPIC, User)
register_topic(TokenIndex.TOPIC, TokenIndex)
register_topic(AuditTrail.TOPIC, AuditTrail)


def system_clock() -> datetime:
    return datetime.now(UTC)


class WorkspaceCore(UserAccounts, Application[UUID]):
    """Loading, the one command handler, saving, snapshots; users come from
    `UserAccounts` (workspace/users.py). `Workspace` adds the edit batch."""

    name = "Quire"
    snapshotting_intervals = {Packet: 100}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        settings: Settings | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.clock: Clock = clock or system_clock
        base = persistence_env(
            self.settings.database_url, create_table=False, settings=self.settings
        )
        base["POSTGRES_POOL_SIZE"] = str(self.settings.pool_size)
        if env:
            base.update(env)
        type(self).snapshotting_intervals = {Packet: self.settings.snapshot_interval}
        # On PostgreSQL a snapshot is written by a thread of its own, after
        # the save that reached it: writers of the packet (holding its lock,
        # in live editing) do not wait for it. A snapshot only shortens
        # loads; one lost with its process is taken again 100 events later.
        # On the embedded SQLite file, a second writer would only queue for
        # the file's one write lock, so it is written in the save's thread.
        self._snapshot_writer: ThreadPoolExecutor | None = None
        if backend_of(self.settings.database_url) == "postgres":
            self._snapshot_writer = ThreadPoolExecutor(
                1, thread_name_prefix="quire-snapshots"
            )
        self._signing_locks: dict[str, threading.Lock] = {}
        self._signing_locks_guard = threading.Lock()
        self._refusals = RefusalCoalescer(self._record_refusals, lambda: self.clock())
        # The cached packet is fast-forwarded in place by the library's loads
        # and replaced by `edit_sections`; a reader copying it while another
        # thread folds new events into it saw dicts change under it. Its copy,
        # fast-forward and replacement happen under the packet's lock (one of
        # a fixed set, by id: bounded however many packets there are).
        self._cache_locks = [threading.Lock() for _ in range(CACHE_LOCK_STRIPES)]
        #: Packets' recent events and section texts, for rebasing live edits.
        self.recent = RecentHistory()
        super().__init__(env=base)

    def _cache_lock(self, packet_id: UUID) -> threading.Lock:
        return self._cache_locks[packet_id.int % CACHE_LOCK_STRIPES]

    def flush_snapshots(self) -> None:
        """Returns once every snapshot queued so far is written (or failed)."""
        if self._snapshot_writer is not None:
            self._snapshot_writer.submit(lambda: None).result()

    def close(self) -> None:
        """Writes the snapshots still queued, then closes the store."""
        self._refusals.close()  # records the refusals still only counted
        if self._snapshot_writer is not None:
            self._snapshot_writer.shutdown(wait=True)
        super().close()

    def construct_env(self, name: str, env: Any = None) -> Any:
        # The library merges os.environ into its settings; Quire is configured
        # only through QUIRE_* settings, so stray variables (a developer's
        # POSTGRES_ENABLE_DB_FUNCTIONS, say) must not leak in.
        from eventsourcing.utils import Environment

        # A small aggregate cache with fast-forward: a load reads only the
        # events saved since the cached version, by any process.
        merged = {
            "IS_SNAPSHOTTING_ENABLED": "y",
            "AGGREGATE_CACHE_MAXSIZE": "500",
            "AGGREGATE_CACHE_FASTFORWARD": "y",
        }
        merged.update(env or {})
        return Environment(name, merged)

    def construct_factory(self, env: Any) -> Any:
        factory = super().construct_factory(env)
        bound_connections(factory, self.settings)
        return factory

    def construct_recorder(self) -> Any:
        recorder = super().construct_recorder()
        if backend_of(self.settings.database_url) == "postgres":
            route_inserts(recorder)  # live saves under a held lock: pg_saves.py
        return recorder

    def construct_event_store(self) -> Any:
        """Saves larger than `save_max_bytes` are refused (workspace/bounds.py)."""
        return BoundedEventStore(
            mapper=self.mapper,
            recorder=self.recorder,
            max_bytes=self.settings.save_max_bytes,
            observe=self._observe,
        )

    def _observe(self, events: Sequence[Any]) -> None:
        """Stored packet events, kept for rebasing (workspace/text_history.py)."""
        found = [e for e in events if isinstance(e, PacketEvent)]
        if found:
            self.recent.seen(found)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshots a packet from the state just saved, at its new version,
        when a saved event reached a multiple of the interval. The library
        would rebuild it from the store at that event's version (a snapshot
        load plus up to an interval of events, folded) while live edits wait
        on the packet's lock; the state in hand is the recorded state."""
        interval = self.snapshotting_intervals.get(Packet)
        others: ProcessingEvent[UUID] = ProcessingEvent()
        others.aggregates = processing_event.aggregates
        taken: set[UUID] = set()
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            if (
                self.snapshots is None
                or not interval
                or not isinstance(aggregate, Packet)
                or aggregate.pending_events
            ):
                others.events.append(event)
            elif event.originator_version % interval == 0 and aggregate.id not in taken:
                taken.add(aggregate.id)
                snapshot_class: Any = getattr(
                    type(aggregate), "Snapshot", type(self).snapshot_class
                )
                if self._snapshot_writer is None:
                    self.snapshots.put([snapshot_class.take(aggregate)])
                else:
                    # A copy: the saved packet goes on to the cache, where
                    # the next load fast-forwards it in place.
                    snapshot = snapshot_class.take(_state_copy(aggregate, {}))
                    self._snapshot_writer.submit(self._put_snapshot, snapshot)
        if others.events:
            super()._take_snapshots(others)

    def _put_snapshot(self, snapshot: Any) -> None:
        assert self.snapshots is not None
        try:
            self.snapshots.put([snapshot])
        except Exception:  # loads stay correct without it, only longer
            log.warning(
                "snapshot of packet %s at version %s not written",
                snapshot.originator_id,
                snapshot.originator_version,
                exc_info=True,
            )

    # ------------------------------------------------------------- plumbing
    def meta(self, principal: Principal, **kwargs: Any) -> Meta:
        return principal.meta(at=self.clock(), **kwargs)

    def cached_version(self, packet_id: UUID) -> int | None:
        """The version of the packet's cached copy (None: not cached). A
        load fast-forwards it by reading the events after this version."""
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            return int(cache.get(packet_id).version)
        except KeyError:
            return None

    def get_packet(self, packet_id: UUID | str, version: int | None = None) -> Packet:
        pid = _uuid(packet_id, "PACKET_NOT_FOUND", "packet")
        try:
            if version is None and self.repository.cache is not None:
                # The cached aggregate is copied here (commands mutate what
                # they load), by `_state_copy` rather than the library's
                # generic deepcopy: a packet's state is plain data, and copying
                # it is on the path of every live edit. The lock keeps another
                # load from fast-forwarding it in place while it is copied.
                with self._cache_lock(pid):
                    current: Any = self.repository.get(
                        pid, projector_func=_project, deepcopy_from_cache=False
                    )
                    packet: Any = _state_copy(current, {})
            else:
                packet = self.repository.get(
                    pid,
                    version=version,
                    projector_func=_project,
                    deepcopy_from_cache=False,
                )
        except AggregateNotFoundError:
            raise NotFoundError(
                "PACKET_NOT_FOUND", f"no packet {packet_id}", {"packet_id": str(pid)}
            ) from None
        if not isinstance(packet, Packet):
            raise NotFoundError("PACKET_NOT_FOUND", f"no packet {packet_id}")
        if version is not None and packet.version != version:
            raise NotFoundError(
                "VERSION_NOT_FOUND",
                f"packet {packet_id} has no version {version}",
                {"version": version},
            )
        return packet

    def read_packet(
        self, principal: Principal, packet_id: UUID | str, version: int | None = None
    ) -> Packet:
        packet = self.get_packet(packet_id)
        policy.require(principal, "read", packet)
        if version is None:
            return packet
        if isinstance(version, bool) or not 1 <= version <= packet.version:
            raise NotFoundError(
                "VERSION_NOT_FOUND",
                f"versions of this packet run from 1 to {packet.version}",
                {"version": version},
            )
        return self.get_packet(packet_id, version=version)

    def packet_at_time(
        self, principal: Principal, packet_id: UUID | str, at: datetime
    ) -> Packet:
        """The packet as it stood at a moment, folded from the aggregate's events."""
        packet = self.read_packet(principal, packet_id)
        found = 0
        for event in self.events.get(packet.id):
            if getattr(event, "timestamp", at) > at:
                break
            found = event.originator_version
        if found == 0:
            raise NotFoundError(
                "VERSION_NOT_FOUND", "the packet did not exist at that time"
            )
        return self.get_packet(packet_id, version=found)

    def update_packet(
        self,
        packet_id: UUID | str,
        principal: Principal,
        action: str | None,
        decide: Callable[[Packet], T],
        *,
        expected_version: int | None = None,
        others: Callable[[T], list[Any]] | None = None,
    ) -> tuple[Packet, T]:
        """Loads, checks the role, decides, adds consequences, saves atomically.

        With an expected version, a clash is the caller's VersionClashError.
        Without one, the decision is retried on fresh state, since it was not
        based on anything the caller saw. `others` names, from a decision,
        other aggregates (a lane) that must land in the same save.
        """
        for _ in range(MAX_ATTEMPTS):
            packet = self.get_packet(packet_id)
            if expected_version is not None and packet.version != expected_version:
                raise VersionClashError(
                    "VERSION_CLASH",
                    f"the packet is at version {packet.version}, "
                    f"not {expected_version}",
                    {"current_version": packet.version},
                )
            if action is not None:
                policy.require(principal, action, packet)
            result = decide(packet)
            also = [] if others is None else others(result)
            also.extend(self.consequences(packet, principal))
            try:
                self.save(packet, *also)
            except IntegrityError:
                if expected_version is not None:
                    raise VersionClashError(
                        "VERSION_CLASH",
                        "another write was saved first; reload and try again",
                        {"expected_version": expected_version},
                    ) from None
                continue
            return packet, result
        raise VersionClashError(
            "VERSION_CLASH", "too many concurrent writers; try again"
        )

    def execute(
        self,
        packet_id: UUID | str,
        principal: Principal,
        command: Command,
        *,
        expected_version: int | None = None,
    ) -> Executed[Any]:
        """The one command handler: prepares the command once, then loads,
        authorizes, decides, adds consequences and saves (`update_packet`)."""
        ctx = Context(cast("Workspace", self), principal, packet_id)
        command.prepare(ctx)

        def decide(packet: Packet) -> Any:
            command.authorize(principal, packet)
            return command.decide(packet, ctx)

        packet, result = self.update_packet(
            packet_id,
            principal,
            None,
            decide,
            expected_version=expected_version,
            others=lambda result: command.others(result, ctx),
        )
        done = Executed(packet, result)
        command.after_save(done, ctx)
        return done

    def consequences(self, packet: Packet, principal: Principal) -> list[Any]:
        """Events that must land in the same save as a change (release layer).

        May trigger further events on `packet`; returns other aggregates to save.
        Every content module reacts first (`ContentModule.react`).
        """
        pending = list(packet.pending_events)
        if pending:
            meta = self.meta(principal)
            for module in content_modules():
                module.react(packet, pending, meta)
        return []

    # -------------------------------------------------------------- packets
    def open_packet(
        self,
        principal: Principal,
        *,
        kind: str,
        title: str,
        release_owner: str,
        authors: list[str],
        reviewers: list[str],
    ) -> Packet:
        if principal.is_agent or principal.is_auditor:
            raise NotAllowedError(
                "ROLE_NOT_ALLOWED", "agents and auditors do not open packets"
            )
        packet = Packet.open(
            self.meta(principal),
            kind=kind,
            title=title,
            release_owner=release_owner,
            authors=authors,
            reviewers=reviewers,
        )
        for user_id in {packet.release_owner, *packet.authors, *packet.reviewers}:
            if not self.user_exists(user_id):
                raise InvalidInputError(
                    "USER_UNKNOWN", f"no user {user_id!r}", {"user_id": user_id}
                )
        self.save(packet)
        return packet

    # ---------------------------------------------------------------- edits
    # -------------------------------------------------------------- sources

    # -------------------------------------------------------- prerequisites

    # ----------------------------------------------------------- objections

    # ------------------------------------------------------------ revisions

    def revision_content(
        self, packet: Packet, number: int
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A revision's record and its exact content, from the stored cut."""
        revision = packet.revision(number)
        stored = self._stored_revision(packet, revision)
        return revision, expand(
            stored,
            lambda n: self._stored_revision(packet, packet.revision(n)),
        )

    def _stored_revision(
        self, packet: Packet, revision: dict[str, Any]
    ) -> dict[str, Any]:
        """A revision's content as its cut stored it (section texts may refer
        to earlier revisions: `workspace/revision_texts.py`)."""
        for event in self.events.get(
            packet.id, gt=revision["version"] - 1, lte=revision["version"]
        ):
            if isinstance(event, Packet.RevisionCut):
                return dict(event.content)
        raise NotFoundError(
            "REVISION_NOT_FOUND", f"revision {revision['number']} not stored"
        )

    # ------------------------------------------------------------- listing
    def packet_ids(self) -> Iterator[UUID]:
        """Every packet id, in order of opening (read models do this faster)."""
        return self.originator_ids(Packet.Opened.TOPIC)

    def originator_ids(self, created_topic: str) -> Iterator[UUID]:
        """Ids of every aggregate whose creation event has this topic, in order."""
        start = 1
        while True:
            batch = self.recorder.select_notifications(
                start=start, limit=500, topics=[created_topic]
            )
            for notification in batch:
                yield UUID(str(notification.originator_id))
            if len(batch) < 500:
                return
            start = batch[-1].id + 1

    def ping(self) -> None:
        """Raises if the database does not answer (readiness)."""
        self.recorder.max_notification_id()


def _uuid(value: UUID | str, code: str, what: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise NotFoundError(code, f"no {what} {value!r}") from None


#: Values shared, not copied, by `_state_copy` (immutable; deepcopy shares them too).
_ATOMS = frozenset({str, int, float, bool, type(None), UUID, datetime, bytes})


def _project(aggregate: Any, events: Iterable[Any]) -> Any:
    """The library's `project_aggregate` without its per-event assertion
    that the event is a `CanMutateProtocol`: an `isinstance` against a
    runtime-checkable protocol, which Python 3.11 answers by listing the
    protocol's members on every call. Every stored packet event is a
    `PacketEvent` (it has `mutate`); that assertion cost 55 us per event
    folded, on every load that fast-forwards (issue 18)."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def _state_copy(value: Any, memo: dict[int, Any]) -> Any:
    """`copy.deepcopy` for an aggregate's state, fast for plain data: dicts
    and lists are copied directly (aliases stay aliases, through `memo`),
    immutable values are shared, anything else goes to `copy.deepcopy`."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    found = memo.get(id(value))
    if found is not None:
        return found
    result: Any
    if kind is dict:
        result = memo[id(value)] = {}
        for key, item in value.items():
            result[key] = item if type(item) in _ATOMS else _state_copy(item, memo)
    elif kind is list:
        result = memo[id(value)] = []
        result.extend(
            item if type(item) in _ATOMS else _state_copy(item, memo) for item in value
        )
    elif kind is Packet:
        result = memo[id(value)] = object.__new__(Packet)
        result.__dict__.update(_state_copy(vars(value), memo))
    else:
        return copy.deepcopy(value, memo)
    return result


class Workspace(EditBatch, WorkspaceCore):
    """Packets, users and their commands: the core (this file), the live edit
    batch (workspace/editing.py) and users (workspace/users.py)."""

    name = "Quire"


__all__ = [
    "MAX_ATTEMPTS",
    "Clock",
    "EditOutcome",
    "EditRequest",
    "Workspace",
    "WorkspaceCore",
    "system_clock",
]

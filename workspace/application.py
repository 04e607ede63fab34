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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import import_module
from typing import Any, TypeVar
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
    check_passphrase,
    hash_token,
    new_token,
    token_aggregate_id,
    trail_aggregate_id,
    user_aggregate_id,
    user_event_classes,
    validate_user_id,
)
from workspace.boundary_edits import flags_introduced
from workspace.bounds import BoundedEventStore, bound_connections
from workspace.commands.base import Command, Context, Executed
from workspace.config import Settings, backend_of, get_settings, persistence_env
from workspace.content.registry import modules as content_modules
from workspace.domain import (
    Meta,
    Packet,
    all_event_classes,
)
from workspace.errors import (
    AuthenticationError,
    EditConflictError,
    InvalidInputError,
    NotAllowedError,
    NotFoundError,
    QuireError,
    StateError,
    VersionClashError,
)
from workspace.rebase import (
    InvalidOps,
    Op,
    RebaseConflict,
    diff_to_ops,
    transform,
    validate_ops,
)
from workspace.refusals import RefusalCoalescer
from workspace.revision_texts import expand
from workspace.shortcuts import CommandShortcuts

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], datetime]

#: A write with no expected version is re-decided on fresh state this many
#: times when another process saved first; edits rebase, so they always may.
MAX_ATTEMPTS = 20

#: A signing attempt re-decided this many times (each time another process
#: recorded an attempt of the same signer first) gives up with 409.
SIGNING_ATTEMPTS = 200
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


@dataclass(frozen=True)
class EditOutcome:
    version: int
    text: str
    section_id: str
    conflict_id: str | None = None
    suggestion_id: str | None = None
    replayed: bool = False
    #: Commitments the edit introduced (workspace/boundary_edits.py).
    boundary_flags: tuple[dict[str, str], ...] = ()


@dataclass(frozen=True)
class EditRequest:
    """One edit of a batch (`Workspace.edit_sections`)."""

    principal: Principal
    section_id: str
    base_version: int
    ops: object = None
    text: object = None
    client_id: str | None = None
    client_seq: int | None = None


class Workspace(CommandShortcuts, Application[UUID]):
    """Packets, users and their commands."""

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

    def construct_event_store(self) -> Any:
        """Saves larger than `save_max_bytes` are refused (workspace/bounds.py)."""
        return BoundedEventStore(
            mapper=self.mapper,
            recorder=self.recorder,
            max_bytes=self.settings.save_max_bytes,
        )

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
                    current: Any = self.repository.get(pid, deepcopy_from_cache=False)
                    packet: Any = _state_copy(current, {})
            else:
                packet = self.repository.get(
                    pid, version=version, deepcopy_from_cache=False
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
        ctx = Context(self, principal)
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
        return Executed(packet, result)

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
    def edit_section(
        self,
        packet_id: UUID | str,
        principal: Principal,
        section_id: str,
        *,
        base_version: int,
        ops: object = None,
        text: object = None,
        client_id: str | None = None,
        client_seq: int | None = None,
    ) -> EditOutcome:
        """Applies a range edit or a whole new text, rebased over later edits.

        An agent's edit becomes a suggestion. A resend (same client id and
        sequence) returns its first result. A true overlap is saved as a
        conflict event and raised as EditConflictError.
        """
        request = EditRequest(
            principal, section_id, base_version, ops, text, client_id, client_seq
        )
        result = self.edit_sections(packet_id, [request])[0]
        if isinstance(result, QuireError):
            raise result
        return result

    def edit_sections(
        self, packet_id: UUID | str, requests: list[EditRequest]
    ) -> list[EditOutcome | QuireError]:
        """Applies several edits of one packet with one load and one atomic save
        (live co-authoring coalesces concurrent keystrokes this way).

        Each is decided exactly as `edit_section` decides one, in order, seeing
        the ones before it; one refused does not stop the others. On a version
        clash the whole batch is decided again on fresh state.
        """
        for _ in range(MAX_ATTEMPTS):
            packet = self.get_packet(packet_id)
            decided: list[EditOutcome | QuireError] = []
            for request in requests:
                try:
                    decided.append(self._decide_edit(packet, request, decided))
                except QuireError as e:
                    decided.append(e)
            if not packet.pending_events:
                return decided
            others = self.consequences(packet, requests[0].principal)
            try:
                self.save(packet, *others)
            except IntegrityError:
                continue  # another process saved first: rebase again
            if self.repository.cache is not None:
                # What was just saved is the recorded state (and is not used
                # again here): the next load fast-forwards from it instead of
                # reading and folding this batch's events again.
                with self._cache_lock(packet.id):
                    try:
                        cached: Any = self.repository.cache.get(packet.id)
                    except KeyError:
                        cached = None
                    if cached is None or cached.version < packet.version:
                        self.repository.cache.put(packet.id, packet)
            return [
                _conflict_error(r.conflict_id, r.section_id, r.version)
                if isinstance(r, EditOutcome) and r.conflict_id and not r.replayed
                else r
                for r in decided
            ]
        raise VersionClashError("VERSION_CLASH", "too many concurrent writers")

    def _decide_edit(
        self,
        packet: Packet,
        request: EditRequest,
        earlier: list[EditOutcome | QuireError],
    ) -> EditOutcome:
        """Triggers one edit's event on `packet` (not saved) and says what it did."""
        principal, section_id, base_version = (
            request.principal,
            request.section_id,
            request.base_version,
        )
        client_id, client_seq = request.client_id, request.client_seq
        _check_client(client_id, client_seq)
        if isinstance(base_version, bool) or not isinstance(base_version, int):
            raise InvalidInputError("BASE_VERSION_INVALID", "base_version is an int")
        if (request.ops is None) == (request.text is None):
            raise InvalidInputError(
                "EDIT_MALFORMED", "send exactly one of 'ops' or 'text'"
            )
        # Authorized first, then de-duplicated by (user, client id, sequence):
        # a resend is answered from the sender's own results, never from
        # another user's (whose ids may collide or be copied).
        action = "suggest" if principal.is_agent else "edit"
        policy.require(principal, action, packet)
        replay = packet.client_result(principal.user_id, client_id, client_seq)
        if replay is not None:
            if packet.pending_events and replay["version"] >= _loaded(packet) + 1:
                # Resent within this batch: the same answer as the first send.
                for r in earlier:
                    if isinstance(r, EditOutcome) and r.version == replay["version"]:
                        return EditOutcome(
                            **{**vars(r), "replayed": r.conflict_id is None}
                        )
            return self._replayed(packet, section_id, replay)
        if not 1 <= base_version <= _loaded(packet):
            raise InvalidInputError(
                "BASE_VERSION_INVALID",
                f"base_version must be between 1 and {_loaded(packet)}",
                {"current_version": _loaded(packet)},
            )
        section = packet.section(section_id)
        base_text, later = self._history_since(packet, section_id, base_version)
        new_ops = self._parse_ops(base_text, request.ops, request.text)
        meta = self.meta(principal, client_id=client_id, client_seq=client_seq)
        conflict_id: str | None = None
        suggestion_id: str | None = None
        flags = flags_introduced(base_text, new_ops)
        if principal.is_agent:
            suggestion_id = packet.propose_suggestion(
                meta,
                section_id=section_id,
                base_version=base_version,
                ops=new_ops,
                boundary_flags=flags,
            )
        else:
            rebased, against = _rebase(new_ops, later)
            if rebased is None:
                conflict_id = packet.record_conflict(
                    meta,
                    section_id=section_id,
                    base_version=base_version,
                    ops=new_ops,
                    against_version=against,
                )
            elif rebased or client_id is not None:
                packet.edit_section(
                    meta,
                    section_id=section_id,
                    base_version=base_version,
                    ops=rebased,
                    max_bytes=self.settings.section_max_bytes,
                    boundary_flags=flags,
                )
        return EditOutcome(
            packet.version,
            section["text"],
            section_id,
            conflict_id=conflict_id,
            suggestion_id=suggestion_id,
            boundary_flags=tuple(flags),
        )

    def accept_suggestion(
        self,
        packet_id: UUID | str,
        principal: Principal,
        suggestion_id: str,
        override_reason: str | None = None,
    ) -> EditOutcome:
        """A human takes an agent's suggestion; it is rebased like any edit.
        A boundary-flagged one needs `override_reason` (BOUNDARY_FLAGGED)."""
        for _ in range(MAX_ATTEMPTS):
            packet = self.get_packet(packet_id)
            policy.require(principal, "accept_suggestion", packet)
            reason = packet.check_boundary_override(suggestion_id, override_reason)
            suggestion = packet.suggestion(suggestion_id)
            section_id = suggestion["section_id"]
            packet.section(section_id)
            _, later = self._history_since(
                packet, section_id, suggestion["base_version"]
            )
            ops = [
                Op(at=o["at"], delete=o["delete"], insert=o["insert"])
                for o in suggestion["ops"]
            ]
            rebased, against = _rebase(ops, later)
            meta = self.meta(principal, reason=reason)
            conflict_id = None
            if rebased is None:
                conflict_id = packet.record_conflict(
                    meta,
                    section_id=section_id,
                    base_version=suggestion["base_version"],
                    ops=ops,
                    against_version=against,
                )
            else:
                packet.edit_section(
                    meta,
                    section_id=section_id,
                    base_version=suggestion["base_version"],
                    ops=rebased,
                    max_bytes=self.settings.section_max_bytes,
                    suggestion_id=suggestion_id,
                )
            try:
                self.save(packet, *self.consequences(packet, principal))
            except IntegrityError:
                continue
            if conflict_id is not None:
                raise _conflict_error(conflict_id, section_id, packet.version)
            return EditOutcome(
                packet.version, packet.sections[section_id]["text"], section_id
            )
        raise VersionClashError("VERSION_CLASH", "too many concurrent writers")

    def _history_since(
        self, packet: Packet, section_id: str, base_version: int
    ) -> tuple[str, list[tuple[int, list[Op]]]]:
        """The section's text at base_version, and every edit applied since."""
        section = packet.sections[section_id]
        if section["last_edit_version"] <= base_version:
            return section["text"], []
        later: list[tuple[int, list[Op]]] = []
        # Bounded by the loaded version: another process may have saved since,
        # and those edits are not in `packet` (its save will clash and retry);
        # then the edits decided earlier in this batch, not yet saved.
        stored = self.events.get(packet.id, gt=base_version, lte=_loaded(packet))
        pending = [
            e for e in packet.pending_events if e.originator_version > base_version
        ]
        for event in [*stored, *pending]:
            if (
                isinstance(event, Packet.SectionAdded)
                and event.section_id == section_id
            ):
                # Based on a version from before the section existed: its text
                # at that version is nothing to diff or rebase against, whether
                # or not the section was edited since.
                raise _base_before_section(section_id, base_version)
            if (
                isinstance(event, Packet.SectionTextEdited)
                and event.section_id == section_id
            ):
                later.append(
                    (
                        event.originator_version,
                        [
                            Op(at=o["at"], delete=o["delete"], insert=o["insert"])
                            for o in event.ops
                        ],
                    )
                )
        if not later:
            return section["text"], []
        base = self.get_packet(packet.id, version=base_version)
        base_section = base.sections.get(section_id)
        if base_section is None:
            raise _base_before_section(section_id, base_version)
        return base_section["text"], later

    def _parse_ops(self, base_text: str, ops: object, text: object) -> list[Op]:
        if text is not None:
            if not isinstance(text, str):
                raise InvalidInputError("TEXT_INVALID", "text must be a string")
            return diff_to_ops(base_text, text)
        try:
            return validate_ops(ops, len(base_text), self.settings.max_ops_per_edit)
        except InvalidOps as e:
            raise InvalidInputError(e.code, str(e)) from None

    def _replayed(
        self, packet: Packet, section_id: str, result: dict[str, Any]
    ) -> EditOutcome:
        if "conflict_id" in result:
            raise _conflict_error(result["conflict_id"], section_id, result["version"])
        at = self.get_packet(packet.id, version=result["version"])
        section = at.sections.get(section_id, {"text": ""})
        return EditOutcome(
            result["version"],
            section["text"],
            section_id,
            suggestion_id=result.get("suggestion_id"),
            replayed=True,
        )

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

    # --------------------------------------------------------------- users
    def user_exists(self, user_id: str) -> bool:
        try:
            self.repository.get(user_aggregate_id(user_id))
        except AggregateNotFoundError:
            return False
        return True

    def get_user(self, user_id: str) -> User:
        try:
            user: Any = self.repository.get(
                user_aggregate_id(validate_user_id(user_id))
            )
        except AggregateNotFoundError:
            raise NotFoundError("USER_NOT_FOUND", f"no user {user_id!r}") from None
        if not isinstance(user, User):
            raise NotFoundError("USER_NOT_FOUND", f"no user {user_id!r}")
        return user

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        roles: list[str],
        passphrase: str | None = None,
        actor: str = "system",
    ) -> str:
        """Registers a user and returns their first bearer token (shown once)."""
        user = User.register(
            actor=actor, user_id=user_id, name=name, roles=roles, passphrase=passphrase
        )
        token, index = self._token_for(user, actor)
        try:
            self.save(user, index)
        except IntegrityError:
            raise StateError(
                "USER_EXISTS", f"user {user_id!r} already exists"
            ) from None
        return token

    def issue_token(self, user_id: str, actor: str = "system") -> str:
        user = self.get_user(user_id)
        token, index = self._token_for(user, actor)
        self.save(user, index)
        return token

    def _token_for(self, user: User, actor: str) -> tuple[str, TokenIndex]:
        token = new_token()
        digest = hash_token(token)
        at = self.clock()  # the token's issue time (expiry counts from it)
        user.trigger_event(
            User.TokenIssued, actor=actor, token_hash=digest, timestamp=at
        )
        index = TokenIndex._create(
            TokenIndex.Issued,
            id=token_aggregate_id(digest),
            user_id=user.user_id,
            timestamp=at,
        )
        return token, index

    def authenticate(self, token: str | None) -> Principal:
        """The token's user, unless the token is unknown, revoked (every token
        a user held when `revoke_tokens` ran) or older than the TTL."""
        if not token:
            raise AuthenticationError("TOKEN_MISSING", "send Authorization: Bearer")
        digest = hash_token(token)
        try:
            index: Any = self.repository.get(token_aggregate_id(digest))
        except AggregateNotFoundError:
            raise AuthenticationError("TOKEN_INVALID", "unknown token") from None
        user = self.get_user(index.user_id)
        if digest not in user.token_hashes:
            raise AuthenticationError("TOKEN_REVOKED", "this token was revoked")
        ttl = timedelta(days=self.settings.token_ttl_days)
        if self.clock() >= index.created_on + ttl:
            raise AuthenticationError(
                "TOKEN_EXPIRED",
                f"this token is older than {self.settings.token_ttl_days} days; "
                "ask an admin for a new one",
            )
        return user.principal()

    def revoke_tokens(self, admin: Principal, user_id: str) -> int:
        """Revokes every token the user holds; returns how many."""
        if not admin.is_admin:
            raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins revoke tokens")
        for _ in range(MAX_ATTEMPTS):
            user = self.get_user(user_id)
            count = len(user.token_hashes)
            user.trigger_event(
                User.TokensRevoked,
                actor=admin.user_id,
                count=count,
                timestamp=self.clock(),
            )
            try:
                self.save(user)
            except IntegrityError:
                continue
            return count
        raise VersionClashError("VERSION_CLASH", "the user changed meanwhile; retry")

    def check_signing_passphrase(
        self,
        user_id: str,
        passphrase: str,
        *,
        packet_id: str,
        release_id: str,
    ) -> bool:
        """Re-authenticates a signer; five failures in a row lock signing until
        an admin unlocks it.

        Every attempt is recorded exactly once, whatever the concurrency: a
        failure (or any attempt on a locked signer) as `SigningFailed`, a
        success as `SigningSucceeded`. Both are saved against the version of
        the user they were decided on, so a decision made on a stale version
        (another process saved first) is re-decided on fresh state, which
        re-checks the lock. The slow passphrase hash is checked once.
        """
        user = self.get_user(user_id)
        hashed = user.passphrase_hash
        matched = (
            False if user.signing_locked else check_passphrase(passphrase or "", hashed)
        )
        with self._signing_lock(user_id):
            for _ in range(SIGNING_ATTEMPTS):
                user = self.get_user(user_id)  # fresh: after the lock was taken
                locked = user.signing_locked
                if not locked and user.passphrase_hash != hashed:
                    # The passphrase changed meanwhile (rare): check the new one.
                    hashed = user.passphrase_hash
                    matched = check_passphrase(passphrase or "", hashed)
                ok = matched and not locked
                if ok:
                    user.trigger_event(
                        User.SigningSucceeded,
                        actor=user_id,
                        packet_id=packet_id,
                        release_id=release_id,
                    )
                else:
                    user.trigger_event(
                        User.SigningFailed,
                        actor=user_id,
                        packet_id=packet_id,
                        release_id=release_id,
                        while_locked=locked,
                    )
                try:
                    self.save(user)
                except IntegrityError:
                    continue  # another process recorded an attempt first
                return ok
        raise VersionClashError(
            "SIGNING_BUSY", "too many simultaneous signing attempts; try again"
        )

    def _signing_lock(self, user_id: str) -> threading.Lock:
        """One lock per signer in this process: its attempts queue here rather
        than clash on the user's version (other processes still may: retried)."""
        with self._signing_locks_guard:
            return self._signing_locks.setdefault(user_id, threading.Lock())

    def unlock_signing(self, admin: Principal, user_id: str) -> None:
        if not admin.is_admin:
            raise NotAllowedError("ROLE_NOT_ALLOWED", "only admins unlock signing")
        user = self.get_user(user_id)
        user.trigger_event(User.SigningUnlocked, actor=admin.user_id)
        self.save(user)

    # ---------------------------------------------------------- audit trail
    def record_view(
        self,
        principal: Principal,
        what: str,
        *,
        packet_id: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Records a read by an auditor or lane member (invariant: views logged)."""
        self._append_trail(
            principal,
            AuditTrail.Viewed,
            what=what,
            packet_id=packet_id,
            detail=detail or {},
        )

    def record_refusal(
        self,
        principal: Principal,
        request: str,
        code: str,
        message: str,
        *,
        packet_id: str | None = None,
    ) -> None:
        """Records a refused request, so the audit log shows what was attempted.

        Repeats of the same refusal by the same user within a minute are
        counted and recorded as one event with `count` (workspace/refusals.py).
        """
        self._refusals.refused(principal, request, code, message, packet_id)

    def flush_refusals(self) -> None:
        """Records every refusal counted so far but not yet recorded."""
        self._refusals.flush(everything=True)

    def pending_refusals(self) -> int:
        return self._refusals.pending()

    def _record_refusals(
        self, principal: Principal, fields: dict[str, Any], count: int
    ) -> None:
        self._append_trail(principal, AuditTrail.Refused, count=count, **fields)

    def _append_trail(
        self, principal: Principal, event_class: type[Any], **fields: Any
    ) -> None:
        at = self.clock()
        day = at.date().isoformat()
        trail_id = trail_aggregate_id(principal.user_id, day)
        for _ in range(MAX_ATTEMPTS):
            try:
                trail: Any = self.repository.get(trail_id)
            except AggregateNotFoundError:
                trail = AuditTrail._create(
                    AuditTrail.Started,
                    id=trail_id,
                    user_id=principal.user_id,
                    day=day,
                    timestamp=at,
                )
            trail.trigger_event(
                event_class,
                actor=principal.user_id,
                actor_kind=principal.kind,
                timestamp=at,
                **fields,
            )
            try:
                self.save(trail)
            except IntegrityError:
                continue
            return
        raise VersionClashError(
            "VERSION_CLASH", f"could not append to the audit trail of {trail_id}"
        )

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


def _loaded(packet: Packet) -> int:
    """The packet's stored version (before the events pending in this batch)."""
    pending = packet.pending_events
    return pending[0].originator_version - 1 if pending else packet.version


def _check_client(client_id: object, client_seq: object) -> None:
    if client_id is None and client_seq is None:
        return
    if not isinstance(client_id, str) or not 1 <= len(client_id) <= 100:
        raise InvalidInputError("CLIENT_ID_INVALID", "client_id is 1-100 characters")
    if (
        isinstance(client_seq, bool)
        or not isinstance(client_seq, int)
        or client_seq < 0
    ):
        raise InvalidInputError(
            "CLIENT_SEQ_INVALID", "client_seq is a non-negative int with client_id"
        )


def _rebase(
    ops: list[Op], later: list[tuple[int, list[Op]]]
) -> tuple[list[Op] | None, int]:
    """Rebases over each later edit in server order; (None, version) on clash."""
    for version, applied in later:
        try:
            ops = transform(ops, applied)
        except RebaseConflict:
            return None, version
    return ops, 0


def _base_before_section(section_id: str, base_version: int) -> InvalidInputError:
    return InvalidInputError(
        "BASE_VERSION_INVALID",
        f"section {section_id} did not exist at version {base_version}",
        {"section_id": section_id, "base_version": base_version},
    )


def _conflict_error(
    conflict_id: str, section_id: str, version: int
) -> EditConflictError:
    return EditConflictError(
        "EDIT_CONFLICT",
        "this edit overlaps a later accepted edit; it was kept as a conflict",
        {"conflict_id": conflict_id, "section_id": section_id, "version": version},
    )

"""The audit log, the Merkle tree over the whole event log, signed checkpoints,
and the queries over them; export (projections/audit_export.py) and offline
verification (projections/audit_verify.py) of one packet's history.

Leaves: one per stored event, in notification-id order (leaf index = position
in that order; PostgreSQL ids may have gaps, indexes do not). A leaf is the
RFC 6962 leaf hash of the canonical event record (projections/events.py).

The `audit_log` projection stores, per event, actor, actor kind, time, type
and leaf hash, and keeps the tree's right frontier (`audit_state`) in the same
transaction as its tracking record, so it never holds the whole tree in memory.
It signs a checkpoint (tree size, root, time; Ed25519) right after every
RevisionCut and ReleaseApproved, and after `checkpoint_interval_seconds` of
activity; checkpoints are kept forever in `audit_checkpoints`.

A rebuild does not trust what it recomputes: existing `audit_log` rows are
kept and compared leaf by leaf, and every stored checkpoint the replay passes
is compared with the recomputed root. An event altered in the database after it
was logged therefore stops the rebuild (and any export) with its name.

Export (`quire audit export`) recomputes every leaf from the event table,
checks them against `audit_log` and the stored checkpoints, then writes JSON
Lines: a signed header, the packet's events with inclusion proofs against the
latest checkpoint, the checkpoint, and the public key. `verify_export` checks
such a file with nothing but this module and the key.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)

from projections import events as ev
from projections.checkpoints import Checkpoint, sign_checkpoint, utc_timestamp
from projections.driver import Projection
from projections.events import (
    EventRecord,
    decode_state,
)
from projections.merkle import EMPTY_ROOT, node_hash
from projections.store import ReadStore, Tx
from workspace.errors import StateError

CHECKPOINT_TOPICS = (ev.REVISION_CUT, ev.RELEASE_APPROVED)
READ_CHUNK = 5000


class AuditMismatchError(StateError, code="AUDIT_MISMATCH"):
    """The event log no longer matches what the audit log recorded or signed."""


class MerkleFrontier:
    """The right frontier of an RFC 6962 tree: enough to append and take roots.

    One hash per set bit of the size: the roots of the complete subtrees that
    make up the tree, largest (leftmost) first. Appending merges equal-height
    neighbours; the root folds them from the right, which is exactly MTH.
    """

    def __init__(self, size: int = 0, nodes: Sequence[bytes] = ()) -> None:
        if bin(size).count("1") != len(nodes):
            raise ValueError("a frontier has one node per set bit of its size")
        self.size = size
        self.nodes = list(nodes)

    def append(self, leaf: bytes) -> None:
        self.nodes.append(leaf)
        self.size += 1
        carry = self.size
        while carry % 2 == 0:
            right = self.nodes.pop()
            left = self.nodes.pop()
            self.nodes.append(node_hash(left, right))
            carry //= 2

    def root(self) -> bytes:
        if not self.nodes:
            return EMPTY_ROOT
        acc = self.nodes[-1]
        for node in reversed(self.nodes[:-1]):
            acc = node_hash(node, acc)
        return acc

    def dump(self) -> str:
        return json.dumps([n.hex() for n in self.nodes])

    @classmethod
    def load(cls, size: int, dumped: str) -> MerkleFrontier:
        return cls(size, [bytes.fromhex(h) for h in json.loads(dumped)])


def _row_packet(event: EventRecord) -> str | None:
    if event.is_packet_event:
        return event.originator_id
    if event.topic.startswith(ev.TRAIL):
        packet = event.data.get("packet_id")
        return str(packet) if packet else None
    return None


CHECKPOINT_COLUMNS = ("tree_size", "root_hash", "timestamp", "signature", "key_id")
AUDIT_COLUMNS = (
    "leaf_index",
    "notification_id",
    "originator_id",
    "originator_version",
    "topic",
    "actor",
    "actor_kind",
    "at",
    "packet_id",
    "leaf_hash",
)


class AuditLog(Projection):
    name = "audit_log"
    #: Its Merkle tree hashes every event in order: a poison event is
    #: recorded and alerted, never skipped.
    skips_poison = False
    tables = ("audit_log", "audit_state")
    ddl = (
        "CREATE TABLE IF NOT EXISTS audit_log ("
        "leaf_index BIGINT PRIMARY KEY, notification_id BIGINT NOT NULL, "
        "originator_id TEXT NOT NULL, originator_version BIGINT NOT NULL, "
        "topic TEXT NOT NULL, actor TEXT, actor_kind TEXT, at TEXT, "
        "packet_id TEXT, leaf_hash TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS audit_log_originator "
        "ON audit_log (originator_id, originator_version)",
        "CREATE TABLE IF NOT EXISTS audit_state ("
        "name TEXT PRIMARY KEY, tree_size BIGINT NOT NULL, frontier TEXT NOT NULL, "
        "checkpoint_size BIGINT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS audit_checkpoints ("
        "tree_size BIGINT NOT NULL, root_hash TEXT NOT NULL, "
        "timestamp TEXT NOT NULL, signature TEXT NOT NULL, key_id TEXT NOT NULL, "
        "reason TEXT NOT NULL, PRIMARY KEY (tree_size, timestamp, key_id))",
    )

    def __init__(
        self, key: Ed25519PrivateKey | None, interval_seconds: float = 5.0
    ) -> None:
        self.key = key
        self.interval = interval_seconds
        self.frontier: MerkleFrontier | None = None
        self.checkpoint_size = 0
        self.last_checkpoint = time.monotonic()
        #: Stored checkpoints beyond our size (a rebuild must meet them).
        self.ahead: dict[int, list[Checkpoint]] = {}
        self.ahead_max = 0
        self._pending_state: tuple[int, int] | None = None

    def reset(self, tx: Tx) -> None:
        # audit_log rows are kept: the replay compares against them.
        tx.execute("DELETE FROM audit_state")

    def load(self, tx: Tx) -> None:
        row = tx.one(
            "SELECT tree_size, frontier, checkpoint_size FROM audit_state "
            "WHERE name = %s",
            (self.name,),
        )
        if row is None:
            self.frontier = MerkleFrontier()
            self.checkpoint_size = 0
        else:
            self.frontier = MerkleFrontier.load(int(row[0]), str(row[1]))
            self.checkpoint_size = int(row[2])
        self.ahead = {}
        for cp in stored_checkpoints(tx, above=self.frontier.size):
            self.ahead.setdefault(cp.tree_size, []).append(cp)
        self.ahead_max = max(self.ahead, default=0)
        self.last_checkpoint = time.monotonic()

    def discard(self) -> None:
        self.frontier = None

    def apply(self, tx: Tx, events: Sequence[EventRecord]) -> None:
        frontier = self.frontier
        if frontier is None:
            raise RuntimeError("the audit log was not loaded")
        start = frontier.size
        # Rows kept from before a rebuild (none in normal running).
        existing = {
            int(r[0]): tuple(r)
            for r in tx.all(
                f"SELECT {', '.join(AUDIT_COLUMNS)} FROM audit_log "
                "WHERE leaf_index >= %s AND leaf_index < %s",
                (start, start + len(events)),
            )
        }
        fresh: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        signed: list[tuple[Checkpoint, str]] = []
        for event in events:
            leaf = event.leaf().hex()
            index = frontier.size
            data = event.data
            row = (
                index,
                event.notification_id,
                event.originator_id,
                event.originator_version,
                event.topic,
                event.actor,
                data.get("actor_kind"),
                event.timestamp,
                _row_packet(event),
                leaf,
            )
            before = existing.get(index)
            if before is None:
                fresh.append(row)
            elif (before[1], before[9]) != (event.notification_id, leaf):
                raise AuditMismatchError(
                    "AUDIT_MISMATCH",
                    f"leaf {index} ({describe(event)}) does not match the audit "
                    "log recorded earlier: the event was altered, removed or "
                    "inserted in the database",
                    {"leaf_index": index, "notification_id": event.notification_id},
                )
            elif before != row:
                changed.append(row)
            frontier.append(bytes.fromhex(leaf))
            if frontier.size in self.ahead:
                self._meet(frontier)
            if event.topic in CHECKPOINT_TOPICS and frontier.size > self.ahead_max:
                signed.append((self._sign(), event.topic.rsplit(".", 1)[-1]))
        if (
            frontier.size > max(self.checkpoint_size, self.ahead_max)
            and time.monotonic() - self.last_checkpoint >= self.interval
        ):
            signed.append((self._sign(), "interval"))
        tx.insert_rows("audit_log", AUDIT_COLUMNS, fresh)
        # A rebuild over kept rows: same leaves (checked above); the derived
        # columns are rewritten only where the projection's code changed them.
        derived = ", ".join(f"{c} = %s" for c in AUDIT_COLUMNS[2:9])
        tx.executemany(
            f"UPDATE audit_log SET {derived} WHERE leaf_index = %s",
            [(*row[2:9], row[0]) for row in changed],
        )
        self._save(tx, signed)

    def _meet(self, frontier: MerkleFrontier) -> None:
        root = frontier.root().hex()
        for cp in self.ahead.pop(frontier.size):
            if cp.root_hash != root:
                raise AuditMismatchError(
                    "AUDIT_MISMATCH",
                    f"the checkpoint of tree size {cp.tree_size} signed at "
                    f"{cp.timestamp} does not match the event log: an event "
                    f"among leaves [{self.checkpoint_size}, {cp.tree_size}) was "
                    "altered, removed, inserted or reordered",
                    {"tree_size": cp.tree_size, "timestamp": cp.timestamp},
                )
        self.checkpoint_size = frontier.size

    def _sign(self) -> Checkpoint:
        if self.frontier is None or self.key is None:
            raise RuntimeError("no frontier or no signing key")
        cp = sign_checkpoint(
            self.key, self.frontier.size, self.frontier.root(), utc_timestamp()
        )
        self.checkpoint_size = cp.tree_size
        self.last_checkpoint = time.monotonic()
        return cp

    def _save(self, tx: Tx, signed: list[tuple[Checkpoint, str]]) -> None:
        if self.key is None:
            signed = []
        frontier = self.frontier
        if frontier is None:
            raise RuntimeError("the audit log was not loaded")
        save_checkpoints(tx, signed)
        tx.execute(
            "INSERT INTO audit_state (name, tree_size, frontier, checkpoint_size) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
            "tree_size = excluded.tree_size, frontier = excluded.frontier, "
            "checkpoint_size = excluded.checkpoint_size",
            (self.name, frontier.size, frontier.dump(), self.checkpoint_size),
        )

    def wants_tick(self) -> bool:
        return (
            self.key is not None
            and self.frontier is not None
            and self.frontier.size > max(self.checkpoint_size, self.ahead_max)
            and time.monotonic() - self.last_checkpoint >= self.interval
        )

    def tick(self, tx: Tx) -> None:
        self._save(tx, [(self._sign(), "interval")])


def save_checkpoints(tx: Tx, signed: Sequence[tuple[Checkpoint, str]]) -> None:
    tx.executemany(
        "INSERT INTO audit_checkpoints (tree_size, root_hash, timestamp, signature, "
        "key_id, reason) VALUES (%s, %s, %s, %s, %s, %s) "
        "ON CONFLICT (tree_size, timestamp, key_id) DO NOTHING",
        [
            (cp.tree_size, cp.root_hash, cp.timestamp, cp.signature, cp.key_id, why)
            for cp, why in signed
        ],
    )


def stored_checkpoints(tx: Tx, *, above: int = -1) -> list[Checkpoint]:
    rows = tx.all(
        f"SELECT {', '.join(CHECKPOINT_COLUMNS)} FROM audit_checkpoints "
        "WHERE tree_size > %s ORDER BY tree_size, timestamp",
        (above,),
    )
    return [
        Checkpoint(int(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4])) for r in rows
    ]


def describe(event: EventRecord) -> str:
    return (
        f"notification {event.notification_id}: {event.topic} of "
        f"{event.originator_id} version {event.originator_version}"
    )


# ------------------------------------------------------------------ queries
def checkpoints(store: ReadStore) -> list[dict[str, Any]]:
    with store.read() as tx:
        rows = tx.all(
            f"SELECT {', '.join(CHECKPOINT_COLUMNS)}, reason FROM audit_checkpoints "
            "ORDER BY tree_size, timestamp"
        )
    return [dict(zip((*CHECKPOINT_COLUMNS, "reason"), r, strict=True)) for r in rows]


def packet_events(store: ReadStore, packet_id: str) -> list[dict[str, Any]]:
    """Every stored event of a packet with actor, time, type, data and leaf hash.

    Events come from the event store itself; the leaf hash (and leaf index) from
    the audit log, null for an event the audit projection has not reached yet.
    """
    pid = uuid.UUID(str(packet_id))
    stored = store.app.recorder.select_events(pid)
    with store.read() as tx:
        leaves = {
            int(r[0]): (int(r[1]), int(r[2]), str(r[3]))
            for r in tx.all(
                "SELECT originator_version, leaf_index, notification_id, leaf_hash "
                "FROM audit_log WHERE originator_id = %s",
                (str(pid),),
            )
        }
    items = []
    for s in stored:
        data = decode_state(bytes(s.state))
        leaf = leaves.get(s.originator_version)
        items.append(
            {
                "version": s.originator_version,
                "type": s.topic,
                "actor": data.get("actor"),
                "actor_kind": data.get("actor_kind"),
                "at": data.get("timestamp"),
                "data": data,
                "notification_id": leaf[1] if leaf else None,
                "leaf_index": leaf[0] if leaf else None,
                "leaf_hash": leaf[2] if leaf else None,
            }
        )
    return items

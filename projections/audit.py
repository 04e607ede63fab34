"""The audit log, the Merkle tree over the whole event log, signed checkpoints,
and export/verify of one packet's history.

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

import base64
import binascii
import dataclasses
import hashlib
import json
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from projections import events as ev
from projections.driver import Projection
from projections.events import (
    EventRecord,
    decode_state,
    record_leaf,
)
from projections.events import canonical_json as fast_canonical_json
from projections.merkle import (
    EMPTY_ROOT,
    Checkpoint,
    MerkleLog,
    key_id,
    node_hash,
    public_key_raw,
    sign_checkpoint,
    utc_timestamp,
    verify_checkpoint,
    verify_inclusion,
)
from projections.store import ReadStore, Session, Tx
from workspace.errors import NotFoundError, StateError
from workspace.hashing import canonical_json
from workspace.revision_texts import expand

EXPORT_FORMAT = "quire-audit-export/v1"
CHECKPOINT_TOPICS = (ev.REVISION_CUT, ev.RELEASE_APPROVED)
READ_CHUNK = 5000


class AuditMismatchError(StateError):
    """The event log no longer matches what the audit log recorded or signed."""

    code = "AUDIT_MISMATCH"


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


# ------------------------------------------------------------------- export
@dataclass(frozen=True)
class ExportSummary:
    packet_id: str
    events: int
    tree_size: int
    root_hash: str
    key_id: str
    new_checkpoint: bool


def _audit_rows(tx: Tx, size: int) -> Iterator[tuple[int, int, str]]:
    for start in range(0, size, READ_CHUNK):
        for r in tx.all(
            "SELECT leaf_index, notification_id, leaf_hash FROM audit_log "
            "WHERE leaf_index >= %s AND leaf_index < %s ORDER BY leaf_index",
            (start, min(size, start + READ_CHUNK)),
        ):
            yield int(r[0]), int(r[1]), str(r[2])


def _raw_events(store: ReadStore, session: Session, upto: int) -> Iterator[EventRecord]:
    after = 0
    while after < upto:
        until = min(upto, after + READ_CHUNK)
        yield from store.read_events(session, after, until)
        after = until


def recompute_log(
    store: ReadStore, session: Session, tx: Tx, keep: str | None = None
) -> tuple[MerkleLog, list[Checkpoint], list[tuple[int, EventRecord]]]:
    """Recomputes every leaf from the event table and checks it.

    Each leaf must equal the one the audit log recorded; every stored
    checkpoint must match the recomputed root at its size. Raises
    AuditMismatchError naming the first event (or checkpoint) that does not.
    Returns the tree, the checkpoints, and the (leaf index, event) pairs of
    the originator `keep`.
    """
    kept: list[tuple[int, EventRecord]] = []
    row = tx.one("SELECT tree_size FROM audit_state WHERE name = %s", ("audit_log",))
    size = int(row[0]) if row else 0
    last = tx.one(
        "SELECT notification_id FROM audit_log WHERE leaf_index = %s", (size - 1,)
    )
    raw = _raw_events(store, session, int(last[0]) if last else 0)
    leaves: list[bytes] = []
    for index, nid, recorded in _audit_rows(tx, size):
        event = next(raw, None)
        details = {"leaf_index": index, "notification_id": nid}
        if event is None or event.notification_id > nid:
            raise AuditMismatchError(
                "AUDIT_MISMATCH",
                f"leaf {index} (notification {nid}) was removed from the event "
                "log after the audit log recorded it",
                details,
            )
        if event.notification_id < nid:
            raise AuditMismatchError(
                "AUDIT_MISMATCH",
                f"{describe(event)} was inserted into the event log before leaf "
                f"{index} after the audit log recorded it",
                details,
            )
        leaf = event.leaf()
        if leaf.hex() != recorded:
            raise AuditMismatchError(
                "AUDIT_MISMATCH",
                f"leaf {index} ({describe(event)}) was altered in the database "
                "after the audit log recorded it",
                {
                    **details,
                    "originator_id": event.originator_id,
                    "originator_version": event.originator_version,
                },
            )
        leaves.append(leaf)
        if event.originator_id == keep:
            kept.append((index, event))
    extra = next(raw, None)
    if extra is not None:
        raise AuditMismatchError(
            "AUDIT_MISMATCH",
            f"{describe(extra)} is in the event log but not in the audit log: "
            "an event was inserted",
            {"notification_id": extra.notification_id},
        )
    log = MerkleLog(leaves)
    return log, check_checkpoints(tx, log), kept


def check_checkpoints(tx: Tx, log: MerkleLog) -> list[Checkpoint]:
    """Every stored checkpoint within the tree must match its root."""
    stored = [cp for cp in stored_checkpoints(tx) if cp.tree_size <= log.size]
    previous = 0
    for cp in stored:
        if cp.root_hash != log.root(cp.tree_size).hex():
            raise AuditMismatchError(
                "AUDIT_MISMATCH",
                f"the checkpoint of tree size {cp.tree_size} signed at "
                f"{cp.timestamp} does not match the event log: an event among "
                f"leaves [{previous}, {cp.tree_size}) was altered, removed or "
                "reordered",
                {"tree_size": cp.tree_size, "timestamp": cp.timestamp},
            )
        previous = cp.tree_size
    return stored


def recorded_log(
    store: ReadStore, session: Session, tx: Tx, packet_id: str
) -> tuple[MerkleLog, list[Checkpoint], list[tuple[int, EventRecord]]]:
    """The tree of the leaves the audit log recorded, checked against every
    stored checkpoint, and the packet's events recomputed from the event
    table and checked against their recorded leaves.

    Cost: one hash per leaf of the log, and reading the packet's events only
    (`recompute_log` re-reads the whole event table).
    """
    row = tx.one("SELECT tree_size FROM audit_state WHERE name = %s", ("audit_log",))
    size = int(row[0]) if row else 0
    log = MerkleLog(bytes.fromhex(leaf) for _, _, leaf in _audit_rows(tx, size))
    recorded = {
        int(r[0]): (int(r[1]), int(r[2]), str(r[3]))
        for r in tx.all(
            "SELECT originator_version, leaf_index, notification_id, leaf_hash "
            "FROM audit_log WHERE originator_id = %s AND leaf_index < %s",
            (packet_id, size),
        )
    }
    last = max(recorded, default=0)
    stored = [
        e
        for e in store.originator_events(session, packet_id, recorded)
        if e.originator_version <= last
    ]
    kept: list[tuple[int, EventRecord]] = []
    for event in stored:
        found = recorded.pop(event.originator_version, None)
        if found is None:
            raise AuditMismatchError(
                "AUDIT_MISMATCH",
                f"{describe(event)} is in the event log but not in the audit log: "
                "an event was inserted",
                {"notification_id": event.notification_id},
            )
        index, nid, leaf = found
        if event.notification_id != nid or event.leaf().hex() != leaf:
            raise AuditMismatchError(
                "AUDIT_MISMATCH",
                f"leaf {index} ({describe(event)}) was altered in the database "
                "after the audit log recorded it",
                {
                    "leaf_index": index,
                    "notification_id": nid,
                    "originator_id": event.originator_id,
                    "originator_version": event.originator_version,
                },
            )
        kept.append((index, event))
    if recorded:
        version = min(recorded)
        index, nid, _ = recorded[version]
        raise AuditMismatchError(
            "AUDIT_MISMATCH",
            f"leaf {index} (notification {nid}: version {version} of {packet_id}) "
            "was removed from the event log after the audit log recorded it",
            {"leaf_index": index, "notification_id": nid},
        )
    return log, check_checkpoints(tx, log), kept


def export_packet(
    store: ReadStore,
    session: Session,
    packet_id: str,
    key: Ed25519PrivateKey,
    out: IO[str],
    *,
    full: bool = False,
) -> ExportSummary:
    """Writes a packet's verifiable history as JSON Lines (see verify_export).

    First checks the log: the packet's events are recomputed from the event
    table and compared with the leaves the audit log recorded, and the tree
    of recorded leaves with every stored checkpoint. `full` recomputes every
    leaf of the whole log from the event table instead (slower, O(log)).
    """
    try:
        pid = str(uuid.UUID(str(packet_id)))
    except ValueError:
        raise NotFoundError("PACKET_NOT_FOUND", f"no packet {packet_id}") from None
    public = public_key_raw(key)
    kid = key_id(public)
    with session.snapshot() as tx:
        if full:
            log, stored, kept = recompute_log(store, session, tx, keep=pid)
        else:
            log, stored, kept = recorded_log(store, session, tx, pid)
    if not kept or not kept[0][1].is_packet_event:
        raise NotFoundError(
            "PACKET_NOT_FOUND",
            f"no packet {packet_id} in the audit log (is the worker running?)",
        )
    needed = kept[-1][0] + 1
    ours = [cp for cp in stored if cp.key_id == kid]
    checkpoint = ours[-1] if ours else None
    if checkpoint is not None and not verify_checkpoint(checkpoint, public):
        raise AuditMismatchError(
            "AUDIT_MISMATCH",
            f"the checkpoint of tree size {checkpoint.tree_size} signed at "
            f"{checkpoint.timestamp} has a bad signature",
        )
    new = checkpoint is None or checkpoint.tree_size < needed
    if checkpoint is None or new:
        checkpoint = sign_checkpoint(key, log.size, log.root(), utc_timestamp())
        with store.transaction() as wtx:
            save_checkpoints(wtx, [(checkpoint, "export")])
    size = checkpoint.tree_size
    root = checkpoint.root_hash
    statement = {
        "format": EXPORT_FORMAT,
        "packet_id": pid,
        "events": len(kept),
        "first_version": 1,
        "last_version": kept[-1][1].originator_version,
        "tree_size": size,
        "root_hash": root,
        "key_id": kid,
        "exported_at": utc_timestamp(),
    }
    header = {
        "type": "header",
        **statement,
        "signature": base64.b64encode(key.sign(canonical_json(statement))).decode(
            "ascii"
        ),
    }
    out.write(_line(header))
    proofs = log.proofs([index for index, _ in kept], size)
    for (index, event), proof in zip(kept, proofs, strict=True):
        out.write(
            _line(
                {
                    "type": "event",
                    "leaf_index": index,
                    "leaf_hash": log.leaf(index).hex(),
                    "record": event.record(),
                    "data": event.data,
                    "proof": [h.hex() for h in proof],
                }
            )
        )
    out.write(_line({"type": "checkpoint", **dataclasses.asdict(checkpoint)}))
    out.write(
        _line(
            {
                "type": "public_key",
                "algorithm": "ed25519",
                "key": base64.b64encode(public).decode("ascii"),
                "key_id": kid,
            }
        )
    )
    return ExportSummary(pid, len(kept), size, root, kid, new)


def _line(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n"


# ------------------------------------------------------------------- verify
@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str
    line: int | None = None
    events: int = 0


class _Bad(Exception):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _b64(value: object, what: str, line: int) -> bytes:
    if not isinstance(value, str):
        raise _Bad(line, f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _Bad(line, f"{what} is not valid base64") from None


def verify_export(lines: Sequence[str], pinned_key: bytes | None = None) -> Verdict:
    """Checks an export offline. Never raises on bad input; names the first bad
    record (by line number) when anything was altered, removed, reordered or
    inserted. `pinned_key` (raw 32-byte Ed25519) is the log's key obtained out
    of band; without it the key inside the file is trusted and reported."""
    try:
        return _verify(lines, pinned_key)
    except _Bad as bad:
        where = f"line {bad.line}: " if bad.line else ""
        return Verdict(False, where + bad.message, bad.line)


def _parse(lines: Sequence[str]) -> list[tuple[int, dict[str, Any]]]:
    parsed = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except ValueError:
            raise _Bad(number, "not valid JSON (the record was altered)") from None
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise _Bad(number, "not an export record")
        parsed.append((number, value))
    return parsed


def _verify(lines: Sequence[str], pinned_key: bytes | None) -> Verdict:
    records = _parse(lines)
    if len(records) < 3:
        raise _Bad(None, "too short to be an export (header, checkpoint, key)")
    (hline, header), *body, (cline, cp_line), (kline, key_line) = records
    if header["type"] != "header" or header.get("format") != EXPORT_FORMAT:
        raise _Bad(hline, f"the first record is not a {EXPORT_FORMAT} header")
    if cp_line["type"] != "checkpoint":
        raise _Bad(cline, "the record before the last is not the checkpoint")
    if key_line["type"] != "public_key" or key_line.get("algorithm") != "ed25519":
        raise _Bad(kline, "the last record is not the Ed25519 public key")

    public = _b64(key_line.get("key"), "the public key", kline)
    if len(public) != 32 or key_line.get("key_id") != key_id(public):
        raise _Bad(kline, "the public key or its key id is malformed")
    if pinned_key is not None and public != pinned_key:
        raise _Bad(kline, "the export is signed by another key than the pinned one")

    fields: dict[str, Any] = {
        f.name: cp_line.get(f.name) for f in dataclasses.fields(Checkpoint)
    }
    checkpoint = Checkpoint(**fields)
    if not verify_checkpoint(checkpoint, public):
        raise _Bad(cline, "the checkpoint's signature does not verify")
    root = bytes.fromhex(checkpoint.root_hash)
    size = checkpoint.tree_size

    statement = {k: v for k, v in header.items() if k not in ("type", "signature")}
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(
            _b64(header.get("signature"), "the header signature", hline),
            canonical_json(statement),
        )
    except (InvalidSignature, ValueError, TypeError):
        raise _Bad(hline, "the header's signature does not verify") from None
    if header.get("tree_size") != size or header.get("root_hash") != (
        checkpoint.root_hash
    ):
        raise _Bad(hline, "the header names another checkpoint than the file's")
    packet_id = header.get("packet_id")
    expected_count = header.get("events")

    version = 1
    previous_index = -1
    cuts: dict[int, str] = {}
    stored: dict[int, dict[str, Any]] = {}
    for number, line in body:
        _check_event(line, number, packet_id, version, previous_index, size, root)
        record = line["record"]
        data = line["data"]
        _check_meaning(record["topic"], data, cuts, number, stored)
        previous_index = line["leaf_index"]
        version += 1
    found = version - 1
    if found != expected_count or header.get("last_version") != found:
        raise _Bad(
            hline,
            f"the signed header lists {expected_count} events of the packet, "
            f"the file holds {found}: events were removed or inserted",
        )
    return Verdict(
        True,
        f"intact: {found} events of packet {packet_id} are in the log of "
        f"{size} events with root {checkpoint.root_hash} "
        f"(checkpoint {checkpoint.timestamp}, key {checkpoint.key_id})",
        None,
        found,
    )


def _check_event(
    line: dict[str, Any],
    number: int,
    packet_id: object,
    version: int,
    previous_index: int,
    size: int,
    root: bytes,
) -> None:
    if line["type"] != "event":
        raise _Bad(number, f"unexpected {line['type']!r} record among the events")
    record = line.get("record")
    if not isinstance(record, dict):
        raise _Bad(number, "the event has no record")
    index = line.get("leaf_index")
    if not isinstance(index, int) or isinstance(index, bool):
        raise _Bad(number, "the event has no leaf index")
    if record.get("originator_id") != packet_id:
        raise _Bad(
            number,
            f"the event belongs to {record.get('originator_id')!r}, not to the "
            "exported packet (an event was inserted)",
        )
    found = record.get("originator_version")
    if found != version:
        raise _Bad(
            number,
            f"expected version {version} of the packet, found {found!r}: "
            "an event was removed, inserted or reordered",
        )
    if index <= previous_index:
        raise _Bad(number, f"leaf {index} is out of order: events were reordered")
    try:
        leaf = record_leaf(record)
    except Exception:
        raise _Bad(number, "the event record cannot be canonicalised") from None
    if line.get("leaf_hash") not in (None, leaf.hex()):
        raise _Bad(
            number,
            f"version {version}: the record does not hash to its leaf hash "
            "(the event was altered)",
        )
    proof_hex = line.get("proof")
    try:
        proof = [bytes.fromhex(h) for h in proof_hex or []]
    except (TypeError, ValueError):
        raise _Bad(number, "the inclusion proof is malformed") from None
    if not verify_inclusion(leaf, index, size, proof, root):
        raise _Bad(
            number,
            f"version {version} (leaf {index}) is not in the checkpointed log: "
            "the event was altered",
        )
    state = _b64(record.get("state"), "the recorded state", number)
    try:
        decoded = decode_state(state)
    except ValueError:
        raise _Bad(number, "the recorded state is not JSON") from None
    if decoded != line.get("data"):
        raise _Bad(
            number,
            f"version {version}: the shown data differs from the recorded state "
            "(the event was altered)",
        )


def _check_meaning(
    topic: str,
    data: dict[str, Any],
    cuts: dict[int, str],
    number: int,
    stored: dict[int, dict[str, Any]] | None = None,
) -> None:
    """Approvals cover exactly the content shown: hashes recomputed offline.
    A cut's section texts may refer to an earlier cut of the same export
    (`stored`, by revision number: workspace/revision_texts.py)."""
    if topic == ev.REVISION_CUT:
        raw = data.get("content")
        content = raw
        if isinstance(raw, dict):
            earlier = {} if stored is None else stored
            try:
                content = expand(raw, lambda n: earlier[n])
            except (KeyError, ValueError, TypeError, zlib.error):
                raise _Bad(
                    number,
                    f"revision {data.get('number')}: a section text refers to a "
                    "revision missing from the export",
                ) from None
            if stored is not None and isinstance(data.get("number"), int):
                stored[data["number"]] = raw
        digest = "sha256:" + hashlib.sha256(fast_canonical_json(content)).hexdigest()
        if digest != data.get("content_hash"):
            raise _Bad(
                number,
                f"revision {data.get('number')}: the content does not hash to "
                "its content hash",
            )
        if isinstance(data.get("number"), int):
            cuts[data["number"]] = str(data.get("content_hash"))
    elif topic == ev.RELEASE_APPROVED:
        manifest = data.get("manifest")
        if manifest is not None and data.get("manifest_hash") is not None:
            digest = (
                "sha256:" + hashlib.sha256(fast_canonical_json(manifest)).hexdigest()
            )
            if digest != data.get("manifest_hash"):
                raise _Bad(
                    number,
                    f"release {data.get('release_id')}: the manifest does not "
                    "hash to its manifest hash",
                )
        revision = data.get("revision")
        if (
            isinstance(revision, int)
            and revision in cuts
            and data.get("content_hash") not in (None, cuts[revision])
        ):
            raise _Bad(
                number,
                f"release {data.get('release_id')} approves revision {revision} "
                "with another content hash than the revision shown",
            )

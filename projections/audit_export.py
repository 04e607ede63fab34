"""Export of one packet's history (`quire audit export`): every leaf is
recomputed from the event table (or, for a quick export, read from
`audit_log`) and checked against the stored leaves and signed checkpoints,
then JSON Lines are written: a signed header, the packet's events with
inclusion proofs against the latest checkpoint, the checkpoint, the public
key (projections/audit.py explains the tree; audit_verify.py checks a file).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
)

from projections import event_log
from projections.audit import (
    READ_CHUNK,
    AuditMismatchError,
    describe,
    save_checkpoints,
    stored_checkpoints,
)
from projections.audit_verify import EXPORT_FORMAT
from projections.checkpoints import (
    Checkpoint,
    key_id,
    public_key_raw,
    sign_checkpoint,
    utc_timestamp,
    verify_checkpoint,
)
from projections.events import (
    EventRecord,
)
from projections.merkle import MerkleLog
from projections.store import ReadStore, Session, Tx
from workspace.errors import NotFoundError
from workspace.hashing import canonical_json


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
        yield from event_log.read_events(store, session, after, until)
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
        for e in event_log.originator_events(store, session, packet_id, recorded)
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

"""Every packet's verifiable history in one file (`quire audit export --full`
without a packet id), and its offline check.

The file is the per-packet exports of projections/audit.py one after another
(each: header, events with proofs, checkpoint, public key), in the order the
packets were created. `verify_bundle` checks each on its own and fails on the
first that does not verify; after a restore from a backup, an intact bundle
says that no event of any packet was altered, removed or reordered.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from projections.audit_export import ExportSummary, export_packet
from projections.audit_verify import Verdict, verify_export
from projections.store import ReadStore, Session


@dataclass(frozen=True)
class BundleSummary:
    packets: list[ExportSummary]

    @property
    def events(self) -> int:
        return sum(p.events for p in self.packets)


def packet_ids(session: Session) -> list[str]:
    """Every packet the audit log holds, in the order they were created."""
    with session.read() as tx:
        rows = tx.all(
            "SELECT originator_id FROM audit_log WHERE originator_version = 1 "
            "AND packet_id = originator_id ORDER BY leaf_index"
        )
    return [str(row[0]) for row in rows]


def export_all(
    store: ReadStore,
    session: Session,
    key: Ed25519PrivateKey,
    out: IO[str],
    *,
    full: bool = False,
) -> BundleSummary:
    return BundleSummary(
        [
            export_packet(store, session, packet_id, key, out, full=full)
            for packet_id in packet_ids(session)
        ]
    )


def _is_header(line: str) -> bool:
    try:
        value = json.loads(line)
    except ValueError:
        return False
    return isinstance(value, dict) and value.get("type") == "header"


def verify_bundle(lines: Sequence[str], pinned_key: bytes | None = None) -> Verdict:
    """One export or several back to back; intact only when every one is.
    Line numbers in a failure are the file's."""
    starts = [i for i, line in enumerate(lines) if _is_header(line)]
    if len(starts) <= 1:
        return verify_export(lines, pinned_key)
    if starts[0] != 0 and any(line.strip() for line in lines[: starts[0]]):
        return Verdict(False, "line 1: the file does not start with a header", 1)
    events = 0
    for start, end in zip(starts, [*starts[1:], len(lines)], strict=True):
        verdict = verify_export(lines[start:end], pinned_key)
        if not verdict.ok:
            line = None if verdict.line is None else verdict.line + start
            message = verdict.message
            if verdict.line is not None:
                message = message.replace(f"line {verdict.line}:", f"line {line}:", 1)
            return Verdict(False, message, line)
        events += verdict.events
    return Verdict(
        True,
        f"intact: {len(starts)} packets, {events} events, each in the signed log",
        None,
        events,
    )

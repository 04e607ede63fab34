"""Offline verification of an audit export (`quire audit verify`): needs
nothing but this module, the Merkle helpers and the log's public key, and
names the first bad record when anything was altered, removed, reordered or
inserted."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PublicKey,
)

from projections import events as ev
from projections.checkpoints import Checkpoint, key_id, verify_checkpoint
from projections.events import canonical_json as fast_canonical_json
from projections.events import (
    decode_state,
    record_leaf,
)
from projections.merkle import verify_inclusion
from workspace.hashing import canonical_json
from workspace.revision_texts import expand

EXPORT_FORMAT = "quire-audit-export/v1"


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

"""Signed checkpoints of the audit Merkle tree (projections/merkle.py): a
statement "the log had this many leaves and this root at this time", signed
with the log's Ed25519 key, and the key file itself.

Checkpoint wire format (version 1) -- the exact bytes that are signed::

    quire-checkpoint/v1\\n
    <tree_size as decimal, no leading zeros>\\n
    <root hash as 64 lowercase hex digits>\\n
    <timestamp: ISO-8601 with a zero UTC offset, e.g. 2024-05-01T12:00:00Z>\\n

Every field is validated before signing or verifying so that one checkpoint
has exactly one encoding; otherwise two different-looking checkpoints could
share a signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from projections.merkle import HASH_SIZE, _is_hash, _require_count

__all__ = [
    "CHECKPOINT_HEADER",
    "Checkpoint",
    "checkpoint_message",
    "key_id",
    "load_or_create_private_key",
    "public_key_raw",
    "sign_checkpoint",
    "utc_timestamp",
    "verify_checkpoint",
]

CHECKPOINT_HEADER = "quire-checkpoint/v1"
"""First line of the signed checkpoint message; bump it if the format changes."""

_ED25519_KEY_SIZE = 32
_ED25519_SIG_SIZE = 64
# --------------------------------------------------------------------------
# Signed checkpoints
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Checkpoint:
    """A signed statement "the log had ``tree_size`` leaves and this root".

    Fields are plain strings/ints so a checkpoint serialises to JSON with
    :func:`dataclasses.asdict` and back with ``Checkpoint(**data)``.
    """

    tree_size: int
    root_hash: str
    """64 lowercase hex digits."""
    timestamp: str
    """ISO-8601 with a zero UTC offset, e.g. ``2024-05-01T12:00:00Z``."""
    signature: str
    """Standard base64 (with padding) of the 64-byte Ed25519 signature."""
    key_id: str
    """:func:`key_id` of the signing public key."""


def utc_timestamp(moment: datetime | None = None) -> str:
    """Format ``moment`` (default: now) as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC."""
    moment = datetime.now(UTC) if moment is None else moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _is_utc_timestamp(timestamp: object) -> bool:
    if not isinstance(timestamp, str) or not timestamp.isascii():
        return False
    if "\n" in timestamp or "\r" in timestamp:
        # A newline would let the timestamp impersonate extra message lines.
        return False
    try:
        parsed = datetime.fromisoformat(timestamp)
    except ValueError:
        return False
    # Naive timestamps are ambiguous across machines; require explicit UTC.
    return parsed.utcoffset() == timedelta(0)


def _is_root_hex(root_hex: object) -> bool:
    return (
        isinstance(root_hex, str)
        and len(root_hex) == 2 * HASH_SIZE
        and all(ch in "0123456789abcdef" for ch in root_hex)
    )


def checkpoint_message(tree_size: int, root_hex: str, timestamp: str) -> bytes:
    """The exact bytes signed for a checkpoint (format in the module docstring).

    Raises ValueError unless ``tree_size`` is a non-negative int, ``root_hex``
    is 64 lowercase hex digits and ``timestamp`` is ISO-8601 in UTC.
    """
    _require_count(tree_size, "tree_size")
    if not _is_root_hex(root_hex):
        raise ValueError("root_hex must be 64 lowercase hex digits")
    if not _is_utc_timestamp(timestamp):
        raise ValueError(f"timestamp {timestamp!r} is not ISO-8601 UTC")
    return f"{CHECKPOINT_HEADER}\n{tree_size}\n{root_hex}\n{timestamp}\n".encode(
        "ascii"
    )


def public_key_raw(private_key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte Ed25519 public key for ``private_key``."""
    return private_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )


def raw_key(text: str) -> bytes | None:
    """A raw 32-byte key written as hex or base64 (the form an auditor pins);
    None when the text is neither."""
    for decode in (bytes.fromhex, lambda v: base64.b64decode(v, validate=True)):
        try:
            raw = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == 32:
            return raw
    return None


def key_id(public_key_bytes: bytes) -> str:
    """Short key identifier: first 16 hex digits of SHA-256 of the raw key."""
    if not isinstance(public_key_bytes, bytes) or len(public_key_bytes) != 32:
        raise ValueError("expected a raw 32-byte Ed25519 public key")
    return hashlib.sha256(public_key_bytes).hexdigest()[:16]


def sign_checkpoint(
    private_key: Ed25519PrivateKey, tree_size: int, root: bytes, timestamp: str
) -> Checkpoint:
    """Sign (``tree_size``, ``root``, ``timestamp``) with ``private_key``."""
    if not _is_hash(root):
        raise ValueError(f"root must be a {HASH_SIZE}-byte hash")
    root_hex = root.hex()
    signature = private_key.sign(checkpoint_message(tree_size, root_hex, timestamp))
    return Checkpoint(
        tree_size=tree_size,
        root_hash=root_hex,
        timestamp=timestamp,
        signature=base64.b64encode(signature).decode("ascii"),
        key_id=key_id(public_key_raw(private_key)),
    )


def verify_checkpoint(cp: Checkpoint, public_key_bytes: bytes) -> bool:
    """True iff ``cp`` is well-formed and signed by ``public_key_bytes``.

    ``public_key_bytes`` is the raw 32-byte Ed25519 key, obtained out of band;
    ``cp.key_id`` must match it so a checkpoint cannot claim a different key.
    Never raises; anything malformed is ``False``.
    """
    try:
        if not isinstance(public_key_bytes, bytes) or len(public_key_bytes) != 32:
            return False
        if cp.key_id != key_id(public_key_bytes):
            return False
        message = checkpoint_message(cp.tree_size, cp.root_hash, cp.timestamp)
        if not isinstance(cp.signature, str):
            return False
        signature = base64.b64decode(cp.signature, validate=True)
        # Insist on the canonical encoding so the checkpoint has one spelling.
        if len(signature) != _ED25519_SIG_SIZE or (
            base64.b64encode(signature).decode("ascii") != cp.signature
        ):
            return False
        public_key = Ed25519PublicKey.from_public_bytes(public_key_bytes)
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError, TypeError, AttributeError):
        # binascii.Error (bad base64) is a ValueError subclass.
        return False
    return True


def _load_private_key(pem: bytes, path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} does not hold an Ed25519 private key")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Load the Ed25519 key at ``path``, creating it on first use.

    New keys are written as unencrypted PKCS#8 PEM with mode 0o600; missing
    parent directories are created (the innermost with mode 0o700).  The file
    is opened with O_EXCL, so two processes racing to create the key never
    overwrite each other: the loser loads the winner's key.  An existing file
    is loaded as is and must hold an Ed25519 key.
    """
    path = Path(path)
    try:
        return _load_private_key(path.read_bytes(), path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _load_private_key(path.read_bytes(), path)
    try:
        with os.fdopen(fd, "wb") as handle:
            # The umask can only remove permission bits, but set the mode
            # explicitly so the result never depends on the environment.
            os.fchmod(handle.fileno(), 0o600)
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        # Never leave a truncated key behind: the next start would fail to
        # load it instead of creating a fresh one.
        path.unlink(missing_ok=True)
        raise
    return key

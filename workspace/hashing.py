"""Content hashing: SHA-256 over RFC 8785 (JCS) canonical JSON."""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical bytes of a JSON value (sorted keys, no spaces)."""
    return bytes(rfc8785.dumps(value))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content_hash(content: Any) -> str:
    """The identity of an exact revision: 'sha256:<hex>' of its canonical JSON."""
    return "sha256:" + sha256_hex(canonical_json(content))

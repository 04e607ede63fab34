"""Tests for projections.merkle: RFC 6962 vectors, properties and checkpoints."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.checkpoints import (
    Checkpoint,
    checkpoint_message,
    key_id,
    load_or_create_private_key,
    public_key_raw,
    raw_key,
    sign_checkpoint,
    utc_timestamp,
    verify_checkpoint,
)
from projections.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root_hash,
    verify_consistency,
    verify_inclusion,
)

# --------------------------------------------------------------------------
# Certificate Transparency reference vectors (the 8-leaf tree used by the CT
# C++/Go reference implementations' merkle tree tests).
# --------------------------------------------------------------------------

CT_INPUTS = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
]
CT_LEAVES = [leaf_hash(data) for data in CT_INPUTS]

CT_LEAF_HASHES = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
]

# Expected MTH of the first n leaves, n = 1..8.
CT_ROOTS = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# (leaf index, tree size, audit path)
CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (0, 1, []),
]

# (old size, new size, consistency proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


def _hexes(hashes: list[bytes]) -> list[str]:
    return [value.hex() for value in hashes]


def _unhex(hexes: list[str]) -> list[bytes]:
    return [bytes.fromhex(value) for value in hexes]


def test_leaf_and_node_hash_domain_separation() -> None:
    assert _hexes(CT_LEAVES) == CT_LEAF_HASHES
    # Level-one node over leaves 0 and 1 of the CT tree.
    assert node_hash(CT_LEAVES[0], CT_LEAVES[1]).hex() == CT_ROOTS[1]
    assert leaf_hash(b"ab") != node_hash(b"a", b"b")


def test_empty_tree_root_is_sha256_of_empty_string() -> None:
    expected = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_hash([]).hex() == expected
    assert EMPTY_ROOT.hex() == expected
    assert MerkleLog().root().hex() == expected


@pytest.mark.parametrize("size", range(1, 9))
def test_ct_roots(size: int) -> None:
    assert root_hash(CT_LEAVES[:size]).hex() == CT_ROOTS[size - 1]
    log = MerkleLog(CT_LEAVES)
    assert log.root(size).hex() == CT_ROOTS[size - 1]


@pytest.mark.parametrize(("index", "size", "path"), CT_INCLUSION)
def test_ct_inclusion_proofs(index: int, size: int, path: list[str]) -> None:
    assert _hexes(inclusion_proof(CT_LEAVES[:size], index)) == path
    assert _hexes(MerkleLog(CT_LEAVES).proof(index, size)) == path
    root = bytes.fromhex(CT_ROOTS[size - 1])
    assert verify_inclusion(CT_LEAVES[index], index, size, _unhex(path), root)


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_ct_consistency_proofs(old: int, new: int, proof: list[str]) -> None:
    assert _hexes(consistency_proof(CT_LEAVES[:new], old)) == proof
    assert _hexes(MerkleLog(CT_LEAVES).consistency_proof(old, new)) == proof
    old_root = bytes.fromhex(CT_ROOTS[old - 1])
    new_root = bytes.fromhex(CT_ROOTS[new - 1])
    assert verify_consistency(old, new, old_root, new_root, _unhex(proof))


def test_audit_path_does_not_bind_tree_size() -> None:
    # Inherent in RFC 6962: leaf 0's path in the 3-leaf tree has the same
    # shape as in a 4-leaf tree, so it also "verifies" with size 4.  This is
    # why auditors must take tree sizes from signed checkpoints.
    proof = inclusion_proof(CT_LEAVES[:3], 0)
    root = root_hash(CT_LEAVES[:3])
    assert verify_inclusion(CT_LEAVES[0], 0, 4, proof, root)
    assert not verify_inclusion(CT_LEAVES[0], 0, 5, proof, root)


def test_large_tree_is_fast_and_iterative() -> None:
    leaves = [leaf_hash(i.to_bytes(4, "big")) for i in range(50_000)]
    started = time.perf_counter()
    root = root_hash(leaves)
    elapsed = time.perf_counter() - started
    # Typically ~50 ms; the bound is loose so a busy CI box does not flake.
    assert elapsed < 1.0
    log = MerkleLog(leaves)
    assert log.root() == root
    index = 31_337
    proof = log.proof(index)
    assert proof == inclusion_proof(leaves, index)
    assert verify_inclusion(leaves[index], index, len(leaves), proof, root)
    old_root = log.root(12_345)
    consistency = log.consistency_proof(12_345)
    assert verify_consistency(12_345, len(leaves), old_root, root, consistency)


# --------------------------------------------------------------------------
# Independent reference: RFC 6962 §2.1 recursions, transcribed literally.
# --------------------------------------------------------------------------


def _ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_ref_mth(leaves[:k]), _ref_mth(leaves[k:]))


def _ref_path_sides(leaves: list[bytes], m: int) -> list[bool]:
    """For PATH(m, D[n]): is each sibling (bottom-up) on the left?"""
    if len(leaves) <= 1:
        return []
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    if m < k:
        return [*_ref_path_sides(leaves[:k], m), False]
    return [*_ref_path_sides(leaves[k:], m - k), True]


def _ref_proof(leaves: list[bytes], m: int) -> list[bytes]:
    def subproof(m: int, d: list[bytes], whole: bool) -> list[bytes]:
        if m == len(d):
            return [] if whole else [_ref_mth(d)]
        k = 1
        while k * 2 < len(d):
            k *= 2
        if m <= k:
            return [*subproof(m, d[:k], whole), _ref_mth(d[k:])]
        return [*subproof(m - k, d[k:], False), _ref_mth(d[:k])]

    return subproof(m, leaves, True)


# Unique leaves: with duplicate leaf hashes a proof can legitimately verify at
# another index (two identical leaves are interchangeable).
leaf_lists = st.lists(st.binary(max_size=8), min_size=1, max_size=40, unique=True).map(
    lambda items: [leaf_hash(item) for item in items]
)
FAST = settings(max_examples=60, deadline=None)


@FAST
@given(leaf_lists)
def test_root_matches_reference_and_incremental_log(leaves: list[bytes]) -> None:
    log = MerkleLog()
    assert log.root() == EMPTY_ROOT
    for count, value in enumerate(leaves, start=1):
        assert log.append(value) == count - 1
        assert log.size == count
        # Calling root() twice exercises the cache after each append.
        assert log.root() == root_hash(leaves[:count])
        assert log.root() == _ref_mth(leaves[:count])
    for size in range(len(leaves) + 1):
        assert log.root(size) == root_hash(leaves[:size])


@FAST
@given(leaf_lists)
def test_every_inclusion_proof_verifies(leaves: list[bytes]) -> None:
    log = MerkleLog(leaves)
    root = root_hash(leaves)
    for index, value in enumerate(leaves):
        proof = inclusion_proof(leaves, index)
        assert log.proof(index) == proof
        assert len(proof) == len(_ref_path_sides(leaves, index))
        assert verify_inclusion(value, index, len(leaves), proof, root)


@FAST
@given(leaf_lists, st.data())
def test_log_proofs_against_historical_sizes(
    leaves: list[bytes], data: st.DataObject
) -> None:
    log = MerkleLog(leaves)
    size = data.draw(st.integers(1, len(leaves)), label="tree_size")
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = log.proof(index, size)
    assert proof == inclusion_proof(leaves[:size], index)
    assert verify_inclusion(leaves[index], index, size, proof, log.root(size))


@FAST
@given(leaf_lists, st.data())
def test_tampered_inclusion_proofs_fail(
    leaves: list[bytes], data: st.DataObject
) -> None:
    size = len(leaves)
    index = data.draw(st.integers(0, size - 1), label="index")
    proof = inclusion_proof(leaves, index)
    root = root_hash(leaves)
    leaf = leaves[index]
    assert verify_inclusion(leaf, index, size, proof, root)

    def flip(value: bytes) -> bytes:
        position = data.draw(st.integers(0, len(value) - 1), label="byte")
        mask = data.draw(st.integers(1, 255), label="mask")
        return (
            value[:position] + bytes([value[position] ^ mask]) + value[position + 1 :]
        )

    if proof:
        which = data.draw(st.integers(0, len(proof) - 1), label="element")
        bad = [*proof[:which], flip(proof[which]), *proof[which + 1 :]]
        assert not verify_inclusion(leaf, index, size, bad, root)
        assert not verify_inclusion(leaf, index, size, proof[:-1], root)
    assert not verify_inclusion(flip(leaf), index, size, proof, root)
    assert not verify_inclusion(leaf, index, size, proof, flip(root))
    assert not verify_inclusion(leaf, index, size, [*proof, root], root)

    for other in range(size):
        if other != index:
            assert not verify_inclusion(leaf, other, size, proof, root)

    # A wrong size fails unless it induces exactly the same path shape, in
    # which case the verifier performs the very same hash computation (see
    # test_audit_path_does_not_bind_tree_size).  The shape comes from the
    # literal RFC 6962 recursion on a same-sized dummy tree.
    sides = _ref_path_sides(leaves, index)
    for wrong in range(size + 3):
        if wrong == size:
            continue
        same_shape = index < wrong and sides == _ref_path_sides([b""] * wrong, index)
        assert verify_inclusion(leaf, index, wrong, proof, root) == same_shape


@FAST
@given(leaf_lists, st.data())
def test_consistency_proofs_verify_between_random_sizes(
    leaves: list[bytes], data: st.DataObject
) -> None:
    new = data.draw(st.integers(0, len(leaves)), label="new_size")
    old = data.draw(st.integers(0, new), label="old_size")
    proof = consistency_proof(leaves[:new], old)
    if 0 < old < new:
        assert proof == _ref_proof(leaves[:new], old)
    log = MerkleLog(leaves)
    assert log.consistency_proof(old, new) == proof
    old_root, new_root = root_hash(leaves[:old]), root_hash(leaves[:new])
    assert verify_consistency(old, new, old_root, new_root, proof)

    # Swapping or corrupting either root, or any proof element, must fail.
    forged = leaf_hash(b"forged")
    if old_root != new_root:
        assert not verify_consistency(old, new, new_root, old_root, proof)
    assert not verify_consistency(old, new, forged, new_root, proof)
    if old > 0 or new == 0:
        # From the empty tree every non-empty tree is a valid extension, so
        # only then is there nothing to forge about the new root.
        assert not verify_consistency(old, new, old_root, forged, proof)
    for which in range(len(proof)):
        bad = [*proof[:which], forged, *proof[which + 1 :]]
        assert not verify_consistency(old, new, old_root, new_root, bad)
    if proof:
        assert not verify_consistency(old, new, old_root, new_root, proof[:-1])
    assert not verify_consistency(old, new, old_root, new_root, [*proof, forged])


@FAST
@given(leaf_lists, leaf_lists)
def test_consistency_fails_for_a_rewritten_history(
    leaves: list[bytes], suffix: list[bytes]
) -> None:
    # The log rewrites its last old leaf, then appends: an auditor holding the
    # old root must not accept the new tree as an extension of it.
    old = len(leaves)
    honest_old_root = root_hash(leaves)
    rewritten = [*leaves[:-1], leaf_hash(b"rewritten" + leaves[-1]), *suffix]
    new_root = root_hash(rewritten)
    proof = consistency_proof(rewritten, old)
    assert not verify_consistency(old, len(rewritten), honest_old_root, new_root, proof)


@pytest.mark.parametrize(
    "args",
    [
        (b"short", 0, 1, [], EMPTY_ROOT),
        (EMPTY_ROOT, 0, 1, [], b"short"),
        (EMPTY_ROOT, -1, 1, [], EMPTY_ROOT),
        (EMPTY_ROOT, 1, 1, [], EMPTY_ROOT),
        (EMPTY_ROOT, 0, 0, [], EMPTY_ROOT),
        (EMPTY_ROOT, True, 2, [EMPTY_ROOT], EMPTY_ROOT),
        (EMPTY_ROOT, 0, 2, [b"x" * 31], EMPTY_ROOT),
        (EMPTY_ROOT, 0, 2, "not a list", EMPTY_ROOT),
        (EMPTY_ROOT, 0, 2, None, EMPTY_ROOT),
        (None, None, None, None, None),
    ],
)
def test_verify_inclusion_rejects_malformed_input(args: tuple[object, ...]) -> None:
    assert verify_inclusion(*args) is False  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "args",
    [
        (2, 1, EMPTY_ROOT, EMPTY_ROOT, []),
        (-1, 1, EMPTY_ROOT, EMPTY_ROOT, []),
        (1, 2, EMPTY_ROOT, EMPTY_ROOT, []),
        (1, 2, b"short", EMPTY_ROOT, [EMPTY_ROOT]),
        (0, 3, CT_LEAVES[0], EMPTY_ROOT, []),
        (0, 3, EMPTY_ROOT, EMPTY_ROOT, [EMPTY_ROOT]),
        (2, 2, CT_LEAVES[0], CT_LEAVES[1], []),
        (2, 2, CT_LEAVES[0], CT_LEAVES[0], [CT_LEAVES[0]]),
        (1, 2, EMPTY_ROOT, EMPTY_ROOT, 42),
        (None, None, None, None, None),
    ],
)
def test_verify_consistency_rejects_malformed_input(args: tuple[object, ...]) -> None:
    assert verify_consistency(*args) is False  # type: ignore[arg-type]


def test_degenerate_consistency_cases() -> None:
    root = root_hash(CT_LEAVES)
    assert consistency_proof(CT_LEAVES, 0) == []
    assert consistency_proof(CT_LEAVES, 8) == []
    assert verify_consistency(0, 8, EMPTY_ROOT, root, [])
    assert verify_consistency(8, 8, root, root, [])
    with pytest.raises(ValueError):
        consistency_proof(CT_LEAVES, 9)
    with pytest.raises(ValueError):
        consistency_proof(CT_LEAVES, -1)


def test_generators_reject_bad_arguments() -> None:
    with pytest.raises(IndexError):
        inclusion_proof(CT_LEAVES, 8)
    with pytest.raises(IndexError):
        inclusion_proof([], 0)
    with pytest.raises(ValueError):
        root_hash([b"raw event bytes"])
    log = MerkleLog(CT_LEAVES)
    with pytest.raises(ValueError):
        log.append(b"raw")
    with pytest.raises(IndexError):
        log.proof(3, tree_size=3)
    with pytest.raises(ValueError):
        log.proof(0, tree_size=9)
    with pytest.raises(ValueError):
        log.root(9)
    with pytest.raises(ValueError):
        log.consistency_proof(5, 4)
    assert log.leaf(3) == CT_LEAVES[3]
    assert len(log) == 8


# --------------------------------------------------------------------------
# Signed checkpoints and key handling
# --------------------------------------------------------------------------

TIMESTAMP = "2024-05-01T12:00:00Z"


@pytest.fixture(scope="module")
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def test_checkpoint_message_format() -> None:
    root_hex = CT_ROOTS[7]
    assert checkpoint_message(8, root_hex, TIMESTAMP) == (
        f"quire-checkpoint/v1\n8\n{root_hex}\n{TIMESTAMP}\n".encode()
    )


@pytest.mark.parametrize(
    ("size", "root_hex", "timestamp"),
    [
        (-1, CT_ROOTS[0], TIMESTAMP),
        (1, CT_ROOTS[0].upper(), TIMESTAMP),
        (1, CT_ROOTS[0][:-2], TIMESTAMP),
        (1, CT_ROOTS[0], "2024-05-01T12:00:00"),  # naive: no UTC offset
        (1, CT_ROOTS[0], "2024-05-01T14:00:00+02:00"),  # not UTC
        (1, CT_ROOTS[0], "yesterday"),
        (1, CT_ROOTS[0], TIMESTAMP + "\n1"),
    ],
)
def test_checkpoint_message_rejects_non_canonical_fields(
    size: int, root_hex: str, timestamp: str
) -> None:
    with pytest.raises(ValueError):
        checkpoint_message(size, root_hex, timestamp)


def test_checkpoint_round_trip(private_key: Ed25519PrivateKey) -> None:
    public = public_key_raw(private_key)
    assert len(public) == 32
    log = MerkleLog(CT_LEAVES)
    cp = sign_checkpoint(private_key, log.size, log.root(), TIMESTAMP)
    assert cp.tree_size == 8
    assert cp.root_hash == CT_ROOTS[7]
    assert cp.timestamp == TIMESTAMP
    assert cp.key_id == key_id(public)
    assert len(cp.key_id) == 16
    assert verify_checkpoint(cp, public)
    # JSON-style round trip through a plain dict.
    assert verify_checkpoint(Checkpoint(**dataclasses.asdict(cp)), public)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cp.tree_size = 9  # type: ignore[misc]


def test_utc_timestamp_is_accepted(private_key: Ed25519PrivateKey) -> None:
    stamp = utc_timestamp()
    assert stamp.endswith("Z")
    cp = sign_checkpoint(private_key, 0, EMPTY_ROOT, stamp)
    assert verify_checkpoint(cp, public_key_raw(private_key))


@pytest.mark.parametrize(
    "changes",
    [
        {"tree_size": 9},
        {"tree_size": 7},
        {"tree_size": "8"},
        {"root_hash": CT_ROOTS[6]},
        {"root_hash": CT_ROOTS[7].upper()},
        {"timestamp": "2024-05-01T12:00:01Z"},
        {"timestamp": "2024-05-01T12:00:00+00:00"},
        {"key_id": "0" * 16},
        {"signature": "not base64!"},
        {"signature": ""},
    ],
)
def test_tampered_checkpoint_fails(
    private_key: Ed25519PrivateKey, changes: dict[str, object]
) -> None:
    cp = sign_checkpoint(private_key, 8, bytes.fromhex(CT_ROOTS[7]), TIMESTAMP)
    tampered = dataclasses.replace(cp, **changes)  # type: ignore[arg-type]
    assert not verify_checkpoint(tampered, public_key_raw(private_key))


def test_checkpoint_fails_with_other_key_or_bad_signature(
    private_key: Ed25519PrivateKey,
) -> None:
    cp = sign_checkpoint(private_key, 8, bytes.fromhex(CT_ROOTS[7]), TIMESTAMP)
    other = Ed25519PrivateKey.generate()
    assert not verify_checkpoint(cp, public_key_raw(other))
    # Same key id but a signature by a different key.
    forged = sign_checkpoint(other, 8, bytes.fromhex(CT_ROOTS[7]), TIMESTAMP)
    relabelled = dataclasses.replace(forged, key_id=cp.key_id)
    assert not verify_checkpoint(relabelled, public_key_raw(private_key))
    assert not verify_checkpoint(cp, b"short")
    assert not verify_checkpoint(cp, "not bytes")  # type: ignore[arg-type]
    assert not verify_checkpoint(None, public_key_raw(private_key))  # type: ignore[arg-type]


def test_sign_checkpoint_rejects_bad_input(private_key: Ed25519PrivateKey) -> None:
    with pytest.raises(ValueError):
        sign_checkpoint(private_key, 1, b"short", TIMESTAMP)
    with pytest.raises(ValueError):
        sign_checkpoint(private_key, 1, EMPTY_ROOT, "2024-05-01 12:00")
    with pytest.raises(ValueError):
        key_id(b"short")


def test_key_file_created_then_reloaded(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "nested" / "checkpoint.pem"
    created = load_or_create_private_key(path)
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    reloaded = load_or_create_private_key(path)
    assert public_key_raw(reloaded) == public_key_raw(created)
    # A signature from the reloaded key verifies under the original public key.
    cp = sign_checkpoint(reloaded, 0, EMPTY_ROOT, TIMESTAMP)
    assert verify_checkpoint(cp, public_key_raw(created))


def test_key_file_mode_ignores_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        path = tmp_path / "k.pem"
        load_or_create_private_key(path)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_key_file_with_wrong_key_type_is_rejected(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError):
        load_or_create_private_key(path)


@settings(max_examples=25, deadline=None)
@given(size=st.integers(0, 2**63), root=st.binary(min_size=32, max_size=32))
def test_checkpoint_round_trip_property(size: int, root: bytes) -> None:
    key = Ed25519PrivateKey.generate()
    cp = sign_checkpoint(key, size, root, TIMESTAMP)
    assert verify_checkpoint(cp, public_key_raw(key))
    assert not verify_checkpoint(
        dataclasses.replace(cp, tree_size=size + 1), public_key_raw(key)
    )


def test_a_pinned_key_is_32_bytes_written_as_hex_or_base64() -> None:
    key = bytes(range(32))
    assert raw_key(key.hex()) == key
    assert raw_key(base64.b64encode(key).decode()) == key
    assert raw_key(key[:31].hex()) is None  # too short
    assert raw_key(base64.b64encode(key + b"x").decode()) is None  # too long
    assert raw_key("not a key") is None
    assert raw_key(base64.b64encode(key).decode() + "!") is None  # strict base64

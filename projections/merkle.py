"""RFC 6962 (Certificate Transparency) Merkle tree: hashes, proofs, verifiers.

Quire's event log is committed to by a Merkle tree so that auditors can check,
offline and with nothing but this module, that

* an event is in the log (inclusion proof / audit path, RFC 6962 §2.1.1),
* a later log is an append-only extension of an earlier one (consistency
  proof, RFC 6962 §2.1.2), and
* a given (tree size, root hash) pair was published by the log's key (an
  Ed25519-signed checkpoint).

Hashing follows RFC 6962 exactly, so any conforming CT tooling can cross-check
our roots and proofs: leaves are hashed as SHA-256(0x00 || data) and interior
nodes as SHA-256(0x01 || left || right).  The distinct prefixes provide domain
separation, so a leaf can never be passed off as an interior node (the second
preimage attack on naive Merkle trees).

Proof *generation* follows the recursive definitions of RFC 6962, unrolled into
loops; proof *verification* uses the bit-twiddling algorithms of RFC 9162
§2.1.3.2 and §2.1.4.2, which need only the sizes, the proof and the roots.
Every verifier returns ``False`` on malformed input instead of raising, because
its input comes from untrusted sources and callers should only have to handle
one outcome for "not proven".

Signed checkpoints (tree size, root, time; Ed25519) and the log's key file
are in projections/checkpoints.py.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Sequence
from typing import TypeGuard

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MerkleLog",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Size in bytes of every hash in the tree (SHA-256)."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) -- RFC 6962 defines the root of the empty tree as SHA-256 of ''."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# Computes MTH(D[start:end]) for the ranges that occur in RFC 6962's recursive
# definitions.  Proof generation is written once against this interface so the
# stateless functions (which hash leaves on demand) and MerkleLog (which looks
# up stored subtree roots) cannot drift apart.
_SubtreeRoot = Callable[[int, int], bytes]


# --------------------------------------------------------------------------
# Hashing primitives
# --------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """Return the RFC 6962 leaf hash SHA-256(0x00 || data)."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 6962 interior node hash SHA-256(0x01 || left || right)."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _is_hash(value: object) -> TypeGuard[bytes]:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _is_count(value: object) -> TypeGuard[int]:
    # bool is a subclass of int; True/False as a size or index is a caller bug.
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _require_hashes(leaf_hashes: Sequence[bytes]) -> None:
    # Passing raw event bytes instead of leaf hashes is an easy mistake that
    # would silently produce a tree nobody else can reproduce, so reject it.
    for position, value in enumerate(leaf_hashes):
        if not _is_hash(value):
            raise ValueError(
                f"leaf_hashes[{position}] is not a {HASH_SIZE}-byte hash; "
                "hash event data with leaf_hash() first"
            )


def _require_count(value: object, name: str) -> int:
    if not _is_count(value):
        raise ValueError(f"{name} must be a non-negative int, got {value!r}")
    return value


def _split_point(size: int) -> int:
    """Largest power of two strictly smaller than ``size`` (RFC 6962's k)."""
    return 1 << ((size - 1).bit_length() - 1)


# --------------------------------------------------------------------------
# Tree head and proofs over a list of leaf hashes
# --------------------------------------------------------------------------


def _range_root(leaf_hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH(D[start:end]), computed bottom-up one level at a time.

    Pairing neighbours left to right and promoting an unpaired last node
    unchanged yields exactly the tree of RFC 6962's "split at the largest power
    of two" recursion, without recursion depth limits and with a tight loop.
    """
    if start >= end:
        return EMPTY_ROOT
    sha256 = hashlib.sha256
    level = [leaf_hashes[i] for i in range(start, end)]
    while len(level) > 1:
        paired = [
            sha256(_NODE_PREFIX + level[i] + level[i + 1]).digest()
            for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _audit_path(subtree_root: _SubtreeRoot, index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) of RFC 6962 §2.1.1, unrolled.

    The recursion appends the sibling of each split *after* the deeper part of
    the path, so the siblings are gathered top-down and reversed at the end.
    """
    siblings: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        middle = start + _split_point(end - start)
        if index < middle:
            siblings.append(subtree_root(middle, end))
            end = middle
        else:
            siblings.append(subtree_root(start, middle))
            start = middle
    siblings.reverse()
    return siblings


def _consistency_path(
    subtree_root: _SubtreeRoot, old_size: int, new_size: int
) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 6962 §2.1.2, for 0 < old < new.

    Unrolls SUBPROOF(m, D[start:end], b); ``whole`` is the RFC's flag b, which
    stays true while the old tree is still a complete subtree of the new one
    (the verifier already knows that subtree's hash: it is the old root).
    """
    parts: list[bytes] = []
    start, end, m, whole = 0, new_size, old_size, True
    while m != end - start:
        k = _split_point(end - start)
        if m <= k:
            parts.append(subtree_root(start + k, end))
            end = start + k
        else:
            parts.append(subtree_root(start, start + k))
            start += k
            m -= k
            whole = False
    if not whole:
        parts.append(subtree_root(start, end))
    parts.reverse()
    return parts


def root_hash(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle Tree Hash MTH(D[n]) of RFC 6962 §2.1.

    ``leaf_hashes`` are leaf hashes (see :func:`leaf_hash`), not raw data.
    The empty tree's root is SHA-256 of the empty string.
    """
    _require_hashes(leaf_hashes)
    return _range_root(leaf_hashes, 0, len(leaf_hashes))


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """Return the audit path PATH(index, D[n]) of RFC 6962 §2.1.1.

    The path lists sibling hashes from the leaf upwards.  Costs O(n) hashing
    because subtree roots are recomputed; use :class:`MerkleLog` to serve many
    proofs.  Raises IndexError if ``index`` is not in ``range(len(leaf_hashes))``.
    """
    _require_hashes(leaf_hashes)
    if not _is_count(index) or index >= len(leaf_hashes):
        raise IndexError(f"leaf index {index!r} not in a tree of {len(leaf_hashes)}")
    return _audit_path(
        lambda start, end: _range_root(leaf_hashes, start, end),
        index,
        len(leaf_hashes),
    )


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """Return PROOF(old_size, D[n]) of RFC 6962 §2.1.2 for ``n = len(leaf_hashes)``.

    RFC 6962 only defines proofs for 0 < old_size < n.  The degenerate cases
    get an empty proof, matching what :func:`verify_consistency` accepts: the
    empty tree is a prefix of every tree, and a tree is consistent with itself.
    Raises ValueError if ``old_size`` is negative or larger than the tree.
    """
    _require_hashes(leaf_hashes)
    size = len(leaf_hashes)
    _require_count(old_size, "old_size")
    if old_size > size:
        raise ValueError(f"old_size {old_size} exceeds tree size {size}")
    if old_size in (0, size):
        return []
    return _consistency_path(
        lambda start, end: _range_root(leaf_hashes, start, end), old_size, size
    )


# --------------------------------------------------------------------------
# Verification (RFC 9162)
# --------------------------------------------------------------------------


def _hash_list(proof: object) -> list[bytes] | None:
    """The proof as a list if it is a sequence of well-formed hashes."""
    if isinstance(proof, str | bytes) or not isinstance(proof, Sequence):
        return None
    items = list(proof)
    if not all(_is_hash(item) for item in items):
        return None
    return items


def _well_formed(hashes: Sequence[object], counts: Sequence[object]) -> bool:
    """Whether each of `hashes` is a hash and each of `counts` a count: what
    a verifier is given comes from outside, whatever its annotations say."""
    return all(map(_is_hash, hashes)) and all(map(_is_count, counts))


def verify_inclusion(
    leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """Check that ``leaf`` (a leaf *hash*) is at ``index`` in the tree ``root``.

    Implements RFC 9162 §2.1.3.2.  Never raises; malformed input is ``False``.

    Note that the audit path does not authenticate ``tree_size`` by itself: for
    some sizes two different trees share the same path shape (e.g. index 0 of
    a 3-leaf and a 4-leaf tree).  Take the size from a verified checkpoint.
    """
    path = _hash_list(proof)
    if (
        path is None
        or not _well_formed((leaf, root), (index, tree_size))
        or index >= tree_size
    ):
        return False
    fn, sn = index, tree_size - 1
    computed = leaf
    sha256 = hashlib.sha256  # node_hash inlined: verifiers run once per event
    for sibling in path:
        if sn == 0:
            # The path is longer than the tree is deep.
            return False
        if fn & 1 or fn == sn:
            computed = sha256(_NODE_PREFIX + sibling + computed).digest()
            # Skip levels where this node is the lone right-edge node that was
            # promoted without a sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            computed = sha256(_NODE_PREFIX + computed + sibling).digest()
        fn >>= 1
        sn >>= 1
    # Roots are public values, but compare_digest costs nothing and keeps the
    # comparison style uniform for reviewers.
    return sn == 0 and hmac.compare_digest(computed, root)


def verify_consistency(
    old_size: int,
    new_size: int,
    old_root: bytes,
    new_root: bytes,
    proof: Sequence[bytes],
) -> bool:
    """Check that the tree ``new_root`` extends the tree ``old_root``.

    Implements RFC 9162 §2.1.4.2 for 0 < old_size < new_size.  Degenerate
    cases, which the RFC leaves open, are strict: old_size == new_size needs an
    empty proof and equal roots; old_size == 0 needs an empty proof and
    ``old_root`` equal to the empty-tree root.  Never raises.
    """
    path = _hash_list(proof)
    if (
        path is None
        or not _well_formed((old_root, new_root), (old_size, new_size))
        or old_size > new_size
    ):
        return False
    if old_size == 0:
        # Every tree extends the empty one; only the empty tree has size 0.
        return (
            not path
            and hmac.compare_digest(old_root, EMPTY_ROOT)
            and (new_size > 0 or hmac.compare_digest(new_root, EMPTY_ROOT))
        )
    if old_size == new_size:
        return not path and hmac.compare_digest(old_root, new_root)
    if not path:
        return False
    if old_size & (old_size - 1) == 0:
        # A power-of-two old tree is a complete subtree of the new one, so the
        # proof omits its hash: the verifier already has it as old_root.
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            old_computed = node_hash(node, old_computed)
            new_computed = node_hash(node, new_computed)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            new_computed = node_hash(new_computed, node)
        fn >>= 1
        sn >>= 1
    return (
        sn == 0
        and hmac.compare_digest(old_computed, old_root)
        and hmac.compare_digest(new_computed, new_root)
    )


# --------------------------------------------------------------------------
# Incremental log
# --------------------------------------------------------------------------


class MerkleLog:
    """An append-only Merkle tree over leaf hashes, kept incrementally.

    ``_levels[h][i]`` is the root of the complete subtree of ``2**h`` leaves
    starting at leaf ``i * 2**h``; ``_levels[0]`` are the leaf hashes.  Each
    append adds amortised O(1) hashes, and any tree size's root is the fold of
    the complete subtrees named by the bits of that size (its "frontier"), so
    ``root()`` is O(log n) for any historical size and O(1) once cached.
    Because every complete subtree is stored, proofs cost O(log² n) hashes
    rather than rehashing the log.  Storage is about twice the leaf hashes.
    """

    def __init__(self, leaf_hashes: Iterable[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        self._root: bytes | None = EMPTY_ROOT
        self.extend(leaf_hashes)

    def extend(self, leaf_hashes: Iterable[bytes]) -> None:
        """Append many leaf hashes: the same tree as appending one by one,
        built a level at a time (much faster for a whole log)."""
        new = list(leaf_hashes)
        if not new:
            return
        _require_hashes(new)
        sha256 = hashlib.sha256
        levels = self._levels
        levels[0].extend(new)
        height = 0
        # At each level, pair every node not yet paired with its left sibling.
        while len(levels[height]) > 1:
            below = levels[height]
            if height + 1 == len(levels):
                levels.append([])
            above = levels[height + 1]
            first = 2 * len(above)
            above.extend(
                sha256(_NODE_PREFIX + below[i] + below[i + 1]).digest()
                for i in range(first, len(below) - 1, 2)
            )
            height += 1
        self._root = None

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return len(self._levels[0])

    def __len__(self) -> int:
        return self.size

    def leaf(self, index: int) -> bytes:
        """The leaf hash stored at ``index``."""
        return self._levels[0][index]

    def append(self, leaf_hash: bytes) -> int:
        """Append a leaf hash (see :func:`leaf_hash`); return its index."""
        if not _is_hash(leaf_hash):
            raise ValueError(
                f"expected a {HASH_SIZE}-byte leaf hash; hash data with leaf_hash()"
            )
        levels = self._levels
        levels[0].append(leaf_hash)
        node, height = leaf_hash, 0
        # An even count at a level means the newest two nodes there now form a
        # complete subtree one level up -- binary-counter carry propagation.
        while len(levels[height]) % 2 == 0:
            node = node_hash(levels[height][-2], node)
            height += 1
            if height == len(levels):
                levels.append([])
            levels[height].append(node)
        self._root = None
        return len(levels[0]) - 1

    def root(self, tree_size: int | None = None) -> bytes:
        """Root of the first ``tree_size`` leaves (default: the whole log)."""
        if tree_size is None or tree_size == self.size:
            if self._root is None:
                self._root = self._subtree_root(0, self.size)
            return self._root
        return self._subtree_root(0, self._checked_size(tree_size))

    def proof(self, index: int, tree_size: int | None = None) -> list[bytes]:
        """Audit path for leaf ``index`` in the tree of the first ``tree_size``."""
        size = self.size if tree_size is None else self._checked_size(tree_size)
        if not _is_count(index) or index >= size:
            raise IndexError(f"leaf index {index!r} not in a tree of {size}")
        return _audit_path(self._subtree_root, index, size)

    def proofs(
        self, indexes: Iterable[int], tree_size: int | None = None
    ) -> list[list[bytes]]:
        """Audit paths for many leaves of the tree of the first ``tree_size``.

        Same result as :meth:`proof` for each index, in O(log n) per path
        instead of O(log² n): walking up from the leaf, a sibling is either a
        stored complete subtree or the root of the tree's ragged right edge at
        that height, computed once and shared by every path.
        """
        size = self.size if tree_size is None else self._checked_size(tree_size)
        edge: dict[int, bytes] = {}
        paths: list[list[bytes]] = []
        for index in indexes:
            if not _is_count(index) or index >= size:
                raise IndexError(f"leaf index {index!r} not in a tree of {size}")
            path: list[bytes] = []
            node, height = index, 0
            while (1 << height) < size:
                sibling = node ^ 1
                start = sibling << height
                if start < size:  # otherwise this node is promoted unpaired
                    if start + (1 << height) <= size:
                        path.append(self._levels[height][sibling])
                    else:
                        if height not in edge:
                            edge[height] = self._subtree_root(start, size)
                        path.append(edge[height])
                node >>= 1
                height += 1
            paths.append(path)
        return paths

    def consistency_proof(
        self, old_size: int, new_size: int | None = None
    ) -> list[bytes]:
        """Proof that the tree of ``new_size`` leaves extends that of ``old_size``.

        Same conventions as :func:`consistency_proof`.
        """
        size = self.size if new_size is None else self._checked_size(new_size)
        _require_count(old_size, "old_size")
        if old_size > size:
            raise ValueError(f"old_size {old_size} exceeds tree size {size}")
        if old_size in (0, size):
            return []
        return _consistency_path(self._subtree_root, old_size, size)

    def _checked_size(self, tree_size: int) -> int:
        _require_count(tree_size, "tree_size")
        if tree_size > self.size:
            raise ValueError(f"tree_size {tree_size} exceeds log size {self.size}")
        return tree_size

    def _subtree_root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) from stored complete subtrees.

        Valid for the ranges RFC 6962's recursion produces, where ``start`` is
        aligned to a power of two at least as large as ``end - start``.  Such a
        range splits greedily into complete subtrees of decreasing size, and
        its MTH folds them from the right.
        """
        if start >= end:
            return EMPTY_ROOT
        nodes: list[bytes] = []
        while start < end:
            height = (end - start).bit_length() - 1
            if start:
                # A stored subtree must also be aligned at its own size.
                height = min(height, (start & -start).bit_length() - 1)
            nodes.append(self._levels[height][start >> height])
            start += 1 << height
        acc = nodes.pop()
        while nodes:
            acc = node_hash(nodes.pop(), acc)
        return acc

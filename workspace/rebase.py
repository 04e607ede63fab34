"""Changesets over plain text and rebasing them over concurrently accepted edits.

An edit is a changeset: a sorted list of non-overlapping ops, all relative to the
same base text. The server accepts edits in order; a client edit made against an
older revision is rebased over every changeset accepted since, or rejected with
`RebaseConflict` when it touches text another accepted edit replaced.

Positions are `str` indices (Unicode code points), never bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from difflib import SequenceMatcher
from itertools import accumulate
from typing import TypedDict

__all__ = [
    "InvalidOps",
    "Op",
    "RebaseConflict",
    "apply_ops",
    "diff_to_ops",
    "rebase",
    "transform",
    "validate_ops",
]

# Middles up to this size are diffed per character; larger ones per line first,
# because SequenceMatcher is roughly quadratic in the worst case.
CHAR_DIFF_LIMIT = 5_000

_OP_KEYS = frozenset({"at", "delete", "insert"})


class Op(TypedDict):
    """Replace base[at:at + delete] with `insert`."""

    at: int
    delete: int
    insert: str


class RebaseConflict(Exception):
    """The edit overlaps a later accepted edit; carries which op clashed."""

    def __init__(self, op_index: int, against: Op) -> None:
        # Both values go to args so the exception survives pickling/copying.
        super().__init__(op_index, against)
        self.op_index = op_index
        self.against = against

    def __str__(self) -> str:
        a = self.against
        return (
            f"op {self.op_index} clashes with an accepted op at {a['at']} "
            f"(deleting {a['delete']}, inserting {len(a['insert'])} chars)"
        )


class InvalidOps(ValueError):
    """Ops are malformed for the given text."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return self.message


def _is_noop(op: Op) -> bool:
    return op["delete"] == 0 and op["insert"] == ""


def _field_int(item: dict[object, object], key: str, index: int) -> int:
    value = item[key]
    # bool is an int subclass; JSON `true` must not pass as position 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidOps("OPS_MALFORMED", f"op {index}: {key!r} must be an integer")
    if value < 0:
        raise InvalidOps(
            "OP_NEGATIVE_LENGTH", f"op {index}: {key!r} must not be negative"
        )
    return int(value)


def validate_ops(raw: object, text_length: int, max_ops: int = 1000) -> list[Op]:
    """Check untrusted ops against a text of `text_length` and normalize them.

    Returns fresh op dicts with no-ops dropped (adjacent ops are kept apart).
    No-ops are still shape- and range-checked, but ignored for ordering since
    they change nothing.
    """
    if not isinstance(raw, list):
        raise InvalidOps("OPS_MALFORMED", "ops must be a list")
    # Checked before looking at items so a huge payload is rejected cheaply.
    if len(raw) > max_ops:
        raise InvalidOps(
            "OPS_MALFORMED", f"too many ops: {len(raw)} (at most {max_ops} allowed)"
        )
    ops: list[Op] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidOps("OPS_MALFORMED", f"op {index} must be an object")
        keys = set(item)
        if keys != _OP_KEYS:
            missing = sorted(_OP_KEYS - keys)
            extra = sorted(map(repr, keys - _OP_KEYS))
            detail = "; ".join(
                part
                for part in (
                    f"missing {', '.join(missing)}" if missing else "",
                    f"unexpected {', '.join(extra)}" if extra else "",
                )
                if part
            )
            raise InvalidOps("OPS_MALFORMED", f"op {index}: {detail}")
        at = _field_int(item, "at", index)
        delete = _field_int(item, "delete", index)
        insert = item["insert"]
        if not isinstance(insert, str):
            raise InvalidOps("OPS_MALFORMED", f"op {index}: 'insert' must be a string")
        if at + delete > text_length:
            raise InvalidOps(
                "OP_OUT_OF_RANGE",
                f"op {index}: [{at}, {at + delete}) is beyond the text "
                f"(length {text_length})",
            )
        _keep(ops, Op(at=at, delete=delete, insert=str(insert)), index)
    return ops


def _keep(kept: list[Op], op: Op, index: int) -> None:
    """Appends op number `index` to the changeset `kept` unless it is a no-op
    (no-ops change nothing, so they do not count for ordering)."""
    if _is_noop(op):
        return
    if kept:
        _check_follows(kept[-1], op, index)
    kept.append(op)


def _check_follows(prev: Op, op: Op, index: int) -> None:
    if op["at"] < prev["at"] + prev["delete"]:
        raise InvalidOps(
            "OPS_UNORDERED",
            f"op {index} starts at {op['at']}, before the previous op ends at "
            f"{prev['at'] + prev['delete']}; ops must be sorted and not overlap",
        )
    if op["at"] == prev["at"] and prev["delete"] == 0 and op["delete"] == 0:
        # Their relative order would be ambiguous once rebased.
        raise InvalidOps(
            "OPS_UNORDERED",
            f"op {index} inserts at {op['at']} like the previous op; merge them",
        )


def _require_changeset(ops: Sequence[Op]) -> list[Op]:
    """Cheap sanity check for ops that should already be valid; drops no-ops."""
    kept: list[Op] = []
    for index, op in enumerate(ops):
        if op["at"] < 0 or op["delete"] < 0:
            raise InvalidOps("OP_NEGATIVE_LENGTH", f"op {index} has a negative field")
        _keep(kept, op, index)
    return kept


def apply_ops(text: str, ops: Sequence[Op]) -> str:
    """Apply a validated changeset to `text`.

    Joins slices once, so the cost is O(len(text) + total inserted), not
    O(len(text) * len(ops)) as repeated string splicing would be.
    """
    parts: list[str] = []
    cursor = 0
    for index, op in enumerate(ops):
        at, end = op["at"], op["at"] + op["delete"]
        # Slicing would silently produce garbage for bad ops, so refuse them.
        if at < cursor:
            raise InvalidOps("OPS_UNORDERED", f"op {index} starts before {cursor}")
        if end > len(text):
            raise InvalidOps("OP_OUT_OF_RANGE", f"op {index} ends beyond the text")
        parts.append(text[cursor:at])
        parts.append(op["insert"])
        cursor = end
    parts.append(text[cursor:])
    return "".join(parts)


# --- diffing -------------------------------------------------------------------


def _common_prefix_len(a: str, b: str) -> int:
    # Binary search comparing only the still-unknown chunk: C-speed slices
    # instead of a per-character Python loop, O(n) overall.
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix_len(a: str, b: str, limit: int) -> int:
    la, lb = len(a), len(b)
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[la - mid : la - lo] == b[lb - mid : lb - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _char_ops(a: str, b: str, offset: int) -> list[Op]:
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return [
        Op(at=offset + i1, delete=i2 - i1, insert=b[j1:j2])
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _line_ops(a: str, b: str, offset: int) -> list[Op]:
    lines_a = a.splitlines(keepends=True)
    lines_b = b.splitlines(keepends=True)
    starts_a = [0, *accumulate(map(len, lines_a))]
    starts_b = [0, *accumulate(map(len, lines_b))]
    # Default autojunk on purpose: without it, frequent lines (blank lines in a
    # long document) make SequenceMatcher quadratic; junk lines next to matches
    # are still absorbed into them.
    matcher = SequenceMatcher(None, lines_a, lines_b)
    ops: list[Op] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        ca1, ca2 = starts_a[i1], starts_a[i2]
        cb1, cb2 = starts_b[j1], starts_b[j2]
        # Refine each changed block so an edited line yields a word-sized op.
        ops.extend(_diff_region(a[ca1:ca2], b[cb1:cb2], offset + ca1, by_lines=False))
    return ops


def _diff_region(a: str, b: str, offset: int, *, by_lines: bool) -> list[Op]:
    prefix = _common_prefix_len(a, b)
    suffix = _common_suffix_len(a, b, min(len(a), len(b)) - prefix)
    mid_a = a[prefix : len(a) - suffix]
    mid_b = b[prefix : len(b) - suffix]
    at = offset + prefix
    if not mid_a and not mid_b:
        return []
    if not mid_a or not mid_b:
        return [Op(at=at, delete=len(mid_a), insert=mid_b)]
    if len(mid_a) <= CHAR_DIFF_LIMIT and len(mid_b) <= CHAR_DIFF_LIMIT:
        return _char_ops(mid_a, mid_b, at)
    if by_lines:
        return _line_ops(mid_a, mid_b, at)
    return [Op(at=at, delete=len(mid_a), insert=mid_b)]


def _absorb_short_equalities(old: str, ops: list[Op]) -> list[Op]:
    """Merge ops separated by an unchanged run no longer than the ops around it.

    A character diff of a rewritten sentence keeps stray shared letters, which
    would let a concurrent edit land between the fragments; one replacement
    reads as what the user did and conflicts as a whole (the same rule as
    diff-match-patch's semantic cleanup). Distant edits are never joined.
    """
    # Entries: (at, end, insert parts, inserted length); parts avoid quadratic
    # string concatenation when many fragments merge.
    stack: list[tuple[int, int, list[str], int]] = []
    for op in ops:
        at, end = op["at"], op["at"] + op["delete"]
        parts, inserted = [op["insert"]], len(op["insert"])
        while stack:
            p_at, p_end, p_parts, p_inserted = stack[-1]
            gap = at - p_end
            if gap > max(p_end - p_at, p_inserted) or gap > max(end - at, inserted):
                break
            stack.pop()
            p_parts.append(old[p_end:at])
            p_parts.extend(parts)
            at, parts, inserted = p_at, p_parts, p_inserted + gap + inserted
        stack.append((at, end, parts, inserted))
    return [
        Op(at=at, delete=end - at, insert="".join(parts)) for at, end, parts, _ in stack
    ]


def diff_to_ops(old: str, new: str) -> list[Op]:
    """Ops turning `old` into `new`, kept small and local.

    Locality matters: two users who changed different paragraphs of the same
    base must produce ops that do not overlap, so that both rebase cleanly.
    """
    if old == new:
        return []
    ops = _diff_region(old, new, 0, by_lines=True)
    return _absorb_short_equalities(old, ops)


# --- rebasing --------------------------------------------------------------------


def _transform(
    ops: Sequence[Op], origins: Sequence[int], against: Sequence[Op]
) -> tuple[list[Op], list[int]]:
    """Transform with `origins[i]` = index reported on conflict for `ops[i]`."""
    theirs = _require_changeset(against)
    result: list[Op] = []
    result_origins: list[int] = []
    j = 0  # first accepted op not entirely at or before the current position
    shift = 0  # net length change of the accepted ops before j
    for op, origin in zip(ops, origins, strict=True):
        if _is_noop(op):
            continue
        start, end = op["at"], op["at"] + op["delete"]
        # Ops ending at or before `start` (including pure inserts exactly at it)
        # land before ours: the accepted edit goes first.
        while j < len(theirs) and theirs[j]["at"] + theirs[j]["delete"] <= start:
            shift += len(theirs[j]["insert"]) - theirs[j]["delete"]
            j += 1
        nxt = theirs[j] if j < len(theirs) else None
        new_at = start + shift
        if op["delete"] == 0:
            if nxt is not None and nxt["at"] < start:
                raise RebaseConflict(origin, nxt)  # inside text they deleted
            if nxt is not None and nxt["at"] == start:
                # Their replacement starts here: our insert follows their text.
                new_at += len(nxt["insert"])
        elif nxt is not None and nxt["at"] < end:
            # Not entirely before us, and starting before our end: their deleted
            # range overlaps ours, or their insert falls strictly inside it.
            raise RebaseConflict(origin, nxt)
        new_op = Op(at=new_at, delete=op["delete"], insert=op["insert"])
        last = result[-1] if result else None
        if (
            last is not None
            and last["delete"] == 0
            and new_op["delete"] == 0
            and last["at"] == new_at
        ):
            # Two of our inserts around text they deleted now meet; a changeset
            # may not hold two inserts at one position.
            last["insert"] += new_op["insert"]
            continue
        result.append(new_op)
        result_origins.append(origin)
    return result, result_origins


def transform(ops: Sequence[Op], against: Sequence[Op]) -> list[Op]:
    """Rebase `ops` (on text T) over accepted `against` (also on T).

    Returns ops valid on `apply_ops(T, against)`. Inserts at the same position
    as theirs go after theirs; touching text they deleted or replaced raises
    `RebaseConflict` with the index of our op and the accepted op it hit.
    """
    mine = list(ops)
    _require_changeset(mine)
    result, _ = _transform(mine, range(len(mine)), against)
    return result


def rebase(ops: Sequence[Op], later: Sequence[Sequence[Op]]) -> list[Op]:
    """Rebase over several accepted changesets, in server order.

    On conflict, `op_index` refers to the caller's original `ops`, even if
    earlier steps dropped or merged ops.
    """
    mine = list(ops)
    _require_changeset(mine)
    current = [Op(at=op["at"], delete=op["delete"], insert=op["insert"]) for op in mine]
    origins: list[int] = list(range(len(mine)))
    for changeset in later:
        current, origins = _transform(current, origins, changeset)
    return current

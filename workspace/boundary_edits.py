"""The boundary check applied to an edit: which commitments it introduces.

An edit is a list of ops on a base text. The check runs on the sentences the
ops touch (from the sentence start before the first op to the sentence end
after the last, at most `REACH` characters either way), in the base text and
in the edited text; the flags of the edited window that the base window did
not already have are the edit's own (a phrase already in the section is not
blamed on whoever edits next to it). Cost: the window, not the section.

Agents' suggestions carry these flags (`SuggestionProposed.boundary_flags`)
and cannot be accepted without an override reason; a human's own edit is
flagged, never refused (`SectionTextEdited.boundary_flags`, the live `ack`
and the HTTP edit result).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

from workspace.boundary import Flag, check
from workspace.rebase import Op, apply_ops

#: How far beyond the edited range the window may reach to find a sentence.
REACH = 600
_END = re.compile(r"[.!?\n]")


def _window(text: str, start: int, end: int) -> str:
    low = max(0, start - REACH)
    before = text[low:start]
    cut = max(before.rfind(c) for c in ".!?\n")
    begin = low + cut + 1 if cut >= 0 else low
    after = _END.search(text, end, min(len(text), end + REACH))
    finish = after.end() if after else min(len(text), end + REACH)
    return text[begin:finish]


#: Windows up to this long are remembered (`_checked`).
CACHED_WINDOW = 4 * REACH


@lru_cache(maxsize=1024)
def _checked_window(window: str) -> tuple[Flag, ...]:
    return tuple(check(window))


def _checked(window: str) -> Sequence[Flag]:
    """`check(window)`, remembered for short windows: typing in a sentence,
    one edit's edited window is the next edit's base window, so each
    keystroke's sentence is checked once, not twice (issue 18: the checks
    were about 40% of a live edit's decision, by cProfile; typing words into a
    sentence, about half the windows are found here)."""
    if len(window) > CACHED_WINDOW:
        return check(window)
    return _checked_window(window)


def flags_introduced(base_text: str, ops: Sequence[Op]) -> list[dict[str, str]]:
    """`[{category, phrase}]` the edit adds to the text (none for a deletion
    that leaves no new commitment)."""
    if not ops:
        return []
    start = ops[0]["at"]
    old_end = ops[-1]["at"] + ops[-1]["delete"]
    delta = sum(len(op["insert"]) - op["delete"] for op in ops)
    new_text = apply_ops(base_text, ops)
    before = Counter(
        (f.category, f.phrase.lower())
        for f in _checked(_window(base_text, start, old_end))
    )
    found: list[dict[str, str]] = []
    for flag in _checked(_window(new_text, start, old_end + delta)):
        key = (flag.category, flag.phrase.lower())
        if before[key] > 0:
            before[key] -= 1
            continue
        found.append(flag.as_dict())
    return found

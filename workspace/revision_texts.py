"""How a revision's section texts are stored: once, and compressed when large.

A `RevisionCut` event carries its revision's content so readers need no fold.
Since class version 2, a section whose text is the same as in an earlier
revision is stored as a reference to the revision that holds it literally
(`"text_of": N`), and a literal text of at least `COMPRESS_FROM` bytes is
stored zlib-compressed and base64-encoded (`"text_z"`). The content hash is
always taken over the *expanded* content (plain `"text"`), so hashes, manifests
and every reader are unchanged; `expand` turns a stored content back into it.

Pure: no I/O. The references are one hop deep by construction (a reference
always names the revision holding the literal text), so `expand` reads at most
the revisions it names.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Mapping
from typing import Any

#: Literal texts this long or longer are stored compressed.
COMPRESS_FROM = 64 * 1024

#: section id -> [sha256 of its text, the revision number holding it literally]
#: (lists, not tuples: it is packet state, kept as plain JSON in snapshots)
TextIndex = dict[str, list[Any]]


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def compact(
    content: Mapping[str, Any], number: int, previous: Mapping[str, Any]
) -> tuple[dict[str, Any], TextIndex]:
    """The content as stored for revision `number`, and its text index.

    `previous` is the text index of the revision before (empty for the first,
    or when unknown: then every text is stored literally)."""
    stored = dict(content)
    index: TextIndex = {}
    sections = []
    for section in content.get("sections", []):
        text = section["text"]
        digest = text_digest(text)
        earlier = previous.get(section["id"])
        if earlier is not None and earlier[0] == digest:
            holder = int(earlier[1])
            sections.append(
                {"id": section["id"], "heading": section["heading"], "text_of": holder}
            )
        else:
            holder = number
            sections.append(_literal(section))
        index[section["id"]] = [digest, holder]
    if "sections" in content:
        stored["sections"] = sections
    return stored, index


def _literal(section: Mapping[str, Any]) -> dict[str, Any]:
    raw = section["text"].encode("utf-8")
    if len(raw) < COMPRESS_FROM:
        return dict(section)
    packed = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    return {"id": section["id"], "heading": section["heading"], "text_z": packed}


def index_of(
    stored: Mapping[str, Any], number: int, revisions: list[dict[str, Any]]
) -> TextIndex:
    """A stored content's text index (as `compact` made it), from the stored
    form alone and the earlier revision records' indexes (`texts`)."""
    index: TextIndex = {}
    for section in stored.get("sections", []):
        holder = section.get("text_of")
        if holder is not None:
            earlier = revisions[int(holder) - 1].get("texts", {}).get(section["id"])
            digest = earlier[0] if earlier else ""
            index[section["id"]] = [digest, int(holder)]
        else:
            index[section["id"]] = [text_digest(_text(section)), number]
    return index


def expand(
    stored: Mapping[str, Any], lookup: Callable[[int], Mapping[str, Any]]
) -> dict[str, Any]:
    """The revision's full content (what its hash covers) from its stored form;
    `lookup(N)` gives revision N's stored content (only for referenced ones)."""
    sections = stored.get("sections")
    if sections is None or all(
        "text_of" not in s and "text_z" not in s for s in sections
    ):
        return dict(stored)
    cache: dict[int, dict[str, Mapping[str, Any]]] = {}
    full = []
    for section in sections:
        holder = section.get("text_of")
        if holder is None:
            text = _text(section)
        else:
            if holder not in cache:
                cache[holder] = {
                    s["id"]: s for s in lookup(int(holder)).get("sections", [])
                }
            # The holder stores this section's text literally (by construction;
            # its other sections may refer further back).
            text = _text(cache[holder][section["id"]])
        full.append({"id": section["id"], "heading": section["heading"], "text": text})
    return {**stored, "sections": full}


def _text(section: Mapping[str, Any]) -> str:
    if "text_z" in section:
        return zlib.decompress(base64.b64decode(section["text_z"])).decode("utf-8")
    return str(section["text"])

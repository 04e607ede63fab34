"""Precision and recall of the boundary check on the labelled sentences.

    .venv/bin/python bench/bench_boundary.py [-v]

A sentence counts as flagged when the check finds any category in it; a true
positive also needs the labelled category among those found. Prints overall
and per-category figures, and with -v every miss.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workspace.boundary import CATEGORIES, categories

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
#: The set the rules were built on, and one written afterwards, never tuned on.
SETS = {"development": "boundary_sentences.tsv", "held-out": "boundary_heldout.tsv"}


def load(name: str = "boundary_sentences.tsv") -> list[tuple[str, str]]:
    rows = []
    for line in (DATA / name).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            label, sentence = line.split("\t", 1)
            rows.append((label, sentence))
    return rows


def measure(rows: list[tuple[str, str]]) -> dict[str, object]:
    tp = fp = fn = 0
    misses: list[str] = []
    per: dict[str, list[int]] = {c: [0, 0, 0] for c in CATEGORIES}
    for label, sentence in rows:
        found = categories(sentence)
        if label == "none":
            if found:
                fp += 1
                misses.append(f"false positive {sorted(found)}: {sentence}")
                for c in found:
                    per[c][1] += 1
        elif label in found:
            tp += 1
            per[label][0] += 1
            for c in found - {label}:
                per[c][1] += 1
        else:
            fn += 1
            per[label][2] += 1
            misses.append(f"missed {label} (found {sorted(found)}): {sentence}")
    return {
        "sentences": len(rows),
        "near_misses": sum(1 for label, _ in rows if label == "none"),
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
        "per_category": per,
        "misses": misses,
    }


def main() -> None:
    for title, name in SETS.items():
        report(title, measure(load(name)))


def report(title: str, result: dict[str, object]) -> None:
    print(
        f"{title}: {result['sentences']} sentences "
        f"({result['near_misses']} near misses): "
        f"precision {result['precision']:.3f}, recall {result['recall']:.3f}"
    )
    per = result["per_category"]
    assert isinstance(per, dict)
    for category, (tp, fp, fn) in per.items():
        p = tp / (tp + fp) if tp + fp else 1.0
        r = tp / (tp + fn) if tp + fn else 1.0
        print(f"  {category:28} precision {p:.3f}  recall {r:.3f}")
    if "-v" in sys.argv:
        misses = result["misses"]
        assert isinstance(misses, list)
        for miss in misses:
            print("  " + miss)


if __name__ == "__main__":
    main()

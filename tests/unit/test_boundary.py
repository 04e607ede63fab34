"""The boundary check flags commitments Quire must never make, and lets
reports of them through; measured on labelled sentences."""

from __future__ import annotations

import pytest

from bench.bench_boundary import load, measure
from workspace.boundary import CATEGORIES, check


def test_flags_name_the_category_and_the_exact_phrase() -> None:
    flags = check("Great news. We approve a 15% service credit for March!")
    assert [f.as_dict() for f in flags] == [
        {
            "category": "concession_recommendation",
            "phrase": "approve a 15% service credit",
        }
    ]


@pytest.mark.parametrize(
    "text",
    [
        "The customer requested a 15% service credit.",
        "Quire does not approve credits.",
        "Should we offer a credit at all?",
        "Finance must approve any concession downstream.",
    ],
)
def test_reports_questions_and_negations_are_not_flagged(text: str) -> None:
    assert check(text) == []


def test_one_text_can_cross_several_boundaries() -> None:
    text = (
        "Approve the 7-day service credit, email the customer the offer, "
        "and assign a dedicated engineer to the account."
    )
    assert {f.category for f in check(text)} == {
        "concession_recommendation",
        "customer_communication",
        "staffing_commitment",
    }


def test_flags_are_bounded() -> None:
    text = "Email the customer now. " * 100
    assert len(check(text, limit=5)) == 5


def test_every_category_has_labelled_sentences_on_both_sides() -> None:
    rows = load()
    labels = {label for label, _ in rows}
    assert labels == {*CATEGORIES, "none"}
    assert len(rows) >= 200
    assert sum(1 for label, _ in rows if label == "none") >= len(rows) / 2


@pytest.mark.parametrize(
    ("name", "precision", "recall"),
    [
        # The rules were built on this set: it shows what they were meant to do.
        ("boundary_sentences.tsv", 0.97, 0.97),
        # Written after tuning and never tuned on: what to expect of new text.
        ("boundary_heldout.tsv", 0.9, 0.85),
    ],
)
def test_precision_and_recall_on_labelled_sentences(
    name: str, precision: float, recall: float
) -> None:
    result = measure(load(name))
    assert result["precision"] >= precision, result["misses"]
    assert result["recall"] >= recall, result["misses"]

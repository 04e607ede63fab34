"""Changesets, diffing and rebasing of concurrent text edits (workspace.rebase)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workspace.rebase import (
    InvalidOps,
    Op,
    RebaseConflict,
    apply_ops,
    diff_to_ops,
    rebase,
    transform,
    validate_ops,
)

# Base text and each user's inserts use disjoint alphabets, so every character
# of a merged text can be traced back to where it came from.
BASE_ALPHABET = "abcde"
ACCEPTED_ALPHABET = "XYZ"
INCOMING_ALPHABET = "123"

FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def op(at: int, delete: int = 0, insert: str = "") -> Op:
    return Op(at=at, delete=delete, insert=insert)


@st.composite
def changesets(draw: st.DrawFn, text: str, alphabet: str) -> list[Op]:
    """A valid changeset on `text`: sorted, non-overlapping, no no-ops."""
    ops: list[Op] = []
    cursor = 0
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(cursor, len(text)))
        delete = draw(st.integers(0, min(len(text) - at, 4)))
        insert = draw(st.text(alphabet, max_size=3))
        if delete == 0 and insert == "":
            continue
        if ops and delete == 0 and ops[-1]["delete"] == 0 and ops[-1]["at"] == at:
            continue  # two inserts at one spot are not a valid changeset
        ops.append(op(at, delete, insert))
        cursor = at + delete
    return ops


@st.composite
def concurrent_edits(draw: st.DrawFn) -> tuple[str, list[Op], list[Op]]:
    """A base text, an accepted edit and an incoming edit, both made on it."""
    base = draw(st.text(BASE_ALPHABET, max_size=16))
    accepted = draw(changesets(base, ACCEPTED_ALPHABET))
    incoming = draw(changesets(base, INCOMING_ALPHABET))
    return base, accepted, incoming


def deleted_positions(ops: list[Op]) -> set[int]:
    return {i for o in ops for i in range(o["at"], o["at"] + o["delete"])}


def inserted(ops: list[Op]) -> str:
    return "".join(o["insert"] for o in ops)


def only(chars: str, text: str) -> str:
    return "".join(c for c in text if c in chars)


def merge(base: str, accepted: list[Op], incoming: list[Op]) -> str:
    """The server's view: the accepted edit first, then the rebased incoming one."""
    return apply_ops(apply_ops(base, accepted), transform(incoming, accepted))


# --- validate_ops ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        pytest.param([op(-1)], "OP_NEGATIVE_LENGTH", id="negative-at"),
        pytest.param([op(0, -1)], "OP_NEGATIVE_LENGTH", id="negative-delete"),
        pytest.param([op(3, 8)], "OP_OUT_OF_RANGE", id="delete-past-the-end"),
        pytest.param([op(11, 0, "x")], "OP_OUT_OF_RANGE", id="insert-past-the-end"),
        pytest.param([op(5, 1), op(2, 1)], "OPS_UNORDERED", id="unsorted"),
        pytest.param([op(2, 3), op(4, 1)], "OPS_UNORDERED", id="overlapping"),
        pytest.param(
            [op(2, 0, "a"), op(2, 0, "b")], "OPS_UNORDERED", id="two-inserts-same-spot"
        ),
        pytest.param(
            [op(2, 2, "a"), op(2, 0, "b")], "OPS_UNORDERED", id="insert-inside-replace"
        ),
        pytest.param(
            [{"at": "1", "delete": 0, "insert": "x"}], "OPS_MALFORMED", id="str-at"
        ),
        pytest.param(
            [{"at": 1.0, "delete": 0, "insert": "x"}], "OPS_MALFORMED", id="float-at"
        ),
        pytest.param(
            [{"at": True, "delete": 0, "insert": "x"}], "OPS_MALFORMED", id="bool-at"
        ),
        pytest.param(
            [{"at": 1, "delete": False, "insert": "x"}],
            "OPS_MALFORMED",
            id="bool-delete",
        ),
        pytest.param([{"at": 1, "insert": "x"}], "OPS_MALFORMED", id="missing-key"),
        pytest.param(
            [{"at": 1, "delete": 0, "insert": "x", "by": "ann"}],
            "OPS_MALFORMED",
            id="extra-key",
        ),
        pytest.param(
            [{"at": 1, "delete": 0, "insert": 5}], "OPS_MALFORMED", id="non-str-insert"
        ),
        pytest.param([[1, 0, "x"]], "OPS_MALFORMED", id="op-not-an-object"),
        pytest.param({"at": 1, "delete": 0, "insert": "x"}, "OPS_MALFORMED", id="dict"),
        pytest.param((op(1, 0, "x"),), "OPS_MALFORMED", id="tuple-not-list"),
        pytest.param(None, "OPS_MALFORMED", id="none"),
        pytest.param([op(i, 0, "x") for i in range(4)], "OPS_MALFORMED", id="too-many"),
    ],
)
def test_malformed_edits_are_rejected_with_a_stable_code(raw: Any, code: str) -> None:
    with pytest.raises(InvalidOps) as caught:
        validate_ops(raw, text_length=10, max_ops=3)
    assert caught.value.code == code
    assert str(caught.value)  # a human-readable reason for the API response


def test_too_many_ops_says_so_and_the_limit_itself_is_fine() -> None:
    with pytest.raises(InvalidOps, match="too many ops"):
        validate_ops([op(i, 0, "x") for i in range(4)], 10, max_ops=3)
    assert len(validate_ops([op(i, 0, "x") for i in range(3)], 10, max_ops=3)) == 3


def test_valid_edit_is_normalized_without_merging_neighbours() -> None:
    raw: list[Any] = [
        op(0, 0, ""),  # no-op: dropped
        op(0, 2, "Hi"),
        op(2, 0, "!"),  # adjacent to the previous op: kept separate
        op(5, 0, ""),
        op(10, 0, " end"),  # inserting at the very end is in range
    ]
    assert validate_ops(raw, 10) == [op(0, 2, "Hi"), op(2, 0, "!"), op(10, 0, " end")]


def test_insert_then_replace_at_the_same_spot_is_a_valid_edit() -> None:
    assert validate_ops([op(3, 0, "a"), op(3, 2, "b")], 10) == [
        op(3, 0, "a"),
        op(3, 2, "b"),
    ]


def test_validated_ops_are_fresh_copies() -> None:
    raw = [op(1, 1, "x")]
    validated = validate_ops(raw, 5)
    validated[0]["insert"] = "changed"
    assert raw[0]["insert"] == "x"


def test_empty_edit_is_valid_and_changes_nothing() -> None:
    assert validate_ops([], 0) == []
    assert apply_ops("same", []) == "same"


# --- apply_ops -------------------------------------------------------------------


def test_applying_a_changeset_replaces_every_range_of_the_base_text() -> None:
    text = "The quick brown fox"
    ops = [op(4, 5, "slow"), op(10, 5, "red"), op(19, 0, "!")]
    assert apply_ops(text, ops) == "The slow red fox!"


def test_positions_count_code_points_not_bytes() -> None:
    assert apply_ops("héllo 👋 wörld", [op(6, 1, "🌍")]) == "héllo 🌍 wörld"


def test_applying_refuses_ops_that_would_silently_garble_text() -> None:
    with pytest.raises(InvalidOps):
        apply_ops("abcdef", [op(3, 1), op(1, 1)])
    with pytest.raises(InvalidOps):
        apply_ops("abc", [op(2, 5)])


@FAST
@given(st.data())
def test_any_valid_changeset_applies_like_splicing_one_range_at_a_time(
    data: st.DataObject,
) -> None:
    text = data.draw(st.text(max_size=30))
    ops = data.draw(changesets(text, "xyz"))
    expected = text
    for o in reversed(ops):  # back to front, so earlier positions stay put
        expected = expected[: o["at"]] + o["insert"] + expected[o["at"] + o["delete"] :]
    assert apply_ops(text, ops) == expected


# --- diff_to_ops -----------------------------------------------------------------


@FAST
@given(st.text(max_size=60), st.text(max_size=60))
def test_diff_of_any_two_texts_reproduces_the_new_text(old: str, new: str) -> None:
    ops = diff_to_ops(old, new)
    assert apply_ops(old, ops) == new
    assert validate_ops(ops, len(old)) == ops


@FAST
@given(st.text("ab \n", max_size=40), st.text("ab \n", max_size=40))
def test_diff_of_repetitive_texts_reproduces_the_new_text(old: str, new: str) -> None:
    ops = diff_to_ops(old, new)
    assert apply_ops(old, ops) == new
    assert validate_ops(ops, len(old)) == ops


@FAST
@given(st.data())
def test_diff_of_a_lightly_edited_text_reproduces_it(data: st.DataObject) -> None:
    old = data.draw(st.text(max_size=60))
    new = apply_ops(old, data.draw(changesets(old, "xyzé\n")))
    ops = diff_to_ops(old, new)
    assert apply_ops(old, ops) == new
    assert validate_ops(ops, len(old)) == ops


@pytest.mark.parametrize("seed", range(6))
def test_diff_of_long_documents_goes_line_by_line_and_still_reproduces_them(
    seed: int,
) -> None:
    rng = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "\n", "\n\n", "ünï", "😀"]
    old = " ".join(rng.choice(words) for _ in range(3000))
    assert len(old) > 5_000
    chars = list(old)
    for _ in range(rng.randint(1, 12)):
        at = rng.randrange(len(chars))
        chars[at : at + rng.randint(0, 40)] = rng.choice(words) * rng.randint(0, 3)
    new = "".join(chars)
    ops = diff_to_ops(old, new)
    assert apply_ops(old, ops) == new
    assert validate_ops(ops, len(old), max_ops=10_000) == ops


def test_identical_texts_need_no_ops() -> None:
    assert diff_to_ops("", "") == []
    assert diff_to_ops("same text", "same text") == []


def test_diff_from_and_to_empty_text_is_a_single_op() -> None:
    assert diff_to_ops("", "hello") == [op(0, 0, "hello")]
    assert diff_to_ops("hello", "") == [op(0, 5, "")]


def test_fixing_one_word_yields_one_small_op() -> None:
    assert diff_to_ops("The cat sat on the mat.", "The cat sat on the hat.") == [
        op(19, 1, "h")
    ]


def test_rewritten_sentence_becomes_one_replacement_not_letter_fragments() -> None:
    # Stray shared letters would otherwise let a concurrent edit slip between
    # the fragments of a sentence the user rewrote as a whole.
    assert diff_to_ops("The quick brown fox.", "A slow red dog.") == [
        op(0, 19, "A slow red dog")
    ]


def test_large_document_with_scattered_changes_diffs_quickly_and_locally() -> None:
    paragraphs = [
        f"Paragraph {i}: the quick brown fox jumps over the lazy dog.\n\n"
        for i in range(3500)
    ]
    old = "".join(paragraphs)
    assert len(old) > 200_000
    edited = list(paragraphs)
    edited[10] = edited[10].replace("quick", "slow")
    edited[1800] = edited[1800].replace("lazy", "sleepy")
    edited[3400] = "A brand new paragraph.\n\n" + edited[3400]
    new = "".join(edited)

    started = time.perf_counter()
    ops = diff_to_ops(old, new)
    elapsed = time.perf_counter() - started

    assert apply_ops(old, ops) == new
    assert len(ops) == 3
    assert all(o["delete"] <= 5 and len(o["insert"]) <= 30 for o in ops)
    assert elapsed < 2.0  # generous; quadratic behaviour would take far longer


def test_long_single_line_change_is_still_reproduced() -> None:
    # No newlines to diff by and too long for a character diff: one big op.
    old = "x" * 12_000
    new = "y" + old[1:6_000] + "z" + old[6_000:-1] + "w"
    ops = diff_to_ops(old, new)
    assert apply_ops(old, ops) == new


# --- transform: conflicts and placement ------------------------------------------


def test_inserts_at_the_same_place_both_survive_in_server_order() -> None:
    base = "hello"
    accepted = [op(2, 0, "X")]
    incoming = [op(2, 0, "Y")]
    assert merge(base, accepted, incoming) == "heXYllo"


def test_insert_at_the_start_of_a_replaced_range_goes_after_the_new_text() -> None:
    base = "one two three"
    accepted = [op(4, 3, "2")]
    assert transform([op(4, 0, "[")], accepted) == [op(5, 0, "[")]
    assert merge(base, accepted, [op(4, 0, "[")]) == "one 2[ three"


def test_insert_right_after_a_deleted_range_lands_where_it_ended() -> None:
    base = "one two three"
    accepted = [op(4, 4, "")]
    assert merge(base, accepted, [op(8, 0, ">")]) == "one >three"


def test_edits_later_in_the_text_shift_by_what_the_accepted_edit_added() -> None:
    base = "one two three"
    accepted = [op(0, 3, "ONE!!")]
    incoming = [op(8, 5, "3")]
    assert transform(incoming, accepted) == [op(10, 5, "3")]
    assert merge(base, accepted, incoming) == "ONE!! two 3"


def test_edits_earlier_in_the_text_are_not_shifted() -> None:
    assert transform([op(0, 3, "1")], [op(8, 5, "3")]) == [op(0, 3, "1")]


def test_two_users_replacing_the_same_words_conflict() -> None:
    accepted = [op(4, 3, "2")]
    with pytest.raises(RebaseConflict) as caught:
        transform([op(0, 0, "<"), op(4, 3, "TWO")], accepted)
    assert caught.value.op_index == 1
    assert caught.value.against == op(4, 3, "2")


def test_two_users_rewriting_the_same_sentence_conflict() -> None:
    base = "Intro line.\n\nThe meeting is on Monday at ten.\n\nOutro line."
    sentence = "The meeting is on Monday at ten."
    accepted = diff_to_ops(base, base.replace(sentence, "We meet on Tuesday."))
    incoming = diff_to_ops(base, base.replace(sentence, "Monday is cancelled."))
    with pytest.raises(RebaseConflict):
        transform(incoming, accepted)


def test_partially_overlapping_deletions_conflict() -> None:
    with pytest.raises(RebaseConflict):
        transform([op(2, 4)], [op(5, 3)])
    with pytest.raises(RebaseConflict):
        transform([op(5, 3)], [op(2, 4)])


def test_insert_inside_text_someone_else_deleted_conflicts() -> None:
    with pytest.raises(RebaseConflict) as caught:
        transform([op(5, 0, "x")], [op(3, 4, "")])
    assert caught.value.op_index == 0
    assert caught.value.against == op(3, 4, "")


def test_deleting_around_text_someone_else_inserted_conflicts() -> None:
    # Deleting would have to either drop their accepted text or keep a hole.
    with pytest.raises(RebaseConflict):
        transform([op(2, 5, "")], [op(4, 0, "new")])


def test_inserts_at_the_edges_of_a_deletion_do_not_conflict() -> None:
    base = "0123456789"
    accepted = [op(2, 0, "<"), op(6, 0, ">")]
    incoming = [op(2, 4, "")]
    assert transform(incoming, accepted) == [op(3, 4, "")]
    assert merge(base, accepted, incoming) == "01<>6789"


def test_adjacent_deletions_by_two_users_both_apply() -> None:
    base = "0123456789"
    assert merge(base, [op(2, 3)], [op(5, 3)]) == "0189"
    assert merge(base, [op(5, 3)], [op(2, 3)]) == "0189"


def test_own_inserts_around_text_someone_deleted_merge_in_order() -> None:
    # After the deletion both inserts sit at one spot; a changeset may hold
    # only one insert per position, so they are joined in their original order.
    accepted = [op(3, 4, "")]
    rebased = transform([op(3, 0, "("), op(7, 0, ")")], accepted)
    assert rebased == [op(3, 0, "()")]
    assert apply_ops(apply_ops("0123456789", accepted), rebased) == "012()789"


def test_rebasing_drops_no_ops_and_keeps_conflict_indexes_of_the_original() -> None:
    ops = [op(0, 0, ""), op(1, 0, "a"), op(5, 0, "b")]
    assert transform(ops, []) == [op(1, 0, "a"), op(5, 0, "b")]
    with pytest.raises(RebaseConflict) as caught:
        transform(ops, [op(4, 2, "")])
    assert caught.value.op_index == 2


def test_rebase_conflict_and_invalid_ops_read_well_and_survive_copying() -> None:
    import copy

    conflict = RebaseConflict(3, op(1, 2, "x"))
    assert "op 3" in str(conflict)
    assert copy.copy(conflict).against == op(1, 2, "x")
    invalid = InvalidOps("OPS_UNORDERED", "ops must be sorted")
    assert str(invalid) == "ops must be sorted"
    assert isinstance(invalid, ValueError)
    assert copy.copy(invalid).code == "OPS_UNORDERED"


def test_transform_refuses_unsorted_ops_instead_of_misplacing_them() -> None:
    with pytest.raises(InvalidOps):
        transform([op(5, 1), op(1, 1)], [])
    with pytest.raises(InvalidOps):
        transform([], [op(5, 1), op(1, 1)])


# --- transform: properties --------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(concurrent_edits())
def test_concurrent_edits_that_do_not_conflict_keep_everything_both_users_wanted(
    edits: tuple[str, list[Op], list[Op]],
) -> None:
    base, accepted, incoming = edits
    try:
        rebased = transform(incoming, accepted)
    except RebaseConflict:
        return
    after_accepted = apply_ops(base, accepted)
    assert validate_ops(rebased, len(after_accepted)) == rebased
    result = apply_ops(after_accepted, rebased)

    # Nothing either user inserted is lost, and nothing else appears.
    assert sorted(only(ACCEPTED_ALPHABET, result)) == sorted(inserted(accepted))
    assert sorted(only(INCOMING_ALPHABET, result)) == sorted(inserted(incoming))
    # Every base character neither user deleted survives, in order.
    gone = deleted_positions(accepted) | deleted_positions(incoming)
    survivors = "".join(c for i, c in enumerate(base) if i not in gone)
    assert only(BASE_ALPHABET, result) == survivors
    # Each accepted insert stays in one piece: the incoming edit never splits it.
    for accepted_op in accepted:
        assert accepted_op["insert"] in result


@settings(max_examples=100, deadline=None)
@given(concurrent_edits())
def test_order_of_acceptance_only_matters_for_inserts_at_the_same_spot(
    edits: tuple[str, list[Op], list[Op]],
) -> None:
    base, first, second = edits
    outcomes: list[str | None] = []
    for accepted, incoming in ((first, second), (second, first)):
        try:
            outcomes.append(merge(base, accepted, incoming))
        except RebaseConflict:
            outcomes.append(None)
    # Conflicts are symmetric: whoever is accepted first, the other is rejected.
    assert (outcomes[0] is None) == (outcomes[1] is None)
    same_spot = any(
        a["at"] == b["at"] and a["insert"] and b["insert"]
        for a in first
        for b in second
    )
    if not same_spot:
        assert outcomes[0] == outcomes[1]


@FAST
@given(
    st.lists(st.text("ab .", min_size=1, max_size=12), min_size=2, max_size=5),
    st.data(),
)
def test_users_editing_different_paragraphs_both_land(
    paragraphs: list[str], data: st.DataObject
) -> None:
    first, second = data.draw(
        st.lists(
            st.integers(0, len(paragraphs) - 1), min_size=2, max_size=2, unique=True
        )
    )
    first_text = data.draw(st.text("ab .", max_size=12))
    second_text = data.draw(st.text("ab .", max_size=12))
    base = "\n\n".join(paragraphs)
    by_first = list(paragraphs)
    by_first[first] = first_text
    by_second = list(paragraphs)
    by_second[second] = second_text
    both = list(by_first)
    both[second] = second_text

    accepted = diff_to_ops(base, "\n\n".join(by_first))
    incoming = diff_to_ops(base, "\n\n".join(by_second))
    assert merge(base, accepted, incoming) == "\n\n".join(both)


def test_users_editing_different_paragraphs_of_a_real_text_both_land() -> None:
    base = (
        "Summary: the customer reports slow exports.\n\n"
        "Steps: open the report, click export, wait.\n\n"
        "Outcome: export takes ten minutes."
    )
    by_ann = base.replace("slow exports", "very slow CSV exports")
    by_bob = base.replace("ten minutes", "twelve minutes on average")
    accepted = diff_to_ops(base, by_ann)
    incoming = diff_to_ops(base, by_bob)
    assert merge(base, accepted, incoming) == (
        "Summary: the customer reports very slow CSV exports.\n\n"
        "Steps: open the report, click export, wait.\n\n"
        "Outcome: export takes twelve minutes on average."
    )


# --- rebase ----------------------------------------------------------------------


@FAST
@given(st.text(BASE_ALPHABET, max_size=12).flatmap(lambda t: changesets(t, "xy")))
def test_rebasing_over_nothing_changes_nothing(ops: list[Op]) -> None:
    assert rebase(ops, []) == ops


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_rebasing_over_several_edits_equals_transforming_one_at_a_time(
    data: st.DataObject,
) -> None:
    base = data.draw(st.text(BASE_ALPHABET, max_size=14))
    first = data.draw(changesets(base, ACCEPTED_ALPHABET))
    second = data.draw(changesets(apply_ops(base, first), "PQ"))
    incoming = data.draw(changesets(base, INCOMING_ALPHABET))
    try:
        stepwise: list[Op] | None = transform(transform(incoming, first), second)
    except RebaseConflict:
        stepwise = None
    if stepwise is None:
        with pytest.raises(RebaseConflict):
            rebase(incoming, [first, second])
    else:
        assert rebase(incoming, [first, second]) == stepwise


def test_rebase_reports_the_conflicting_op_by_its_index_in_the_original_edit() -> None:
    base = "0123456789"
    first = [op(3, 4, "")]  # joins the incoming inserts at 3 and 7 into one op
    second = [op(5, 0, "!")]
    incoming = [op(3, 0, "("), op(7, 0, ")"), op(8, 2, "X")]
    assert apply_ops(apply_ops(base, first), second) == "01278!9"
    with pytest.raises(RebaseConflict) as caught:
        rebase(incoming, [first, second])
    assert caught.value.op_index == 2
    assert caught.value.against == op(5, 0, "!")

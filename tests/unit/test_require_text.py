"""`require_text`: the one check of every titled or texted field in the domain,
behind the API's own (so a caller of the application gets the same codes)."""

from __future__ import annotations

import pytest

from workspace.domain import require_text, text_fault
from workspace.errors import InvalidInputError


def refused(value: object, limit: int = 10) -> InvalidInputError:
    with pytest.raises(InvalidInputError) as caught:
        require_text("HEADING_EMPTY", "heading", value, limit)
    return caught.value


def test_empty_or_blank_or_not_a_string_is_empty() -> None:
    for value in ("", "   ", None, 3):
        assert refused(value).code == "HEADING_EMPTY"


def test_over_the_limit_is_too_long_with_the_figures() -> None:
    error = refused("x" * 11)
    assert error.code == "HEADING_TOO_LONG"
    assert error.details == {"limit": 10, "length": 11}


def test_a_code_without_the_empty_suffix_still_gets_too_long() -> None:
    with pytest.raises(InvalidInputError) as caught:
        require_text("LABEL", "label", "x" * 3, 2)
    assert caught.value.code == "LABEL_TOO_LONG"


@pytest.mark.parametrize(
    ("value", "code"),
    [("a\x00b", "TEXT_HAS_NUL"), ("a\ud800b", "TEXT_HAS_SURROGATE")],
)
def test_characters_no_store_keeps_are_refused(value: str, code: str) -> None:
    assert refused(value).code == code
    assert text_fault(value) == code


def test_a_whole_astral_character_is_fine() -> None:
    assert require_text("HEADING_EMPTY", "heading", " Credits \U0001f600 ") == (
        "Credits \U0001f600"
    )
    assert text_fault("\U0001f600") is None

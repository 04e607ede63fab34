"""Options against the delegated-authority matrix: seed 001's menu, the rules
one by one, and properties over random matrices and options."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workspace.authority import (
    BLOCKED,
    CONDITIONAL,
    ESCALATION_ONLY,
    IN_POLICY,
    SEVERITY,
    Component,
    Limit,
    Matrix,
    classify,
    compare_precedent,
    in_band,
    parse_components,
    parse_dimensions,
    parse_matrix,
    register_summary,
)
from workspace.errors import UnprocessableError

#: Seed 001's delegated concession matrix, as Maya Chen's team would enter it.
SEED_MATRIX = {
    "caps": {
        "service_credit": {"percent": "15", "months": 1},
        "overage_waiver": {"amount": "5000"},
    },
    "allowed_add_ons": ["incident-review"],
    "blocked_types": [
        "permanent_rate_reduction",
        "cross_product_rebate",
        "extended_free_term",
        "retention_concession",
        "staffing_guarantee",
    ],
    "escalation_only_types": ["out_of_band_retention", "executive_access"],
    "quarter_cap_balance": "20000",
}


@pytest.fixture
def matrix() -> Matrix:
    return parse_matrix(SEED_MATRIX)


def verdict(matrix: Matrix, components: list[dict[str, object]]) -> str:
    return classify(parse_components(components, matrix), matrix).classification


def test_seed_001_bounded_menu_is_in_band(matrix: Matrix) -> None:
    capped_credit = [{"type": "service_credit", "percent": "15", "months": 1}]
    split = [
        {"type": "service_credit", "percent": "8", "months": 1},
        {"type": "support_add_on", "name": "incident-review"},
    ]
    assert verdict(matrix, capped_credit) == IN_POLICY
    assert verdict(matrix, split) == IN_POLICY


def test_seed_001_blocked_asks_are_blocked_and_say_why(matrix: Matrix) -> None:
    for blocked in SEED_MATRIX["blocked_types"]:
        result = classify(parse_components([{"type": blocked}], matrix), matrix)
        assert result.classification == BLOCKED
        assert [b.code for b in result.breaches] == ["TYPE_BLOCKED"]


def test_a_credit_over_the_cap_is_blocked_naming_the_cap(matrix: Matrix) -> None:
    result = classify(
        parse_components(
            [{"type": "service_credit", "percent": "15.5", "months": 2}], matrix
        ),
        matrix,
    )
    assert result.classification == BLOCKED
    assert {b.code for b in result.breaches} == {
        "CAP_PERCENT_EXCEEDED",
        "CAP_MONTHS_EXCEEDED",
    }


def test_escalation_only_types_are_escalation_only(matrix: Matrix) -> None:
    assert verdict(matrix, [{"type": "executive_access"}]) == ESCALATION_ONLY
    # A blocked component outranks an escalation-only one.
    both = [{"type": "executive_access"}, {"type": "cross_product_rebate"}]
    assert verdict(matrix, both) == BLOCKED


def test_an_add_on_not_preapproved_is_conditional_on_an_approver(
    matrix: Matrix,
) -> None:
    result = classify(
        parse_components([{"type": "support_add_on", "name": "named-tam"}], matrix),
        matrix,
    )
    assert result.classification == CONDITIONAL
    assert [c.code for c in result.conditions] == ["ADD_ON_NOT_PREAPPROVED"]


def test_an_uncapped_known_type_needs_an_approver(matrix: Matrix) -> None:
    assert verdict(matrix, [{"type": "premium_staffing", "months": 1}]) == CONDITIONAL


def test_the_quarter_balance_bounds_the_option_total(matrix: Matrix) -> None:
    over = [
        {"type": "overage_waiver", "amount": "5000"},
        {"type": "service_credit", "percent": "10", "amount": "15000.01"},
    ]
    result = classify(parse_components(over, matrix), matrix)
    assert result.classification == BLOCKED
    assert [b.code for b in result.breaches] == ["QUARTER_CAP_EXCEEDED"]
    at = [
        {"type": "overage_waiver", "amount": "5000"},
        {"type": "service_credit", "amount": "15000"},
    ]
    assert verdict(matrix, at) == IN_POLICY


@pytest.mark.parametrize(
    ("components", "code"),
    [
        ([{"type": "free_lunch"}], "COMPONENT_TYPE_UNKNOWN"),
        ([{"type": "overage_waiver", "amount": "-1"}], "AMOUNT_NEGATIVE"),
        ([{"type": "service_credit", "percent": "101"}], "PERCENT_OUT_OF_RANGE"),
        ([{"type": "service_credit", "percent": 1.5}], "AMOUNT_INVALID"),
        ([{"type": "service_credit", "percent": "NaN"}], "AMOUNT_INVALID"),
        ([{"type": "support_add_on"}], "NAME_INVALID"),
        ([{"type": "service_credit", "colour": "red"}], "UNKNOWN_FIELD"),
        ([], "COMPONENTS_INVALID"),
        ("credit", "COMPONENTS_INVALID"),
    ],
)
def test_bad_components_are_refused_with_a_stable_code(
    matrix: Matrix, components: object, code: str
) -> None:
    with pytest.raises(UnprocessableError) as caught:
        parse_components(components, matrix)
    assert caught.value.code == code


@pytest.mark.parametrize(
    "raw",
    [
        "caps",
        {"caps": {"service_credit": "15%"}},
        {"caps": {"service_credit": {"percent": "x"}}},
        {"blocked_types": ["a"], "escalation_only_types": ["a"]},
        {"surprise": 1},
        {"quarter_cap_balance": "-3"},
    ],
)
def test_a_matrix_that_does_not_parse_is_refused(raw: object) -> None:
    with pytest.raises(UnprocessableError):
        parse_matrix(raw)


def test_precedent_dimensions_match_one_by_one() -> None:
    case = parse_dimensions(
        {
            "outage_minutes": 260,
            "support_tier": "Premium",
            "segment": "regulated enterprise",
            "renewal_posture": "at risk",
            "exception_basis": "none",
        }
    )
    precedent = {
        "outage_minutes": 240,
        "support_tier": "premium ",
        "segment": "commercial",
        "renewal_posture": "at risk",
        "exception_basis": "contract addendum",
    }
    assert compare_precedent(case, precedent) == {
        "matched": ["outage_minutes", "support_tier", "renewal_posture"],
        "differ": ["segment", "exception_basis"],
    }
    assert (
        "outage_minutes"
        in compare_precedent({**case, "outage_minutes": 301}, precedent)["differ"]
    )


def test_repeated_blocked_asks_flag_drift(matrix: Matrix) -> None:
    asks = [{"type": "permanent_rate_reduction"}, {"type": "service_credit"}]
    assert not register_summary(asks, matrix)["drifting_beyond_scope"]
    asks.append({"type": "permanent_rate_reduction"})
    summary = register_summary(asks, matrix)
    assert summary["drifting_beyond_scope"]
    assert summary["repeated_out_of_band"] == ["permanent_rate_reduction"]
    counts = {r["type"]: (r["classification"], r["count"]) for r in summary["types"]}
    assert counts["permanent_rate_reduction"] == (BLOCKED, 2)
    assert counts["service_credit"] == (IN_POLICY, 1)


def test_in_band_means_in_policy_or_conditional() -> None:
    assert [c for c in SEVERITY if in_band(c)] == [IN_POLICY, CONDITIONAL]


# ---------------------------------------------------------------- properties
CAPPED = ("service_credit", "overage_waiver")
decimals = st.decimals(min_value=0, max_value=100, places=2).map(Decimal)
matrices = st.builds(
    lambda p, a, m, bal: Matrix(
        caps={
            "service_credit": Limit(percent=p, months=m),
            "overage_waiver": Limit(amount=a * 100),
        },
        allowed_add_ons=frozenset({"incident-review"}),
        blocked_types=frozenset({"permanent_rate_reduction"}),
        escalation_only_types=frozenset({"executive_access"}),
        quarter_cap_balance=bal,
    ),
    decimals,
    decimals,
    st.integers(0, 12),
    st.one_of(st.none(), decimals.map(lambda d: d * 1000)),
)
components = st.lists(
    st.builds(
        Component,
        type=st.sampled_from(CAPPED),
        percent=st.one_of(st.none(), decimals),
        amount=st.one_of(st.none(), decimals.map(lambda d: d * 100)),
        months=st.one_of(st.none(), st.integers(0, 12)),
    ),
    min_size=1,
    max_size=5,
)


def _within(c: Component, m: Matrix) -> Component:
    limit = m.caps[c.type]
    return Component(
        c.type,
        percent=None
        if c.percent is None or limit.percent is None
        else min(c.percent, limit.percent),
        amount=None
        if c.amount is None or limit.amount is None
        else min(c.amount, limit.amount),
        months=None
        if c.months is None or limit.months is None
        else min(c.months, limit.months),
    )


@given(matrices, components)
def test_components_under_every_cap_are_never_blocked(
    m: Matrix, cs: list[Component]
) -> None:
    under = [_within(c, m) for c in cs]
    unbounded = Matrix(
        m.caps, m.allowed_add_ons, m.blocked_types, m.escalation_only_types
    )
    assert classify(under, unbounded).classification != BLOCKED


@given(matrices, components)
def test_adding_a_blocked_component_always_blocks(
    m: Matrix, cs: list[Component]
) -> None:
    cs = [*cs, Component("permanent_rate_reduction")]
    assert classify(cs, m).classification == BLOCKED


@given(matrices, components, st.decimals(min_value=0, max_value=1, places=2))
def test_tightening_a_cap_never_loosens_the_verdict(
    m: Matrix, cs: list[Component], factor: Decimal
) -> None:
    credit = m.caps["service_credit"]
    assert credit.percent is not None
    tighter = Matrix(
        {
            **m.caps,
            "service_credit": Limit(
                percent=credit.percent * factor, months=credit.months
            ),
        },
        m.allowed_add_ons,
        m.blocked_types,
        m.escalation_only_types,
        m.quarter_cap_balance,
    )
    before = classify(cs, m).classification
    after = classify(cs, tighter).classification
    assert SEVERITY[after] >= SEVERITY[before]

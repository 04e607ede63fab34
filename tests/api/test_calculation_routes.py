"""POST /v1/calculations/service-credit: any signed-in user, nothing stored."""

from __future__ import annotations

import json

from tests.api.conftest import Api
from tests.unit.credit_helpers import body, window

PATH = "/v1/calculations/service-credit"


def boundary_case() -> dict[str, object]:
    return body(
        outages=[window("2024-04-10T00:00:00Z", "2024-04-10T07:12:00Z")], fee=2000
    )


def test_any_signed_in_user_gets_the_figures_with_their_six_decimals(
    api: Api,
) -> None:
    before = api.stored_count()
    response = api.post("olga", PATH, boundary_case())
    assert response.status_code == 200, response.text
    # The 6-dp and cent figures are JSON numbers with exactly those digits.
    assert '"uptime_pct": 99.000000' in response.text
    assert '"credit_amount": 200.00' in response.text
    result = response.json()
    assert result["uptime_exact_fraction"] == "99/100"
    assert result["credit_pct"] == 10
    assert "UPTIME_ON_BAND_BOUNDARY" in {f["code"] for f in result["flags"]}
    assert "does not decide" in result["note"]
    assert api.stored_count() == before


def test_without_a_token_it_is_401(api: Api) -> None:
    response = api.post(None, PATH, boundary_case())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "TOKEN_MISSING"


def test_bad_input_is_422_with_a_stable_code_and_nothing_written(api: Api) -> None:
    before = api.stored_count()
    bad = boundary_case()
    bad["rules"]["bucket_policy"] = "sometimes"  # type: ignore[index]
    response = api.post("ben", PATH, bad)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "UNKNOWN_POLICY"
    empty = body(outages=[window("2024-04-02T02:00:00Z", "2024-04-02T01:00:00Z")])
    response = api.post("ben", PATH, empty)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "WINDOW_EMPTY"
    # Not even a refusal in the audit trail: a calculation changes nothing.
    assert api.stored_count() == before


def test_malformed_json_is_400(api: Api) -> None:
    before = api.stored_count()
    response = api.client.post(
        PATH,
        content=b'{"facts": ',
        headers=api.headers("ben", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "MALFORMED_JSON"
    assert api.stored_count() == before


def test_decimals_in_the_body_are_read_exactly(api: Api) -> None:
    # 0.1 + 0.2 style values: a fee of 0.3 x 10% must be 0.03, not 0.030000000004.
    b = boundary_case()
    b["facts"]["fee_amount"] = 0.3  # type: ignore[index]
    response = api.client.post(
        PATH,
        content=json.dumps(b).encode(),
        headers=api.headers("ben", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 200, response.text
    assert '"credit_amount": 0.03' in response.text

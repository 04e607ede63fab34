"""The calculator's one error: bad facts or rules, with a stable code."""

from __future__ import annotations

from workspace.errors import UnprocessableError


class CalculationInputError(UnprocessableError, code="CALCULATION_INPUT_INVALID"):
    """Facts or rules the calculator cannot use (HTTP 422). Nothing is written.

    Codes (stable): FIELD_REQUIRED, FIELD_INVALID, UNKNOWN_FIELD, UNKNOWN_POLICY,
    PERIOD_INVALID, TIMESTAMP_INVALID, WINDOW_EMPTY, PERCENT_OUT_OF_RANGE,
    AMOUNT_NEGATIVE, TOO_MANY_WINDOWS, RULES_CONFLICT, BANDS_OVERLAP,
    SERVICE_START_INVALID, USERS_INVALID, DENOMINATOR_EMPTY. (A body that is
    not JSON at all is `MALFORMED_JSON`, HTTP 400.)
    """

"""The pure service-credit calculator (seed 002): no I/O, exact arithmetic.

`calculate(body, max_windows)` takes the `{facts, rules}` of shared/API.md and
returns the result as plain values (Decimals for 6-dp and cent figures);
`numbers.to_json` renders it. Quire computes; it never decides a credit.
"""

from workspace.credit.compute import NOTE, calculate, compute
from workspace.credit.errors import CalculationInputError
from workspace.credit.numbers import from_json, to_json

__all__ = [
    "NOTE",
    "CalculationInputError",
    "calculate",
    "compute",
    "from_json",
    "to_json",
]

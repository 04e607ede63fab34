"""`quire calc service-credit FILE.json`: the same JSON as the API, or
`error: CODE: message` and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from tests.unit.credit_helpers import body, window

runner = CliRunner()


def test_prints_the_calculation(tmp_path: Path) -> None:
    file = tmp_path / "case.json"
    case = body(outages=[window("2024-04-10T00:00:00Z", "2024-04-10T07:12:00Z")])
    file.write_text(json.dumps(case))
    result = runner.invoke(app, ["calc", "service-credit", str(file)])
    assert result.exit_code == 0, result.output
    assert '"uptime_pct": 99.000000' in result.stdout
    assert json.loads(result.stdout)["uptime_exact_fraction"] == "99/100"


def test_bad_input_exits_2_with_the_code(tmp_path: Path) -> None:
    file = tmp_path / "case.json"
    file.write_text(json.dumps(body(commitment_pct="101")))
    result = runner.invoke(app, ["calc", "service-credit", str(file)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: PERCENT_OUT_OF_RANGE: ")
    file.write_text("{not json")
    result = runner.invoke(app, ["calc", "service-credit", str(file)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: MALFORMED_JSON: ")
    result = runner.invoke(app, ["calc", "service-credit", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: FILE_UNREADABLE: ")

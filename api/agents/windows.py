"""Windows `{start, end}` read from a telemetry or maintenance source: CSV
with `start` and `end` columns, or JSON (a list of `{start, end}`, or an
object holding one under `windows`, `outages` or `maintenance`). Times are
ISO-8601 with a timezone; the result is UTC, sorted, de-duplicated."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from typing import Any

from workspace.errors import UnprocessableError

MAX_WINDOWS = 10_000
LIST_KEYS = ("windows", "outages", "maintenance")


class WindowsUnreadableError(UnprocessableError, code="WINDOWS_UNREADABLE"):
    """A source whose content cannot be read as windows (HTTP 422)."""


def _time(value: object, where: str) -> datetime:
    if not isinstance(value, str):
        raise WindowsUnreadableError("WINDOWS_UNREADABLE", f"{where}: not a time")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise WindowsUnreadableError(
            "WINDOWS_UNREADABLE", f"{where}: {value!r} is not ISO-8601"
        ) from None
    if moment.tzinfo is None:
        raise WindowsUnreadableError(
            "WINDOWS_UNREADABLE", f"{where}: {value!r} has no timezone"
        )
    return moment.astimezone(UTC)


def _rows(body: bytes) -> list[dict[str, Any]]:
    text = body.decode("utf-8-sig")
    stripped = text.lstrip()
    if stripped.startswith(("[", "{")):
        data = json.loads(stripped)
        if isinstance(data, dict):
            data = next((data[k] for k in LIST_KEYS if k in data), None)
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise WindowsUnreadableError(
                "WINDOWS_UNREADABLE", "JSON windows are a list of {start, end}"
            )
        return data
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    if not {"start", "end"} <= fields:
        raise WindowsUnreadableError(
            "WINDOWS_UNREADABLE", "CSV windows need start and end columns"
        )
    return [{(k or "").strip().lower(): v for k, v in row.items()} for row in reader]


def parse_windows(body: bytes) -> list[tuple[datetime, datetime]]:
    try:
        rows = _rows(body)
    except (UnicodeDecodeError, json.JSONDecodeError, csv.Error) as e:
        raise WindowsUnreadableError("WINDOWS_UNREADABLE", str(e)) from None
    if len(rows) > MAX_WINDOWS:
        raise WindowsUnreadableError(
            "WINDOWS_UNREADABLE", f"more than {MAX_WINDOWS} windows"
        )
    windows = set()
    for n, row in enumerate(rows, 1):
        start = _time(row.get("start"), f"window {n} start")
        end = _time(row.get("end"), f"window {n} end")
        if end <= start:
            raise WindowsUnreadableError(
                "WINDOWS_UNREADABLE", f"window {n} ends before it starts"
            )
        windows.add((start, end))
    return sorted(windows)


def z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def as_facts(windows: list[tuple[datetime, datetime]]) -> list[dict[str, str]]:
    return [{"start": z(s), "end": z(e)} for s, e in windows]

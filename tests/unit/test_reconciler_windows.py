"""The reconciler's pure parts: reading windows and rewriting its block of
the chronology section."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from api.agents.reconciler import block_for, with_block
from api.agents.windows import WindowsUnreadableError, as_facts, parse_windows

CSV = b"Start,End,Note\n2025-02-03T04:00:00+02:00,2025-02-03T03:30:00Z,x\n"


def test_csv_and_json_windows_read_the_same_in_utc_sorted_once() -> None:
    as_json = (
        b'[{"start": "2025-02-10T02:00:00Z", "end": "2025-02-10T02:45:00Z"},'
        b' {"start": "2025-02-03T02:00:00Z", "end": "2025-02-03T03:30:00Z"},'
        b' {"start": "2025-02-03T02:00:00Z", "end": "2025-02-03T03:30:00Z"}]'
    )
    windows = parse_windows(as_json)
    assert as_facts(windows) == [
        {"start": "2025-02-03T02:00:00Z", "end": "2025-02-03T03:30:00Z"},
        {"start": "2025-02-10T02:00:00Z", "end": "2025-02-10T02:45:00Z"},
    ]
    assert parse_windows(b'{"maintenance": ' + as_json + b"}") == windows
    assert as_facts(parse_windows(CSV)) == [
        {"start": "2025-02-03T02:00:00Z", "end": "2025-02-03T03:30:00Z"}
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"when,until\n2025-02-03T02:00:00Z,2025-02-03T03:00:00Z\n",
        b"start,end\n2025-02-03T02:00:00,2025-02-03T03:00:00Z\n",  # no timezone
        b"start,end\n2025-02-03T03:00:00Z,2025-02-03T02:00:00Z\n",  # reversed
        b'{"windows": "soon"}',
        b"[1, 2]",
        b"\xff\xfe",
    ],
)
def test_unreadable_windows_are_refused_with_a_code(body: bytes) -> None:
    with pytest.raises(WindowsUnreadableError):
        parse_windows(body)


def test_the_block_is_replaced_in_place_and_other_text_kept() -> None:
    source = {"id": "src-2", "title": "Maintenance calendar"}
    one = [(datetime(2025, 2, 3, 2, tzinfo=UTC), datetime(2025, 2, 3, 3, tzinfo=UTC))]
    first = with_block(
        "Outage 10:00.\n\nNotes follow.",
        "src-2",
        block_for(source, "sha256:abc", one, "maintenance"),
    )
    assert first.startswith("Outage 10:00.\n\nNotes follow.\n\nMaintenance windows")
    two = [*one, (one[0][0].replace(day=4), one[0][1].replace(day=4, minute=30))]
    second = with_block(
        first, "src-2", block_for(source, "sha256:def", two, "maintenance")
    )
    assert second.count("windows per src-2") == 1
    assert "- 2025-02-04T02:00:00Z to 2025-02-04T03:30:00Z (90 min)" in second
    assert second.startswith("Outage 10:00.\n\nNotes follow.\n\n")
    # A block in the middle is replaced up to the next blank line only.
    middle = with_block(
        first + "\n\nLater text.", "src-2", block_for(source, "x", [], "maintenance")
    )
    assert middle.endswith("- none\n\nLater text.")

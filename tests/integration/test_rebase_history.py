"""The in-memory history a live edit is rebased over (workspace/text_history.py)
gives exactly what the store gives: the section's text at the base version and
every edit since, for any base, whoever saved the edits in between (this
process or another one sharing the database)."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.commands import AddSection, RemoveSection
from workspace.config import Settings
from workspace.errors import QuireError
from workspace.text_history import RecentHistory

TEXT = "Credits are owed for each outage.\nMaintenance is excluded.\nCaps apply."

# One step: who saves (0 or 1: two processes on one file), how far behind the
# base is, and what the edit does (an insert, a delete or both at a spot).
step = st.tuples(
    st.integers(0, 1),
    st.integers(0, 6),
    st.integers(0, 200),
    st.integers(0, 4),
    st.text(alphabet="abc \n", max_size=5),
    st.sampled_from(["edit", "edit", "edit", "text", "add", "remove"]),
)


def _workspace(path: Path) -> Workspace:
    return Workspace(
        {"CREATE_TABLE": "y"},
        settings=Settings(
            database_url=f"sqlite:///{path / 'quire.db'}",
            signing_key_path=path / "key.pem",
            snapshot_interval=7,
        ),
    )


def _answer(app: Workspace, packet_id: str, section_id: str, base: int) -> Any:
    packet = app.get_packet(packet_id)
    try:
        return app._history_since(packet, section_id, base)
    except QuireError as e:
        return ("error", e.code)


def _apply(
    app: Workspace, ben: Principal, packet_id: str, sections: list[str], s: Any
) -> None:
    _, behind, at, delete, insert, kind = s
    packet = app.get_packet(packet_id)
    live = [sid for sid in sections if not packet.sections[sid].get("removed")]
    if kind == "add" or not live:
        done = app.execute(packet_id, ben, AddSection(heading="More", text=TEXT))
        sections.append(done.result)
        return
    sid = live[at % len(live)]
    if kind == "remove" and len(live) > 1:
        app.execute(packet_id, ben, RemoveSection(section_id=sid))
        return
    base = max(1, packet.version - behind)
    try:
        base_text, _ = app._history_since(packet, sid, base)
    except QuireError:
        return  # based before the section existed: refused either way
    at %= len(base_text) + 1
    delete = min(delete, len(base_text) - at)
    edit: dict[str, Any] = (
        {"text": base_text[:at] + insert + base_text[at + delete :]}
        if kind == "text"
        else {"ops": [{"at": at, "delete": delete, "insert": insert or "z"}]}
    )
    # A conflict is recorded and raised; the history goes on.
    with contextlib.suppress(QuireError):
        app.edit_section(packet_id, ben, sid, base_version=base, **edit)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=25))
def test_the_history_in_memory_equals_the_store_for_every_base(
    steps: list[Any],
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp)
        one, two = _workspace(path), _workspace(path)
        try:
            one.add_user("ben", "Ben", roles=[])
            ben = one.get_user("ben").principal()
            packet = one.open_packet(
                ben,
                kind="service-credit-clarification",
                title="Credits",
                release_owner="ben",
                authors=["ben"],
                reviewers=[],
            )
            pid = str(packet.id)
            first = one.execute(pid, ben, AddSection(heading="Terms", text=TEXT))
            sections = [first.result]
            for s in steps:
                _apply((one, two)[s[0]], ben, pid, sections, s)
            # A third process, with nothing in memory, reads the store.
            fresh = _workspace(path)
            try:
                last = fresh.get_packet(pid).version
                for app in (one, two):
                    app.get_packet(pid)  # caught up, as a live save loads first
                    for sid in sections:
                        for base in range(1, last + 1):
                            assert _answer(app, pid, sid, base) == _answer(
                                fresh, pid, sid, base
                            ), (sid, base)
            finally:
                fresh.close()
        finally:
            one.close()
            two.close()


@pytest.mark.parametrize("backend", ["memory", "sqlite", "postgres"])
def test_an_edit_behind_by_a_few_versions_is_rebased_without_reading_the_store(
    app: Workspace,
) -> None:
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    packet = app.open_packet(
        ben,
        kind="service-credit-clarification",
        title="Credits",
        release_owner="ben",
        authors=["ben"],
        reviewers=[],
    )
    pid = str(packet.id)
    sid = app.execute(pid, ben, AddSection(heading="Terms", text=TEXT)).result
    base = app.get_packet(pid).version
    for n in range(5):
        app.edit_section(
            pid,
            ben,
            sid,
            base_version=base + n,
            ops=[{"at": 0, "delete": 0, "insert": "x"}],
        )
    reads: list[object] = []
    get = app.events.get

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads.append((args, kwargs))
        return get(*args, **kwargs)

    loaded = app.get_packet(pid)
    app.events.get = counted  # type: ignore[method-assign]
    try:
        base_text, later = app._history_since(loaded, sid, base)
        done = app.edit_section(
            pid,
            ben,
            sid,
            base_version=base,
            ops=[{"at": len(TEXT), "delete": 0, "insert": "!"}],
        )
    finally:
        app.events.get = get  # type: ignore[method-assign]
    assert base_text == TEXT
    assert [v for v, _ in later] == [base + 1 + n for n in range(5)]
    assert done.text == "xxxxx" + TEXT + "!"
    # The load of the edit itself fast-forwards the cached packet (nothing
    # new), but nothing reads the events since the base nor the old version.
    assert all(kw.get("gt") != base for _, kw in reads), reads
    assert not any("lte" in kw for _, kw in reads), reads


def test_the_history_is_bounded_and_a_gap_is_never_filled_by_a_guess() -> None:
    recent = RecentHistory(depth=4, anchors=2, packets=2)

    class Edited:
        def __init__(self, pid: Any, version: int) -> None:
            self.originator_id = pid
            self.originator_version = version
            self.section_id = "s"
            self.ops = [{"at": 0, "delete": 0, "insert": str(version)}]

    Edited.__name__ = "SectionTextEdited"
    pid = "p"
    recent.anchor(pid, 1, {"s": {"text": ""}})  # type: ignore[arg-type]
    recent.seen([Edited(pid, v) for v in (2, 3, 5)])
    assert recent.text_at(pid, "s", 3) == "32"  # type: ignore[arg-type]
    assert recent.span(pid, 1, 3) is not None  # type: ignore[arg-type]
    assert recent.span(pid, 3, 5) is None  # type: ignore[arg-type]  # 4 missing
    assert recent.text_at(pid, "s", 5) is None  # type: ignore[arg-type]
    recent.seen([Edited(pid, v) for v in (6, 7)])  # 2 dropped: depth 4
    assert recent.span(pid, 1, 3) is None  # type: ignore[arg-type]
    recent.seen([Edited("q", 1)])
    recent.seen([Edited("r", 1)])  # p is the least recently used: dropped
    assert recent.span(pid, 5, 7) is None  # type: ignore[arg-type]

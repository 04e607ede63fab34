"""Sources that watch themselves (issue 16, item 1): a local HTTP server whose
document changes, fails and is slow drives drift end to end through the
watcher's own poll, on every backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from release.application import ReleaseApp
from release.connectors import FetchError, Limits, check, fetch
from release.connectors.base import ReferenceRefusedError, digest_of
from release.errors import ReleaseHeldError
from release.sweeper import ManualClock
from release.watcher import (
    SOURCE_WATCHER,
    WATCHER_ID,
    Outcome,
    RecordFetch,
    SourceWatcher,
    Watched,
    ensure_service_account,
    poll,
)
from tests.doc_server import DocServer, Document, doc_server
from tests.integration.test_release_gate import (
    Draft,
    cheap_passphrases,
    clock,
    draft,
    hold_codes,
)
from workspace.commands import CiteSource
from workspace.config import Settings
from workspace.errors import InvalidInputError, NotAllowedError

__all__ = ["cheap_passphrases", "clock"]

FIRST = b"start,end\n2025-02-03T10:00:00Z,2025-02-03T11:30:00Z\n"
SECOND = b"start,end\n2025-02-03T10:00:00Z,2025-02-03T11:45:00Z\n"


@pytest.fixture
def watch_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "source_allow_loopback": True,
            "source_fetch_timeout_seconds": 0.5,
            "source_max_bytes": 4096,
            "source_file_roots": str(tmp_path / "sources"),
        }
    )


@pytest.fixture
def watch_app(watch_settings: Settings, clock: ManualClock) -> Iterator[ReleaseApp]:
    # The same cast as the gate tests (release_app), on loopback-allowing settings.
    from tests.integration import test_release_gate as gate_tests

    yield from gate_tests.release_app.__wrapped__(watch_settings, clock)  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[DocServer]:
    with doc_server(Document(body=FIRST)) as s:
        yield s


def watch(d: Draft, reference: str, digest: str, **watch: int) -> str:
    command = CiteSource(
        kind="maintenance",
        title="Maintenance calendar",
        reference=reference,
        digest=digest,
        precedence=3,
        watch={"poll_seconds": 60, "tolerance_seconds": 300, **watch},
    )
    return str(d.app.execute(d.packet_id, d.ben, command).result)


def entry(d: Draft, source_id: str) -> Watched:
    packet = d.packet()
    source = packet.sources[source_id]
    return Watched(packet.id, source_id, source["reference"], 60)


def events(d: Draft, since: int) -> list[Any]:
    return list(d.app.events.get(d.packet().id, gt=since))


def test_a_changed_document_is_a_material_refresh_by_the_watcher_superseding_in_the_same_save(  # noqa: E501
    watch_app: ReleaseApp, clock: ManualClock, server: DocServer
) -> None:
    d = draft(watch_app, clock)
    sid = watch(d, server.url(), digest_of(FIRST))
    rid = d.release()
    limits = Limits.from_settings(watch_app.settings)
    e = entry(d, sid)
    before = d.packet().version
    assert poll(watch_app, limits, e) is False  # same digest: nothing recorded
    assert poll(watch_app, limits, e) is False  # conditional: 304
    assert server.document.not_modified == 1
    assert d.packet().version == before

    server.document.set(SECOND)
    assert poll(watch_app, limits, e) is True
    new = events(d, before)
    refreshed = [x for x in new if type(x).__name__ == "SourceRefreshed"]
    superseded = [x for x in new if type(x).__name__ == "ReleaseSuperseded"]
    assert len(refreshed) == 1 and refreshed[0].actor == WATCHER_ID
    assert refreshed[0].material and refreshed[0].digest == digest_of(SECOND)
    assert refreshed[0].previous_digest == digest_of(FIRST)
    # Same save: the supersession directly follows the refresh.
    assert [x.release_id for x in superseded] == [rid]
    assert superseded[0].originator_version == refreshed[0].originator_version + 1
    assert d.packet().release(rid)["status"] == "superseded"


@pytest.mark.parametrize("mode", ["fail", "slow", "redirect_other_host", "big"])
def test_a_failed_read_is_recorded_without_changing_the_digest_and_holds_past_tolerance(
    watch_app: ReleaseApp, clock: ManualClock, server: DocServer, mode: str
) -> None:
    d = draft(watch_app, clock)
    sid = watch(d, server.url(), digest_of(FIRST))
    revision = d.cut()["number"]
    limits = Limits.from_settings(watch_app.settings)
    e = entry(d, sid)
    if mode == "big":
        server.document.set(b"x" * 5000)
    else:
        server.document.mode = mode
    assert poll(watch_app, limits, e) is True
    source = d.packet().sources[sid]
    expected = {
        "fail": "FETCH_STATUS",
        "slow": "FETCH_TIMEOUT",
        "redirect_other_host": "FETCH_REDIRECT_REFUSED",
        "big": "FETCH_TOO_LARGE",
    }[mode]
    assert source["fetch"]["state"] == "failing"
    assert source["fetch"]["error_code"] == expected
    assert source["digest"] == digest_of(FIRST)
    # Within tolerance: recorded and shown, not a hold; a repeat adds nothing.
    version = d.packet().version
    assert poll(watch_app, limits, e) is False
    assert d.packet().version == version
    rid = d.request(revision)["release_id"]
    assert d.packet().release(rid)["status"] == "pending"

    # Past tolerance: one more event, which re-gates the open release.
    clock.advance(timedelta(seconds=301))
    assert poll(watch_app, limits, e) is True
    assert d.packet().sources[sid]["fetch"]["beyond_tolerance"] is True
    held = d.packet().release(rid)
    assert held["status"] == "held"
    assert [h["code"] for h in held["hold_reasons"]] == ["SOURCE_UNREADABLE"]
    with pytest.raises(ReleaseHeldError) as refused:
        d.approve(rid)
    assert "SOURCE_UNREADABLE" in hold_codes(refused.value)

    # Readable again with the same content: recovered, the hold cleared.
    server.document.release_slow.set()
    server.document.set(FIRST)
    assert poll(watch_app, limits, e) is True
    assert d.packet().sources[sid]["fetch"]["state"] == "ok"
    assert d.packet().sources[sid]["digest"] == digest_of(FIRST)
    assert d.packet().release(rid)["status"] == "pending"
    assert d.approve(rid)["status"] == "released"


def test_a_same_host_redirect_is_followed(
    watch_app: ReleaseApp, clock: ManualClock, server: DocServer
) -> None:
    limits = Limits.from_settings(watch_app.settings)
    server.document.mode = "redirect_same_host"
    got = fetch(server.url(), limits)
    assert getattr(got, "body", None) == FIRST


def test_only_the_source_watcher_records_what_a_source_says(
    watch_app: ReleaseApp, clock: ManualClock, server: DocServer
) -> None:
    d = draft(watch_app, clock)
    sid = watch(d, server.url(), digest_of(FIRST))
    forged = RecordFetch(sid, Outcome("read", clock.now, digest="sha256:forged"))
    for principal in (d.ben, d.bot, d.olga):
        with pytest.raises(NotAllowedError):
            watch_app.execute(d.packet_id, principal, forged)
    assert d.packet().sources[sid]["digest"] == digest_of(FIRST)
    watch_app.execute(d.packet_id, SOURCE_WATCHER, forged)
    assert d.packet().sources[sid]["digest"] == "sha256:forged"


def test_watch_settings_are_validated_and_nothing_is_written(
    watch_app: ReleaseApp, clock: ManualClock
) -> None:
    d = draft(watch_app, clock)
    version = d.packet().version
    for bad in (
        {"poll_seconds": 0},
        {"poll_seconds": "60"},
        {"poll_seconds": 5, "x": 1},
    ):
        with pytest.raises(InvalidInputError) as e:
            watch_app.execute(
                d.packet_id,
                d.ben,
                CiteSource("k", "t", "https://x.example/a", "sha256:1", 1, watch=bad),
            )
        assert e.value.code == "WATCH_INVALID"
    assert d.packet().version == version


def test_the_allow_lists_refuse_other_hosts_schemes_and_paths(
    watch_settings: Settings, tmp_path: Path
) -> None:
    limits = Limits.from_settings(
        watch_settings.model_copy(
            update={"source_hosts": "status.example.com,.telemetry.example"}
        )
    )
    check("https://status.example.com/w.csv", limits)
    check("https://eu.telemetry.example/w.json", limits)
    check("http://127.0.0.1:9/w.csv", limits)  # loopback allowed in tests only
    refused = [
        "https://evil.example.com/w.csv",
        "https://status.example.com.evil.net/",
        "http://status.example.com/w.csv",  # plain http elsewhere
        "https://user:pw@status.example.com/",
        "gopher://status.example.com/",
        "file:///etc/passwd",
        f"file://{tmp_path}/sources/../secret.csv",
    ]
    for reference in refused:
        with pytest.raises(ReferenceRefusedError):
            check(reference, limits)
    strict = Limits.from_settings(
        watch_settings.model_copy(update={"source_allow_loopback": False})
    )
    with pytest.raises(ReferenceRefusedError):
        check("http://127.0.0.1:9/w.csv", strict)


def test_a_file_source_is_read_within_its_root_and_a_symlink_out_is_refused(
    watch_settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "sources"
    root.mkdir()
    (root / "windows.csv").write_bytes(FIRST)
    (tmp_path / "secret.csv").write_bytes(b"secret")
    os.symlink(tmp_path / "secret.csv", root / "link.csv")
    limits = Limits.from_settings(watch_settings)
    got = fetch(f"file://{root}/windows.csv", limits)
    assert getattr(got, "digest", None) == digest_of(FIRST)
    with pytest.raises(ReferenceRefusedError):
        check(f"file://{root}/link.csv", limits)
    with pytest.raises(FetchError) as e:
        fetch(f"file://{root}/missing.csv", limits)
    assert e.value.code == "FETCH_NOT_FOUND"


def test_the_watcher_thread_finds_watched_sources_and_creates_its_account(
    watch_app: ReleaseApp, clock: ManualClock, tmp_path: Path
) -> None:
    root = tmp_path / "sources"
    root.mkdir()
    doc = root / "windows.csv"
    doc.write_bytes(FIRST)
    d = draft(watch_app, clock)
    sid = watch(d, f"file://{doc}", digest_of(FIRST))
    watcher = SourceWatcher(watch_app, scan_seconds=0)
    ensure_service_account(watch_app)
    ensure_service_account(watch_app)  # once
    assert watch_app.get_user(WATCHER_ID).principal().is_agent
    assert watcher.pass_once() == 0
    assert list(watcher.entries) == [(d.packet().id, sid)]
    doc.write_bytes(SECOND)
    watcher.entries[(d.packet().id, sid)].due = 0
    assert watcher.pass_once() == 1
    assert d.packet().sources[sid]["digest"] == digest_of(SECOND)

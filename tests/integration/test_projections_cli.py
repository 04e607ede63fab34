"""`quire db init`, `quire projections rebuild` and `quire audit export` as real
processes on SQLite (the worker on PostgreSQL: test_projections_crash.py)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from workspace.application import Workspace
from workspace.commands import AddSection, CutRevision
from workspace.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def quire(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "QUIRE_DATABASE_URL": f"sqlite:///{tmp / 'quire.db'}",
        "QUIRE_SIGNING_KEY_PATH": str(tmp / "key.pem"),
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_rebuild_and_export_from_the_command_line(tmp_path: Path) -> None:
    init = quire(tmp_path, "db", "init")
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "key.pem").exists()
    with sqlite3.connect(tmp_path / "quire.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    assert {"packet_list", "audit_log", "audit_checkpoints"} <= tables

    app = Workspace(
        settings=Settings(
            database_url=f"sqlite:///{tmp_path / 'quire.db'}",
            signing_key_path=tmp_path / "key.pem",
        )
    )
    app.add_user("ben", "Ben", roles=[])
    ben = app.get_user("ben").principal()
    packet = app.open_packet(
        ben, kind="k", title="Plan", release_owner="ben", authors=[], reviewers=[]
    )
    app.execute(
        str(packet.id), ben, AddSection(heading="Scope", text="Credits accrue.")
    )
    app.execute(str(packet.id), ben, CutRevision("v1"))
    app.close()

    rebuilt = quire(tmp_path, "projections", "rebuild")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "audit_log" in rebuilt.stderr  # the progress bar's label

    exported = quire(tmp_path, "audit", "export", str(packet.id), "-o", "out.jsonl")
    assert exported.returncode == 0, exported.stderr
    verified = quire(
        tmp_path, "audit", "verify", "out.jsonl", "--public-key", "key.pem"
    )
    assert verified.returncode == 0, verified.stderr
    assert "intact: 3 events" in verified.stdout

    with sqlite3.connect(tmp_path / "quire.db") as conn:
        (state,) = conn.execute(
            "SELECT state FROM stored_events "
            "WHERE originator_id = ? AND originator_version = 2",
            (UUID(str(packet.id)).hex,),
        ).fetchone()
        conn.execute(
            "UPDATE stored_events SET state = ? "
            "WHERE originator_id = ? AND originator_version = 2",
            (state.replace(b"accrue", b"vanish"), UUID(str(packet.id)).hex),
        )
    refused = quire(tmp_path, "audit", "export", str(packet.id), "-o", "again.jsonl")
    assert refused.returncode != 0
    assert "AUDIT_MISMATCH" in refused.stderr
    assert f"{packet.id} version 2" in refused.stderr
    assert not (tmp_path / "again.jsonl").exists()

"""Backup and restore (docs/operations.md) with the real `pg_dump` and
`pg_restore`: dump a Quire schema, restore it into a fresh database, migrate,
export every packet with proofs and verify it; the restored packets read the
same as the originals."""

from __future__ import annotations

import glob
import json
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest

from tests.conftest import PG_URL
from tests.e2e.conftest import QUIRE, DatabaseFactory, QuireDatabase
from tests.e2e.test_operations import new_packet

pytestmark = [pytest.mark.e2e, pytest.mark.postgres, pytest.mark.timeout(300)]


def pg_binary(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}")) or [
        shutil.which(name) or ""
    ]
    if not found[-1]:
        pytest.fail(f"{name} is not installed")
    return found[-1]


def read_all(database: QuireDatabase, packet_ids: list[str]) -> dict[str, Any]:
    server = database.serve()
    try:
        with server.client("maya") as http:
            return {pid: http.get(f"/v1/packets/{pid}").json() for pid in packet_ids}
    finally:
        server.kill(signal.SIGTERM)


def events_of(export: Path) -> list[Any]:
    lines = [json.loads(line) for line in export.read_text().splitlines() if line]
    return [(line["record"], line["data"]) for line in lines if line["type"] == "event"]


def test_dump_restore_into_a_fresh_database_then_export_verifies(
    quire_database: DatabaseFactory, tmp_path: Path
) -> None:
    source = quire_database("postgres")
    for user, name in (
        ("maya", "Maya Chen"),
        ("ben", "Ben Ortiz"),
        ("ana", "Ana Lima"),
    ):
        source.add_user(user, name)
    server = source.serve()
    packets = [new_packet(server.url, source.tokens["ben"]) for _ in range(2)]
    with server.client("ben") as http:
        packet_id, section_id, version = packets[0]
        edited = http.post(
            f"/v1/packets/{packet_id}/sections/{section_id}/edits",
            json={
                "base_version": version,
                "text": "Credits accrue weekly.",
                "client_id": "c",
                "client_seq": 1,
            },
        )
        assert edited.status_code in (200, 201), edited.text
    server.kill(signal.SIGTERM)
    ids = [p[0] for p in packets]
    before = read_all(source, ids)
    source.quire("audit", "export", "--full", "-o", str(tmp_path / "before.jsonl"))

    # Back up: one schema of the database, custom format.
    pg = urlparse(PG_URL)
    connect = ["-h", pg.hostname or "127.0.0.1", "-p", str(pg.port or 5432)]
    connect += ["-U", pg.username or "postgres"]
    dump = tmp_path / "quire.dump"
    subprocess.run(
        [
            pg_binary("pg_dump"),
            *connect,
            "-Fc",
            "-n",
            str(source.schema),
            "-f",
            str(dump),
            pg.path.lstrip("/"),
        ],
        check=True,
        timeout=120,
    )
    fresh = f"quire_restore_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{fresh}"')
    try:
        # Restore into the fresh database, then as docs/operations.md says.
        subprocess.run(
            [pg_binary("pg_restore"), *connect, "--no-owner", "-d", fresh, str(dump)],
            check=True,
            timeout=120,
        )
        restored = QuireDatabase(
            backend="postgres",
            url=PG_URL.replace(pg.path, f"/{fresh}") + f"?schema={source.schema}",
            home=source.home,  # the same signing key file (backed up beside it)
            tokens=source.tokens,
        )
        assert "nothing to migrate" in restored.quire("db", "migrate")
        export = tmp_path / "restored.jsonl"
        restored.quire("audit", "export", "--full", "-o", str(export))
        key = str(source.home / "signing-key.pem")
        verdict = restored.quire("audit", "verify", str(export), "--public-key", key)
        assert verdict.startswith("intact: 2 packets")
        assert events_of(export) == events_of(tmp_path / "before.jsonl")
        assert len(events_of(export)) >= 5
        assert read_all(restored, ids) == before
        # Each packet of the bundle is checked: alter the second one's event.
        lines = export.read_text().splitlines()
        second = [i for i, line in enumerate(lines) if '"type":"header"' in line][1]
        lines[second + 1] = lines[second + 1].replace("Ben Ortiz", "Ben 0rtiz", 1)
        lines[second + 1] = lines[second + 1].replace('"ben"', '"b3n"', 1)
        (tmp_path / "altered.jsonl").write_text("\n".join(lines) + "\n")
        altered = subprocess.run(
            [str(QUIRE), "audit", "verify", str(tmp_path / "altered.jsonl")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert altered.returncode == 1
        assert f"line {second + 2}:" in altered.stderr, altered.stderr
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')

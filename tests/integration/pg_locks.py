"""Advisory locks seen from another PostgreSQL session, for the live-save tests."""

from __future__ import annotations

from typing import Any

import psycopg


def free(conn: psycopg.Connection[Any], key: tuple[int, int]) -> bool:
    """Whether another session could take the lock now (released at once)."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", key).fetchone()
    assert row is not None
    if row[0]:
        conn.execute("SELECT pg_advisory_unlock(%s, %s)", key)
    return bool(row[0])

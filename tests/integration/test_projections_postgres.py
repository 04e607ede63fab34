"""The projection driver on PostgreSQL: woken by NOTIFY, one instance per
projection (advisory lock), reconnects after its connection is killed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from projections.driver import Driver
from projections.packets import PacketList
from projections.runner import create_read_models
from projections.store import ReadStore
from tests.conftest import PG_URL, database_url_for, drop_pg_schema
from workspace.accounts import Principal
from workspace.application import Workspace
from workspace.config import Settings

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_settings(tmp_path: Path) -> Iterator[Settings]:
    url, schema = database_url_for("postgres", tmp_path)
    yield Settings(database_url=url, signing_key_path=tmp_path / "key.pem", pool_size=3)
    if schema:
        drop_pg_schema(schema)


@pytest.fixture
def pg_app(pg_settings: Settings) -> Iterator[Workspace]:
    application = Workspace({"CREATE_TABLE": "y"}, settings=pg_settings)
    yield application
    application.close()


@pytest.fixture
def store(pg_app: Workspace, pg_settings: Settings) -> Iterator[ReadStore]:
    read_store = ReadStore(pg_settings, pg_app)
    create_read_models(read_store)
    yield read_store
    read_store.close()


@pytest.fixture
def ben(pg_app: Workspace) -> Principal:
    pg_app.add_user("ben", "Ben", roles=[])
    return pg_app.get_user("ben").principal()


def open_packet(app: Workspace, ben: Principal) -> str:
    return str(
        app.open_packet(
            ben, kind="k", title="T", release_owner="ben", authors=[], reviewers=[]
        ).id
    )


def test_a_notify_wakes_the_driver_long_before_its_poll_interval(
    pg_app: Workspace, store: ReadStore, ben: Principal
) -> None:
    driver = Driver(store, PacketList(), poll_interval=600.0)
    driver.start()
    try:
        assert store.wait_for([PacketList.name], store.head(), timeout=10)
        # The driver now sleeps on LISTEN with a ten-minute poll interval.
        started = time.monotonic()
        open_packet(pg_app, ben)
        head = store.head()
        # Not woken from here: only the NOTIFY can wake it.
        assert store.wait_for([PacketList.name], head, timeout=10, wake=False)
        assert time.monotonic() - started < 10
    finally:
        driver.stop()


def test_the_driver_reconnects_and_resumes_after_its_connection_is_killed(
    pg_app: Workspace, store: ReadStore, ben: Principal
) -> None:
    driver = Driver(store, PacketList(), poll_interval=0.5)
    driver.start()
    try:
        first = open_packet(pg_app, ben)
        head = store.head()
        assert store.wait_for([PacketList.name], head, timeout=10), "catch-up"
        killed = driver.session_pid
        assert killed is not None
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (killed,))
        second = open_packet(pg_app, ben)
        head = store.head()
        assert store.wait_for([PacketList.name], head, timeout=10, wake=False)
        assert driver.session_pid != killed
        with store.read() as tx:
            rows = tx.all("SELECT packet_id FROM packet_list ORDER BY seq")
        assert rows == [(first,), (second,)]
    finally:
        driver.stop()


def test_a_second_instance_waits_while_the_first_holds_the_projection(
    pg_app: Workspace, store: ReadStore, ben: Principal
) -> None:
    first = Driver(store, PacketList(), poll_interval=0.5, lock_wait=0.1)
    second = Driver(store, PacketList(), poll_interval=0.5, lock_wait=0.1)
    first.start()
    try:
        open_packet(pg_app, ben)
        head = store.head()
        assert store.wait_for([PacketList.name], head, timeout=10)
        assert first.position == head
        second.start()
        open_packet(pg_app, ben)
        head = store.head()
        assert store.wait_for([PacketList.name], head, timeout=10)
        assert first.position == head
        assert second.position is None  # never loaded: it waits for the lock
        first.stop()
        open_packet(pg_app, ben)
        head = store.head()
        assert store.wait_for([PacketList.name], head, timeout=10)
        assert second.position == head
        with store.read() as tx:
            assert tx.one("SELECT COUNT(*) FROM packet_list") == (3,)
    finally:
        first.stop()
        second.stop()

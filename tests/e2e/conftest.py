"""Real `quire serve` processes for end-to-end tests.

`quire_database(backend)` makes a fresh database (an SQLite file, or a fresh
PostgreSQL schema on which `quire db init` runs once) and adds users with
`quire users add`; `database.serve()` starts a `quire serve` process on a
free port against it and waits on /readyz. Several servers may share one
database (that is the point on PostgreSQL). Every process is killed when
the test (or module, for the `_module` variants) ends, and the schema
dropped.

    def test_x(quire_server):
        server = quire_server("postgres")          # a database and a server
        second = server.database.serve()           # a second process on it
        token = server.database.add_user("maya", "Maya Chen")
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import database_url_for, drop_pg_schema
from tests.processes import free_port, start_serve

QUIRE = Path(sys.executable).with_name("quire")


@dataclass
class QuireServer:
    """One `quire serve` process."""

    database: QuireDatabase
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws_url(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def client(self, user: str | None = None, timeout: float = 10.0) -> httpx.Client:
        headers = {}
        if user is not None:
            headers["Authorization"] = f"Bearer {self.database.tokens[user]}"
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=15)

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


@dataclass
class QuireDatabase:
    """A fresh database, its users' tokens, and the servers started on it."""

    backend: str
    url: str
    home: Path
    schema: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    servers: list[QuireServer] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("QUIRE_", "POSTGRES_"))
        }
        env.update(
            QUIRE_DATABASE_URL=self.url,
            QUIRE_SIGNING_KEY_PATH=str(self.home / "signing-key.pem"),
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def quire(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [str(QUIRE), *args],
            env=self.env,
            cwd=self.home,
            input=stdin.encode(),
            capture_output=True,
            timeout=90,
            check=False,
        )
        if done.returncode != 0:
            raise AssertionError(
                f"quire {' '.join(args)} failed ({done.returncode}):\n"
                f"{done.stderr.decode(errors='replace')}"
            )
        return done.stdout.decode()

    def add_user(
        self, user_id: str, name: str, *flags: str, passphrase: str | None = None
    ) -> str:
        """`quire users add`; returns (and remembers) the printed token."""
        args = ["users", "add", user_id, "--name", name, *flags]
        if passphrase is not None:
            args.append("--passphrase-stdin")
        out = self.quire(*args, stdin=f"{passphrase}\n" if passphrase else "")
        token = out.strip().splitlines()[-1]
        self.tokens[user_id] = token
        return token

    def serve(self, **env: str) -> QuireServer:
        """Starts one more `quire serve` on this database; waits until ready."""
        port = free_port()
        log = self.home / f"serve-{port}.log"
        process = start_serve(
            [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env={**self.env, **env},
            cwd=self.home,
            log=log,
        )
        server = QuireServer(database=self, port=port, process=process, log=log)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            server.kill()
        if self.schema:
            drop_pg_schema(self.schema)


def make_database(backend: str, home: Path, **extra_env: str) -> QuireDatabase:
    url, schema = database_url_for(backend, home)
    database = QuireDatabase(
        backend=backend, url=url, home=home, schema=schema, extra_env=extra_env
    )
    if backend == "postgres":
        database.quire("db", "init")  # once; serving processes never create tables
    return database


DatabaseFactory = Callable[..., QuireDatabase]
ServerFactory = Callable[..., QuireServer]


def _factories(
    mktemp: Callable[[str], Path],
) -> tuple[DatabaseFactory, ServerFactory, list[QuireDatabase]]:
    made: list[QuireDatabase] = []

    def database(backend: str = "sqlite", **extra_env: str) -> QuireDatabase:
        db = make_database(backend, mktemp(f"quire-{backend}"), **extra_env)
        made.append(db)
        return db

    def server(backend: str = "sqlite", **extra_env: str) -> QuireServer:
        return database(backend, **extra_env).serve()

    return database, server, made


@pytest.fixture
def quire_database(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DatabaseFactory]:
    database, _, made = _factories(lambda name: tmp_path_factory.mktemp(name))
    yield database
    for db in made:
        db.close()


@pytest.fixture
def quire_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerFactory]:
    _, server, made = _factories(lambda name: tmp_path_factory.mktemp(name))
    yield server
    for db in made:
        db.close()


@pytest.fixture(scope="module")
def quire_database_module(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DatabaseFactory]:
    database, _, made = _factories(lambda name: tmp_path_factory.mktemp(name))
    yield database
    for db in made:
        db.close()


def open_credit_packet(on: Any, text: str) -> tuple[str, int]:
    """Through `on` (anything with `.client(user)`: a server, or nginx in front
    of two): a packet owned by maya, authored by ben and ana, with one section
    (sec-1) holding `text`; (packet id, version)."""
    with on.client("ben") as http:
        created = http.post(
            "/v1/packets",
            json={
                "kind": "service-credit-clarification",
                "title": "Service-credit clarification",
                "release_owner": "maya",
                "authors": ["ben", "ana"],
                "reviewers": [],
            },
        )
        assert created.status_code == 201, created.text
        packet_id = created.json()["id"]
        section = http.post(
            f"/v1/packets/{packet_id}/sections", json={"heading": "Terms", "text": text}
        )
        assert section.status_code == 201, section.text
    return packet_id, int(section.json()["version"])


def read_packet(on: Any, packet_id: str) -> dict[str, Any]:
    """The packet as maya reads it through `on`."""
    with on.client("maya") as http:
        response = http.get(f"/v1/packets/{packet_id}")
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result


def add_review_lane(on: Any, members: tuple[str, ...] = ("lars",)) -> None:
    """The admin `root` creates lane `review` accepting credit packets."""
    with on.client("root") as root:
        lane = {"id": "review", "title": "Review", "members": list(members)}
        created = root.post(
            "/v1/lanes",
            json={**lane, "accepts_kinds": ["service-credit-clarification"]},
        )
        assert created.status_code == 201, created.text


def request_credit_release(on: Any, title: str) -> tuple[str, str, dict[str, Any]]:
    """Ben opens a credit packet owned by maya, cuts it and requests its
    release to lane `review`: (packet id, release id, revision)."""
    with on.client("ben") as ben:
        opened = ben.post(
            "/v1/packets",
            json={
                "kind": "service-credit-clarification",
                "title": title,
                "release_owner": "maya",
            },
        )
        assert opened.status_code == 201, opened.text
        pid = str(opened.json()["id"])
        section = {"heading": "Calculation", "text": "412 outage minutes"}
        assert ben.post(f"/v1/packets/{pid}/sections", json=section).is_success
        revision: dict[str, Any] = ben.post(
            f"/v1/packets/{pid}/revisions", json={}
        ).json()
        requested = ben.post(
            f"/v1/packets/{pid}/releases",
            json={"revision": revision["revision"], "lane": "review"},
        )
        assert requested.status_code == 201, requested.text
    return pid, str(requested.json()["release_id"]), revision

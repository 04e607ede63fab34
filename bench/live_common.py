"""Shared parts of the live benchmarks (bench_live.py, bench_contention.py):
a fresh PostgreSQL schema with `quire serve` processes on it, the raw
baselines measured in the same run, percentiles, and holding off the
client's garbage collector while a figure is measured."""

from __future__ import annotations

import contextlib
import gc
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get(
    "QUIRE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
QUIRE = Path(sys.executable).with_name("quire")


# ------------------------------------------------------------------ set-up
def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Stack:
    url: str
    schema: str
    home: Path
    env: dict[str, str]
    servers: list[tuple[subprocess.Popen[bytes], int]] = field(default_factory=list)
    worker: subprocess.Popen[bytes] | None = None
    tokens: dict[str, str] = field(default_factory=dict)
    packet_id: str = ""
    #: Anything else a benchmark's `populate` wants to keep (e.g. more packets).
    extra: dict[str, Any] = field(default_factory=dict)

    def base(self, server: int) -> str:
        return f"http://127.0.0.1:{self.servers[server][1]}"

    def close(self) -> None:
        processes = [p for p, _ in self.servers]
        if self.worker is not None:
            processes.append(self.worker)
        for process in processes:
            process.kill()
            process.wait()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def set_up(
    home: Path,
    servers: int,
    worker: bool,
    populate: Callable[[Any, Stack], None],
    pool_size: int = 10,
) -> Stack:
    """A fresh schema, `quire db init`, `populate(app, stack)` in this
    process, then the servers (and the worker), ready."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_URL}?schema={schema}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUIRE_")}
    env.update(
        QUIRE_DATABASE_URL=url,
        QUIRE_SIGNING_KEY_PATH=str(home / "key.pem"),
        QUIRE_WS_MAX_MESSAGES_PER_SECOND="10000",
        QUIRE_POOL_SIZE=str(pool_size),
    )
    stack = Stack(url=url, schema=schema, home=home, env=env)
    subprocess.run(
        [str(QUIRE), "db", "init"], env=env, cwd=home, check=True, capture_output=True
    )

    from api.services import build_services
    from workspace.config import Settings

    services = build_services(Settings(database_url=url, signing_key_path=home / "k"))
    try:
        populate(services.app, stack)
    finally:
        services.close()

    if worker:  # as deployed: the projections and the sweeper run beside the API
        stack.worker = subprocess.Popen(
            [str(QUIRE), "worker"],
            env=env,
            cwd=home,
            stdout=(home / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
    for _ in range(servers):
        port = free_port()
        log = (home / f"serve-{port}.log").open("wb")
        process = subprocess.Popen(
            [str(QUIRE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        stack.servers.append((process, port))
    for process, port in stack.servers:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise SystemExit(f"quire serve on {port} exited; see {home}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"quire serve on {port} never became ready")
            time.sleep(0.1)
    return stack


# ------------------------------------------------------------ raw baselines
def raw_notify(rate: float | None, count: int) -> tuple[list[float], float]:
    """LISTEN/NOTIFY round trips: (latencies in seconds, round trips/s)."""
    channel = f"bench_{uuid.uuid4().hex[:8]}"
    received: dict[str, float] = {}
    ready = threading.Event()
    done = threading.Event()
    got = threading.Condition()

    def listen() -> None:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"LISTEN {channel}")
            ready.set()
            while not done.is_set():
                for note in conn.notifies(timeout=0.2, stop_after=1):
                    with got:
                        received[note.payload] = time.perf_counter()
                        got.notify_all()

    thread = threading.Thread(target=listen, daemon=True)
    thread.start()
    ready.wait(10)
    sent: dict[str, float] = {}
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        start = time.perf_counter()
        for n in range(count):
            if rate is not None:
                pause = start + n / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            key = str(n)
            sent[key] = time.perf_counter()
            conn.execute("SELECT pg_notify(%s, %s)", (channel, key))
            if rate is None:  # flat out: one round trip at a time
                with got:
                    got.wait_for(lambda k=key: k in received, timeout=5)  # type: ignore[misc]
        with got:
            got.wait_for(lambda: len(received) >= count, timeout=10)
        elapsed = time.perf_counter() - start
    done.set()
    thread.join(2)
    latencies = [received[k] - sent[k] for k in sent if k in received]
    return latencies, len(latencies) / elapsed


def raw_insert_commit(
    connections: int, seconds: float, recorder_like: bool = False
) -> tuple[float, list[float]]:
    """`connections` threads, each INSERT+COMMIT one small row at a time
    into a table of its own schema, flat out: (commits/s, commit latencies).

    `recorder_like` does what the event recorder does in each transaction:
    LOCK TABLE ... IN EXCLUSIVE MODE, NOTIFY, INSERT, COMMIT."""
    table = f"public.bench_raw_{uuid.uuid4().hex[:8]}"
    channel = f"bench_raw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(
            f"CREATE TABLE {table} (id bigserial PRIMARY KEY, k text, state bytea)"
        )
    counts = [0] * connections
    latencies: list[list[float]] = [[] for _ in range(connections)]
    start_gate = threading.Barrier(connections + 1)
    stop_at = [0.0]
    payload = b"x" * 300

    def work(i: int) -> None:
        with psycopg.connect(PG_URL) as conn:
            start_gate.wait()
            while time.perf_counter() < stop_at[0]:
                began = time.perf_counter()
                with conn.transaction():
                    if recorder_like:
                        conn.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
                        conn.execute(f"NOTIFY {channel}")
                    conn.execute(
                        f"INSERT INTO {table} (k, state) VALUES (%s, %s)",
                        (str(i), payload),
                    )
                latencies[i].append(time.perf_counter() - began)
                counts[i] += 1

    threads = [threading.Thread(target=work, args=(i,)) for i in range(connections)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + 3600
    start_gate.wait()
    started = time.perf_counter()
    stop_at[0] = started + seconds
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP TABLE {table}")
    return sum(counts) / elapsed, [x for per in latencies for x in per]


# ------------------------------------------------------------------ figures
@contextlib.contextmanager
def collector_held_off() -> Iterator[None]:
    """No garbage collection in this process while a figure is measured."""
    gc.collect()
    gc.freeze()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.unfreeze()
        gc.collect()


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values` (seconds) in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux `/proc`)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """The CPU seconds of every PostgreSQL process on this machine so far
    (the server, its backends and workers: all of it is the benchmark's
    cost on a quiet machine)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if (entry / "comm").read_text().startswith("postgres"):
                    total += cpu_seconds(int(entry.name))
    return total


@dataclass
class CpuShare:
    """CPU seconds spent by each part of a run between `start` and `stop`:
    the servers, this (client) process and PostgreSQL."""

    servers: list[int]
    spent: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        now = {
            f"quire serve {n + 1}": cpu_seconds(p) for n, p in enumerate(self.servers)
        }
        now["benchmark clients"] = cpu_seconds(os.getpid())
        now["PostgreSQL"] = postgres_cpu_seconds()
        return now

    def start(self) -> None:
        self.spent = self._now()

    def stop(self) -> None:
        self.spent = {k: v - self.spent[k] for k, v in self._now().items()}

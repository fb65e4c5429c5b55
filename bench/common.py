"""What the benchmarks share: a fresh database, and a real `aiusage serve` process on it."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg

AIUSAGE = str(Path(sys.executable).with_name("aiusage"))
PG_ADMIN = os.environ.get("AIUSAGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> bool:
    try:
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except psycopg.OperationalError:
        return False
    return True


@contextmanager
def fresh_database(kind: str, workdir: str) -> Iterator[str]:
    """The URL of an empty database: a SQLite file in `workdir`, or a PostgreSQL schema of
    its own, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir}/bench.db"
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        base = PG_ADMIN.replace("postgresql://", "postgresql+psycopg://", 1)
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def create_integration(env: dict[str, str], name: str = "bench") -> str:
    """Register an integration with the real CLI (migrating first, as an operator would);
    returns its API key."""
    subprocess.run([AIUSAGE, "db", "upgrade"], env=env, capture_output=True, check=True)
    created = subprocess.run(
        [AIUSAGE, "integrations", "create", name],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return created.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """`aiusage serve` on a free loopback port, once it answers /healthz; stopped after."""
    port = free_port()
    command = [AIUSAGE]
    if env.get("AIUSAGE_BENCH_PROFILE"):  # see bench/profiled_serve.py
        command = [sys.executable, str(Path(__file__).with_name("profiled_serve.py"))]
    server = subprocess.Popen(
        [*command, "serve", "--port", str(port)], env=env, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("aiusage serve did not come up")
            time.sleep(0.05)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=30)

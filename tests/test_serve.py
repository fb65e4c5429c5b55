"""`aiusage serve` as operators run it: a real process on a real port, stopped by SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, inspect, select

from bot.cli.main import main
from storage.db import Database
from storage.models import DailyRow
from tests.builders import bearer, event


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aiusage(*args: str, env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("aiusage")
    return subprocess.run([str(script), *args], env=env, capture_output=True, text=True, **kwargs)


def test_serve_migrates_accepts_events_and_stops_cleanly_on_sigterm(settings, tmp_path):
    # A January day on the real clock: raw events are kept for good, as an operator may ask.
    env = {
        **os.environ,
        "AIUSAGE_DATABASE_URL": settings.database_url,
        "AIUSAGE_RAW_RETENTION_DAYS": "0",
    }
    # Only `db upgrade` and `serve` migrate; creating an integration needs the schema first.
    aiusage("db", "upgrade", env=env, check=True)
    created = aiusage("integrations", "create", "claude-code", env=env, check=True)
    key = created.stdout.strip().splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("aiusage")), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60  # a start on a loaded machine can take a while
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.1)
        at = "2026-01-05T10:00:00Z"
        batch = {"events": [event(event_id=f"s{i}", occurred_at=at) for i in range(50)]}
        answer = httpx.post(f"{base}/api/v1/events", json=batch, headers=bearer(key)).json()
        assert answer["accepted"] == 50
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=20) == 0
    finally:
        if server.poll() is None:
            server.kill()
    report = aiusage("integrations", "list", env=env, check=True)
    assert "claude-code" in report.stdout
    # What was acknowledged is there after the stop.

    database = Database(settings.database_url, settings.timezone)
    try:
        with database.read() as conn:
            events = conn.execute(
                select(func.sum(DailyRow.events)).where(DailyRow.day == date(2026, 1, 5))
            ).scalar_one()
        assert events == 50
    finally:
        database.dispose()


def nothing_started(settings) -> bool:
    """Whether serve stopped before migrating (so before the scheduler and its jobs too)."""
    database = Database(settings.database_url, settings.timezone)
    try:
        with database.read() as conn:
            return not inspect(conn).has_table("alembic_version")
    finally:
        database.dispose()


@pytest.mark.one_database
@pytest.mark.parametrize("port", ["99999", "65536", "0", "-5"])
def test_a_port_outside_1_to_65535_is_refused_before_anything_starts(settings, capsys, port):
    # 99999 went to uvicorn, which served on 34463 (99999 - 65536) while logging 99999; 0
    # served on AIUSAGE_PORT; -5 started the scheduler, then exited 3 amid the log lines.
    code = main(["serve", "--port", port])
    assert code == 2
    assert capsys.readouterr().err == f"aiusage: --port: expected 1 to 65535, got {port}\n"
    assert nothing_started(settings)


@pytest.mark.one_database
def test_a_port_already_taken_is_one_line_and_exit_1_before_anything_starts(settings, capsys):
    # It used to migrate and start the scheduler (whose re-drive ran), then exit 3.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 1
    assert err == f"aiusage: cannot listen on 127.0.0.1:{port}: Address already in use\n"
    assert nothing_started(settings)


@pytest.mark.one_database
def test_a_listen_address_that_does_not_resolve_is_refused_with_one_line(settings, capsys):
    code = main(["serve", "--host", "nosuch.invalid", "--port", str(free_port())])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("aiusage: --host: cannot resolve 'nosuch.invalid': ")
    assert err.count("\n") == 1
    assert nothing_started(settings)

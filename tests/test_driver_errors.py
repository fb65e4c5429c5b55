"""Errors the database driver raises where storage speaks to it directly (the compiled reads,
COPY, SQLite's BEGIN) reach the service as SQLAlchemy's own errors do: a database that
cannot serve right now is 503 with Retry-After, which OTLP exporters retry (a 500 makes them
drop the data), and a fault of the code stays a 500."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from typing import Any

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from starlette.testclient import TestClient

import storage.engine
from bot.cli.main import main
from bot.composition import create_http_app
from storage.db import Database
from tests.builders import bearer, event
from tests.conftest import PG_ADMIN_URL
from tests.fakes.tcp_proxy import TcpProxy
from tests.import_helpers import DATA, figures
from tests.test_database_outage import (
    OTLP,
    assert_retry_shortly,
    end_the_backend_that_waits_on,
    holding_lock_on,
    requests_stored,
    serving_on,
    waiting_for_locks,
)


def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("lock timeouts and ended backends are PostgreSQL's")


def test_a_key_check_that_times_out_on_a_lock_is_503(database_url, services, db, api_key):
    """With `lock_timeout` in the URL, the key check waits behind a lock (a migration, an
    operator's LOCK TABLE) until PostgreSQL gives up on it: a 500 until the compiled read's
    driver errors were raised as SQLAlchemy's."""
    postgresql_only(database_url)
    impatient = database_url + "%20-clock_timeout%3D200"
    batch = {"events": [event(event_id="a")]}
    with serving_on(services, impatient) as client:
        with holding_lock_on(database_url, "integrations"):
            assert_retry_shortly(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))
            assert_retry_shortly(client.post("/v1/metrics", json=OTLP, headers=bearer(api_key)))
        again = client.post("/api/v1/events", json=batch, headers=bearer(api_key))
        assert again.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert requests_stored(db) == 1


def test_a_key_check_whose_connection_is_ended_is_503(database_url, services, db, api_key):
    """The backend is ended while the key check waits (a restart, a failover,
    pg_terminate_backend): retry, and the next request gets a working connection."""
    postgresql_only(database_url)
    batch = {"events": [event(event_id="a")]}
    with serving_on(services, waiting_for_locks(database_url)) as client:
        answers: list[Any] = []

        def send() -> None:
            answers.append(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))

        with holding_lock_on(database_url, "integrations") as locker:
            sender = threading.Thread(target=send)
            sender.start()
            end_the_backend_that_waits_on(locker)
            sender.join(20)
        assert_retry_shortly(answers[0])
        again = client.post("/api/v1/events", json=batch, headers=bearer(api_key))
        assert again.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert requests_stored(db) == 1


def backend_running(application: str, statement: str) -> int:
    """The pid of the backend of `application` running `statement`, once it does."""
    deadline = time.monotonic() + 30
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as watcher:
        while True:
            found = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND state = "
                "'active' AND query LIKE %s",
                (application, f"{statement}%"),
            ).fetchall()
            if found:
                return found[0][0]
            assert time.monotonic() < deadline, f"no backend ran {statement}"
            time.sleep(0.02)


def cancel(pid: int) -> None:
    """Cancel the backend's statement, as statement_timeout or an operator's
    pg_cancel_backend does. A backend reading COPY's rows acts on it once they come."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        assert admin.execute("SELECT pg_cancel_backend(%s)", (pid,)).fetchone() == (True,)
    time.sleep(0.5)  # the signal is taken at once; this is for a loaded machine


def test_a_copy_the_server_cancels_is_503(database_url, services, db, api_key):
    """Events are COPYed into a staging table on the driver's cursor: a COPY cancelled
    (statement_timeout, pg_cancel_backend) was a 500. Now it is a 503, and the resend is
    stored once."""
    postgresql_only(database_url)
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    application = f"copy-{uuid.uuid4().hex[:8]}"
    url = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    url += f"&application_name={application}"
    a, b = (event(event_id=name) for name in "ab")
    try:
        with serving_on(services, url) as client:
            first = client.post("/api/v1/events", json={"events": [a]}, headers=bearer(api_key))
            assert first.json()["accepted"] == 1
            batch = {"events": [a, b]}
            answers: list[Any] = []
            proxy.hold_after(b"COPY ")  # the server waits for the rows
            sender = threading.Thread(
                target=lambda: answers.append(
                    client.post("/api/v1/events", json=batch, headers=bearer(api_key))
                )
            )
            sender.start()
            try:
                cancel(backend_running(application, "COPY "))
            finally:
                proxy.release()
                sender.join(20)
            assert_retry_shortly(answers[0])
            again = client.post("/api/v1/events", json=batch, headers=bearer(api_key))
            assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    finally:
        proxy.stop()
    assert requests_stored(db) == 2


def test_an_import_whose_copy_the_server_cancels_says_so_in_one_line(
    database_url, db, monkeypatch, capsys
):
    """Reports' daily figures are COPYed too: the command says in a line that the database
    could not serve, to be run again, where it was the driver's traceback."""
    postgresql_only(database_url)
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    application = f"import-{uuid.uuid4().hex[:8]}"
    url = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
    monkeypatch.setenv("AIUSAGE_DATABASE_URL", f"{url}&application_name={application}")
    report = str(DATA / "cursor_daily_usage.json")
    codes: list[int] = []
    try:
        proxy.hold_after(b"COPY staged_usage_daily")
        command = threading.Thread(target=lambda: codes.append(main(["import", "cursor", report])))
        command.start()
        try:
            cancel(backend_running(application, "COPY staged_usage_daily"))
        finally:
            proxy.release()
            command.join(30)
        _, err = capsys.readouterr()
        assert codes == [1], err
        assert err.splitlines()[-1] == (
            "aiusage: AIUSAGE_DATABASE_URL: database unavailable: "
            "canceling statement due to user request"
        )
        assert "Traceback" not in err
        assert not figures(db)  # nothing of it was stored: run it again
        main(["import", "cursor", report])
        assert "database unavailable" not in capsys.readouterr().err
        assert figures(db)
    finally:
        proxy.stop()


def test_a_sqlite_write_lock_held_past_the_busy_timeout_is_503(
    database_url, services, db, api_key, monkeypatch
):
    """Another process holds SQLite's write lock longer than the busy timeout: BEGIN
    IMMEDIATE, which storage sends on the driver's connection, gives up with "database is
    locked", and the client is told to retry."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's file lock")
    monkeypatch.setattr(storage.engine, "SQLITE_BUSY_TIMEOUT_MS", 200)
    path = database_url.removeprefix("sqlite:///")
    batch = {"events": [event(event_id="a")]}
    with serving_on(services, database_url) as client:
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            assert_retry_shortly(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))
            other.execute("ROLLBACK")
        finally:
            other.close()
        again = client.post("/api/v1/events", json=batch, headers=bearer(api_key))
        assert again.json() == {"accepted": 1, "duplicates": 0, "rejected": []}
    assert requests_stored(db) == 1


def test_a_fault_of_the_code_in_a_compiled_read_stays_a_500(database_url, services, db, api_key):
    """A table that is not there is no outage to wait out: SQLAlchemy's ProgrammingError,
    raised on as a 500, not a 503 that would have clients resend for ever."""
    postgresql_only(database_url)
    schema = database_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"ALTER TABLE {schema}.integrations RENAME TO integrations_gone")
    services.db = Database(database_url, services.db.tz)
    try:
        with (
            TestClient(create_http_app(services)) as client,
            pytest.raises(sa_exc.ProgrammingError) as raised,
        ):
            client.post("/api/v1/events", json=event(), headers=bearer(api_key))
        with TestClient(create_http_app(services), raise_server_exceptions=False) as client:
            answer = client.post("/api/v1/events", json=event(), headers=bearer(api_key))
            assert answer.status_code == 500
    finally:
        services.db.dispose()
    assert isinstance(raised.value.orig, psycopg.errors.UndefinedTable)
    assert "integrations" in str(raised.value)

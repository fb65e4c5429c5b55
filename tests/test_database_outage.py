"""The database going away while the service runs. The HTTP API answers 503 with Retry-After,
which OTLP exporters and well-behaved clients retry; a 500 would tell an exporter its data is
bad, and it would drop it. A resend once the database is back is stored once."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import create_http_app
from bot.web import UNAVAILABLE_RETRY_AFTER_S
from storage.db import Database, lock_key, unavailable
from storage.engine import POSTGRES_CONNECT_DEFAULTS, POSTGRES_SERVER_SILENCE
from storage.integrations import KEY_PREFIX
from tests.builders import bearer, event
from tests.conftest import PG_ADMIN_URL
from tests.fakes.tcp_proxy import TcpProxy
from tests.fakes.vanishing_host import can_make_hosts, vanishing_host
from tests.readback import daily_usage
from tests.test_replicas import AIUSAGE
from tests.test_serve import aiusage, free_port

OTLP = {"resourceMetrics": []}
# Well formed, so checking it needs the database.
SOME_KEY = f"{KEY_PREFIX}_k1_secret"
UTC = ZoneInfo("UTC")


def assert_retry_shortly(response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == str(UNAVAILABLE_RETRY_AFTER_S)
    assert response.json() == {"error": "database unavailable: retry shortly"}


@contextmanager
def serving_on(services, url: str) -> Iterator[TestClient]:
    """The HTTP app on a database at `url`, its connections closed on the way out."""
    services.db = Database(url, services.db.tz)
    try:
        with TestClient(create_http_app(services), raise_server_exceptions=False) as client:
            yield client
    finally:
        services.db.dispose()


def requests_stored(db) -> int:
    [day] = daily_usage(db, date(2026, 11, 18), date(2026, 11, 18))
    return day.totals.requests


def test_a_database_that_will_not_open_is_503_with_retry_after(services, tmp_path, caplog):
    services.db = Database(f"sqlite:///{tmp_path}/no/such/dir/aiusage.db", services.db.tz)
    with TestClient(create_http_app(services), raise_server_exceptions=False) as client:
        assert_retry_shortly(client.post("/api/v1/events", json=event(), headers=bearer(SOME_KEY)))
        for path in ("/v1/metrics", "/v1/logs"):
            assert_retry_shortly(client.post(path, json=OTLP, headers=bearer(SOME_KEY)))
        documented = client.get("/openapi.json").json()["paths"]
    for path in ("/api/v1/events", "/v1/metrics", "/v1/logs"):
        assert "Retry-After" in documented[path]["post"]["responses"]["503"]["headers"]
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 3 and all(r.levelno == logging.WARNING for r in lines)
    assert "POST /v1/logs: database unavailable: " in lines[-1].getMessage()
    assert "unable to open database file" in lines[-1].getMessage()


def test_postgresql_going_away_and_back_loses_nothing(database_url, services, db, api_key):
    if database_url.startswith("sqlite"):
        pytest.skip("a network between the service and its database is PostgreSQL's")
    proxy = TcpProxy(("127.0.0.1", 5432)).start()
    a, b, c = (event(event_id=name) for name in "abc")
    try:
        url = database_url.replace("@127.0.0.1:5432/", f"@127.0.0.1:{proxy.port}/")
        with serving_on(services, url) as client:
            first = client.post("/api/v1/events", json={"events": [a, b]}, headers=bearer(api_key))
            assert first.json()["accepted"] == 2
            proxy.cut()  # every pooled connection dropped, new ones refused
            batch = {"events": [b, c]}
            assert_retry_shortly(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))
            assert_retry_shortly(client.post("/v1/metrics", json=OTLP, headers=bearer(api_key)))
            proxy.restore()
            again = client.post("/api/v1/events", json=batch, headers=bearer(api_key))
            assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
    finally:
        proxy.stop()
    assert requests_stored(db) == 3


def blocked_by(pid: int) -> list[int]:
    """The backends waiting on a lock that backend `pid` holds."""
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as watcher:
        found = watcher.execute(
            "SELECT pid FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))", (pid,)
        )
        return [row[0] for row in found]


def end_the_backend_that_waits_on(pid: int) -> None:
    """Wait for a backend to block on `pid`'s lock, mid-transaction, then end it as an
    administrator (or a server restart, or a failover) would."""
    deadline = time.monotonic() + 30
    while not (blocked := blocked_by(pid)):
        assert time.monotonic() < deadline, "nothing came to wait on the lock"
        time.sleep(0.02)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (blocked[0],))


def waiting_for_locks(database_url: str) -> str:
    """The URL with no lock or statement timeout: a request then waits on a held lock until
    the test ends its backend, however long a loaded machine takes to see it waiting (a
    request's own timeouts, 2 s for the lock and 5 s for the statement, would otherwise
    answer first: tests/test_lock_waits.py, tests/test_statement_timeout.py)."""
    unlimited = "options=-clock_timeout%3D0%20-cstatement_timeout%3D0%20-c"
    return database_url.replace("options=-c", unlimited, 1)


@contextmanager
def holding_lock_on(database_url: str, table: str, mode: str = "ACCESS EXCLUSIVE") -> Iterator[int]:
    """A lock on `table` in the test's schema (exclusive of readers too, unless `mode` says
    otherwise), held by a connection of the test's own; yields that connection's backend pid."""
    schema = database_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as locker:
        locker.execute(f"SET search_path = {schema}")
        with locker.transaction():
            locker.execute(f"LOCK TABLE {table} IN {mode} MODE")
            yield locker.info.backend_pid


def test_a_connection_ended_mid_request_is_503_not_500(database_url, services, db, api_key):
    """PostgreSQL ends the backend while a write is under way (a restart, a failover, an
    administrator's pg_terminate_backend): the client is told to retry, and the resend counts
    once. The error once raised while rolling back hid the lost connection, and was a 500."""
    if database_url.startswith("sqlite"):
        pytest.skip("a connection ended by the server is PostgreSQL's")
    a, b = (event(event_id=name) for name in "ab")
    with serving_on(services, waiting_for_locks(database_url)) as client:
        answers: list[Any] = []

        def send() -> None:
            batch = {"events": [a, b]}
            answers.append(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))

        with holding_lock_on(database_url, "usage_events") as locker:
            sender = threading.Thread(target=send)
            sender.start()
            end_the_backend_that_waits_on(locker)
            sender.join(20)
        assert_retry_shortly(answers[0])
        again = client.post("/api/v1/events", json={"events": [a, b]}, headers=bearer(api_key))
        assert again.json() == {"accepted": 2, "duplicates": 0, "rejected": []}
    assert requests_stored(db) == 2


def test_a_read_only_postgresql_is_503_and_not_ready(database_url, services, api_key):
    """A standby, or a primary demoted in a failover while its name still points at it,
    takes connections and answers reads but refuses every write."""
    if database_url.startswith("sqlite"):
        pytest.skip("read-only servers are PostgreSQL's")
    read_only = database_url + "%20-cdefault_transaction_read_only%3Don"
    assert "options=-csearch_path" in read_only  # one more setting for this engine alone
    with serving_on(services, read_only) as client:
        batch = {"events": [event()]}
        assert_retry_shortly(client.post("/api/v1/events", json=batch, headers=bearer(api_key)))
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert "503" in client.get("/openapi.json").json()["paths"]["/readyz"]["get"]["responses"]
        assert ready.json()["error"] == "database is read-only (a standby?): writes would fail"


def test_among_internal_errors_only_a_read_only_refusal_is_unavailability():
    def internal(orig: Exception) -> sa_exc.InternalError:
        return sa_exc.InternalError("INSERT INTO usage_events ...", None, orig)

    assert unavailable(internal(psycopg.errors.ReadOnlySqlTransaction()))
    assert not unavailable(internal(psycopg.errors.InFailedSqlTransaction()))
    assert not unavailable(sa_exc.IntegrityError("INSERT", None, Exception("duplicate key")))


def answered_within(seconds: float, call: Callable[[], Any]) -> Any:
    """`call()`'s result, failing the test if it has none in time (a hung call is left
    behind on a daemon thread)."""
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(call()), daemon=True)
    thread.start()
    thread.join(seconds)
    if not results:
        pytest.fail(f"no answer in {seconds:.0f} s")
    return results[0]


def test_postgresql_vanishing_is_503_in_seconds_not_minutes(database_url, services, db, api_key):
    """The database host drops off the network without a word (a failover, a cable cut):
    the kernel would retry a pooled connection's unanswered query for about 15 minutes and
    psycopg would wait 130 s for a new one, holding each request that long."""
    if database_url.startswith("sqlite"):
        pytest.skip("a network between the service and its database is PostgreSQL's")
    if why_not := can_make_hosts():
        pytest.skip(why_not)
    a, b, c = (event(event_id=name) for name in "abc")
    with vanishing_host() as host:
        proxy = TcpProxy(("127.0.0.1", 5432), host.address, host.socket).start()
        url = database_url.replace("@127.0.0.1:5432/", f"@{host.address}:{proxy.port}/")
        try:
            with serving_on(services, url) as client:

                def send(events: list[dict]) -> Any:
                    return client.post(
                        "/api/v1/events", json={"events": events}, headers=bearer(api_key)
                    )

                assert send([a, b]).json()["accepted"] == 2
                host.vanish()
                started = time.monotonic()
                try:
                    # The pooled connection's ping gives up (10 s), then a new one (10 s).
                    refused = answered_within(60, lambda: send([b, c]))
                finally:
                    host.come_back()  # so that a request still held can end, and the test
                assert_retry_shortly(refused)
                assert time.monotonic() - started < 30
                again = answered_within(30, lambda: send([b, c]))
                assert again.json() == {"accepted": 1, "duplicates": 1, "rejected": []}
        finally:
            proxy.stop()
    assert requests_stored(db) == 3


@pytest.mark.parametrize("query, gives_up_after", [("", 10), ("?connect_timeout=2", 2)])
def test_a_postgresql_that_never_answers_is_given_up_on(query, gives_up_after):
    """A server that takes the connection and then says nothing (hung, or half there) is
    given up on after 10 s, or the URL's own connect_timeout."""
    assert POSTGRES_CONNECT_DEFAULTS["connect_timeout"] == 10
    with socket.create_server(("127.0.0.1", 0)) as silent:  # the kernel accepts; nobody reads
        port = silent.getsockname()[1]
        quiet = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test{query}", UTC)
        started = time.monotonic()
        assert answered_within(30, quiet.ping) is False
        assert gives_up_after <= time.monotonic() - started < gives_up_after + 3
        quiet.dispose()


def test_the_server_ends_a_backend_whose_client_went_silent_in_seconds(database_url):
    """Its transaction's row locks and its advisory locks go with it. Seen from the server:
    each connection sets its keepalives, unless the URL's own options name one."""
    if database_url.startswith("sqlite"):
        pytest.skip("a network between the service and its database is PostgreSQL's")
    names = list(POSTGRES_SERVER_SILENCE)

    def settings(url: str) -> dict[str, str]:
        db = Database(url, UTC)
        try:
            with db.read() as conn:
                return {name: conn.exec_driver_sql(f"SHOW {name}").scalar_one() for name in names}
        finally:
            db.dispose()

    assert settings(database_url) == {
        "tcp_keepalives_idle": "10",  # seconds
        "tcp_keepalives_interval": "5",
        "tcp_keepalives_count": "3",
        "tcp_user_timeout": "10000",  # ms
        "client_connection_check_interval": "2s",  # a client that died (tests/test_cli_kills.py)
    }
    own = settings(database_url + "%20-ctcp_keepalives_idle%3D30")
    assert own["tcp_keepalives_idle"] == "30" and own["tcp_keepalives_count"] == "3"


def unreachable_url(database_url: str, tmp_path: Path) -> str:
    """A database of the same kind that cannot be reached, its URL holding a password."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/no/such/dir/aiusage.db"
    return "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/test"  # nothing listens on 1


def assert_one_line_unavailable(code: int, out: str, err: str) -> None:
    assert code == 1, err
    assert err.startswith("aiusage: AIUSAGE_DATABASE_URL: database unavailable: "), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "hunter2" not in out + err


@pytest.mark.parametrize("argv", [["report"], ["db", "upgrade"], ["integrations", "list"]])
def test_a_command_that_cannot_reach_the_database_says_so_in_one_line(
    database_url, settings, tmp_path, monkeypatch, capsys, argv
):
    """Exit 1, as any failure: the same command may succeed once the database is back."""
    monkeypatch.setenv("AIUSAGE_DATABASE_URL", unreachable_url(database_url, tmp_path))
    code = main(argv)
    assert_one_line_unavailable(code, *capsys.readouterr())


def test_serve_that_cannot_reach_the_database_stops_with_one_line(database_url, tmp_path):
    """Its supervisor (systemd, compose, Kubernetes) restarts it; one line says why."""
    env = {**os.environ, "AIUSAGE_DATABASE_URL": unreachable_url(database_url, tmp_path)}
    done = aiusage("serve", "--port", str(free_port()), env=env, timeout=60)
    assert_one_line_unavailable(done.returncode, done.stdout, done.stderr)


def test_a_command_that_loses_its_connection_midway_says_so_in_one_line(database_url, db, capsys):
    if database_url.startswith("sqlite"):
        pytest.skip("a connection ended by the server is PostgreSQL's")
    codes: list[int] = []
    with holding_lock_on(database_url, "integrations") as locker:
        command = threading.Thread(
            target=lambda: codes.append(main(["integrations", "create", "kiro"]))
        )
        command.start()
        end_the_backend_that_waits_on(locker)
        command.join(30)
    assert_one_line_unavailable(codes[0], *capsys.readouterr())


def test_serve_that_loses_its_connection_while_migrating_stops_with_one_line(database_url):
    """A database restarting or failing over as `serve` starts: no traceback, and nothing
    half migrated (all migrations run in one transaction)."""
    if database_url.startswith("sqlite"):
        pytest.skip("a connection ended by the server is PostgreSQL's")
    env = {**os.environ, "AIUSAGE_DATABASE_URL": database_url}
    holder = Database(database_url, UTC)
    try:
        with holder.engine.connect() as conn:
            # The lock replicas take turns under: `serve` waits on it inside its migration.
            conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": lock_key(conn, "migrate")})
            server = subprocess.Popen(
                [str(AIUSAGE), "serve", "--port", str(free_port())],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            try:
                end_the_backend_that_waits_on(conn.connection.driver_connection.info.backend_pid)
                out, err = server.communicate(timeout=60)
            finally:
                if server.poll() is None:
                    server.kill()
        assert_one_line_unavailable(server.returncode, out, err.splitlines()[-1] + "\n")
        assert "Traceback" not in err
        assert not holder.schema_is_current()
    finally:
        holder.dispose()

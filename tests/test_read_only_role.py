"""A PostgreSQL role with fewer rights than aiusage's own: one that may only read (a reporting
role, a replica's credentials) upgrades a database already at this version's schema, which
needs no write, and runs the commands that read; a command it may not run, and a `serve`
that cannot start, say why in one line, never a traceback with the statement and its
parameters (an integration's key id and hash); and no database error carries the
parameters, wherever it is logged."""

from __future__ import annotations

import signal
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import create_http_app
from storage.db import Database
from tests.builders import bearer, event
from tests.conftest import PG_ADMIN_URL
from tests.test_replicas import AIUSAGE, env_for, start, wait_ready
from tests.test_serve import free_port


@contextmanager
def role_that_may(database_url: str, *, select: bool) -> Iterator[str]:
    """A role of the test's own that may use the test's schema and, with `select`, read its
    tables, nothing more; yields the database URL as that role, and drops the role after."""
    if database_url.startswith("sqlite"):
        pytest.skip("roles are PostgreSQL's")
    schema = database_url.rsplit("search_path%3D", 1)[1]
    role, password = f"aiusage_ro_{uuid.uuid4().hex[:10]}", uuid.uuid4().hex
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'")
        admin.execute(f"GRANT USAGE ON SCHEMA {schema} TO {role}")
        if select:
            admin.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}")
    try:
        url = make_url(database_url).set(username=role, password=password)
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            admin.execute(f"DROP OWNED BY {role}")
            admin.execute(f"DROP ROLE {role}")


def test_a_role_that_may_only_read_upgrades_a_current_database_and_reads(
    database_url, db, monkeypatch, capsys
):
    """`db upgrade` has nothing to do, and did an INSERT … ON CONFLICT DO NOTHING of the
    zone already recorded, which needs INSERT even when the row is there: a traceback."""
    with role_that_may(database_url, select=True) as reader:
        monkeypatch.setenv("AIUSAGE_DATABASE_URL", reader)
        assert main(["db", "upgrade"]) == 0
        assert main(["integrations", "list"]) == 0
        assert main(["report"]) == 0
        assert "Traceback" not in capsys.readouterr().err


def test_a_command_the_role_may_not_run_says_why_in_one_line(database_url, db, monkeypatch, capsys):
    with role_that_may(database_url, select=True) as reader:
        monkeypatch.setenv("AIUSAGE_DATABASE_URL", reader)
        code = main(["integrations", "create", "kiro"])
    out, err = capsys.readouterr()
    assert code == 1
    assert err == (
        "aiusage: AIUSAGE_DATABASE_URL: database error: permission denied for table integrations\n"
    )
    assert out == ""  # no key printed: none was made


def test_serve_as_a_role_that_may_only_read_gets_past_its_migration(
    database_url, db, tmp_path: Path
):
    """Which has nothing to do: it wrote the zone already recorded, a 67-line traceback.
    (What the role may not write after that fails request by request, job by job.)"""
    with role_that_may(database_url, select=True) as reader:
        port = free_port()
        log = tmp_path / "serve.log"
        server = start(env_for(reader), port, log)
        try:
            wait_ready(port, timeout=60)
            server.send_signal(signal.SIGTERM)
            assert server.wait(timeout=30) == 0
        finally:
            if server.poll() is None:
                server.kill()
    assert "permission denied for table meta" not in log.read_text()


def test_serve_that_the_database_refuses_stops_with_one_line(database_url, db):
    """A role that may not even read the schema's tables: `serve` stops at its migration
    with one line naming the cause (exit 1, as any failure), not 60 lines of traceback."""
    with role_that_may(database_url, select=False) as nobody:
        done = subprocess.run(
            [AIUSAGE, "serve", "--port", str(free_port())],
            env=env_for(nobody),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        "aiusage: AIUSAGE_DATABASE_URL: database error: "
        "permission denied for table alembic_version\n"
    )


def test_a_database_error_never_carries_the_statements_parameters(
    database_url, services, db, api_key
):
    """What the logs keep of a failed request: the statement, never its values (people's
    emails, an integration's key hash)."""
    with role_that_may(database_url, select=True) as reader:
        services.db = Database(reader, services.db.tz)
        try:
            with (
                TestClient(create_http_app(services)) as client,
                pytest.raises(sa_exc.ProgrammingError) as raised,
            ):
                client.post(
                    "/api/v1/events",
                    json=event(user={"email": "dana@example.com"}),
                    headers=bearer(api_key),
                )
        finally:
            services.db.dispose()
    said = str(raised.value)
    assert "permission denied" in said
    assert "dana@example.com" not in said
    assert "[SQL parameters hidden due to hide_parameters=True]" in said

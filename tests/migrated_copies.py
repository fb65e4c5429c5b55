"""A migrated database for each test without running every migration for each test.

Migrating an empty database took a test 0.1 s on SQLite and 0.3 s on PostgreSQL, more than
most tests themselves. Each test process migrates one database per time zone the real way
(`Database.upgrade`), then gives every test a copy of it: the file copied on SQLite, the
schema's `pg_dump` replayed into the test's own schema on PostgreSQL. Where `pg_dump` is not
installed (or cannot dump this server), each PostgreSQL test is migrated as before. Tests of
migrating itself (`db upgrade`, `serve` and the tests of migrations) migrate for real.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy.engine import make_url

from storage.db import Database


class MigratedCopies:
    """Templates migrated once per process and zone, copied into each test's database."""

    def __init__(self, workdir: Path, pg_admin_url: str) -> None:
        self.workdir = workdir
        self.pg_admin_url = pg_admin_url
        self._sqlite: dict[str, Path] = {}
        self._postgres: dict[str, str | None] = {}
        self._pg_dump = shutil.which("pg_dump")

    def fill(self, database_url: str, tz: ZoneInfo) -> None:
        """Make the empty database at `database_url` what `Database.upgrade` would make it."""
        if database_url.startswith("sqlite"):
            shutil.copyfile(self._sqlite_template(tz), _sqlite_path(database_url))
            return
        schema = _schema(database_url)
        script = self._postgres_script(database_url, tz)
        if script is None:
            migrate(database_url, tz)
            return
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(script.replace(TEMPLATE_SCHEMA, schema).encode())

    def _sqlite_template(self, tz: ZoneInfo) -> Path:
        if tz.key not in self._sqlite:
            path = self.workdir / f"template-{len(self._sqlite)}.db"
            migrate(f"sqlite:///{path}", tz)
            with sqlite3.connect(path) as conn:  # everything in the one file we copy
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            self._sqlite[tz.key] = path
        return self._sqlite[tz.key]

    def _postgres_script(self, database_url: str, tz: ZoneInfo) -> str | None:
        """The SQL that rebuilds a migrated schema, named TEMPLATE_SCHEMA; None without
        pg_dump. Migrated in the first test's own schema, dumped, and that schema emptied."""
        if tz.key not in self._postgres:
            self._postgres[tz.key] = None
            if self._pg_dump is not None:
                try:
                    self._postgres[tz.key] = self._dump(database_url, tz)
                except subprocess.CalledProcessError:  # e.g. older than the server: migrate
                    self._pg_dump = None
        return self._postgres[tz.key]

    def _dump(self, database_url: str, tz: ZoneInfo) -> str:
        schema = _schema(database_url)
        migrate(database_url, tz)
        url = make_url(self.pg_admin_url)
        dumped = subprocess.run(
            [
                str(self._pg_dump),
                *("--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)),
                *("--username", url.username or "postgres", "--dbname", url.database or "test"),
                *("--schema", schema, "--inserts", "--no-owner", "--no-privileges"),
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        with psycopg.connect(self.pg_admin_url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")
        lines = [
            line
            for line in dumped.replace(schema, TEMPLATE_SCHEMA).splitlines()
            # psql's meta-commands (\restrict) and the schema itself, which the test makes.
            if not line.startswith("\\") and line != f"CREATE SCHEMA {TEMPLATE_SCHEMA};"
        ]
        return "\n".join(lines)


# Test schemas are `t_` and twelve hex digits (conftest.py); this cannot be one of them.
TEMPLATE_SCHEMA = "aiusage_template_schema"


def migrate(database_url: str, tz: ZoneInfo) -> None:
    database = Database(database_url, tz)
    try:
        database.upgrade()
    finally:
        database.dispose()


def _sqlite_path(database_url: str) -> str:
    return database_url.removeprefix("sqlite:///")


def _schema(database_url: str) -> str:
    return database_url.rsplit("search_path%3D", 1)[1]

"""`aiusage db upgrade` killed with SIGKILL in the middle of its migrations: the database is
left wholly at the old revision, with every figure it held, and the next upgrade completes.
On both databases, with real processes and enough rows that the migrations take a while."""

from __future__ import annotations

import sqlite3
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from alembic import command
from sqlalchemy import func, insert, select, text

from storage.db import SCHEMA_HEAD, Database, alembic_config
from storage.figures import REPORTED
from storage.models import DailyRow
from storage.people import resolve_identities
from tests.fault_helpers import AIUSAGE
from tests.test_replicas import env_for

OLD = "0120_figures"  # a revision seven migrations back, some of which rewrite the rollup
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def fill(db: Database, people: int = 400, days: int = 60) -> None:
    """A rollup row a person and day, with figures that differ from row to row."""
    with db.write() as conn:
        ids = resolve_identities(conn, [("slack", f"U{n:06d}") for n in range(people)], NOW)
        rows = [
            {
                **dict.fromkeys(REPORTED),
                "identity_id": ids[("slack", f"U{n:06d}")],
                "day": date(2026, 11, 20) - timedelta(days=d),
                "tool": "copilot",
                "kind": "inline_suggestion",
                "origin": "events",
                "requests": n + d,
                "input_tokens": 1000 * n + d,
                "output_tokens": 0,
                "suggestions_shown": 10,
                "suggestions_accepted": d % 10,
                "events": 1,
            }
            for n in range(people)
            for d in range(days)
        ]
        conn.execute(insert(DailyRow), rows)


def figures(db: Database) -> tuple[object, ...]:
    with db.read() as conn:
        return tuple(
            conn.execute(
                select(
                    func.count(),
                    func.sum(DailyRow.requests),
                    func.sum(DailyRow.input_tokens),
                    func.sum(DailyRow.suggestions_accepted),
                )
            ).one()
        )


def revision(db: Database) -> str:
    with db.engine.connect() as conn:
        return str(conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def migrating(db: Database, application: str) -> bool:
    """Whether the upgrade's transaction has written anything yet (and not committed): on
    SQLite it then holds the write lock, which its first DDL statement takes."""
    if db.is_sqlite:
        probe = sqlite3.connect(db.engine.url.database or "", timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return True
        finally:
            probe.close()
    with db.engine.connect() as conn:
        return bool(
            conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = :name "
                    "AND backend_xid IS NOT NULL"
                ),
                {"name": application},
            ).scalar_one()
        )


def test_an_upgrade_killed_mid_way_leaves_the_old_schema_whole_and_the_next_one_completes(
    database_url,
):
    db = Database(database_url, ZoneInfo("UTC"))
    db.upgrade()
    fill(db)
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), OLD)
        conn.commit()
    before = figures(db)
    assert before[0] == 24_000
    db.dispose()

    application = f"aiusage-migrate-{uuid.uuid4().hex[:8]}"
    url = database_url if db.is_sqlite else f"{database_url}&application_name={application}"
    upgrade = subprocess.Popen(
        [AIUSAGE, "db", "upgrade"],
        env=env_for(url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        # Polled every millisecond: on SQLite these migrations write for only about 45 ms.
        deadline = time.monotonic() + 60
        while not migrating(db, application):
            assert upgrade.poll() is None, "the upgrade finished before it was seen writing"
            assert time.monotonic() < deadline, "the upgrade never started writing"
            time.sleep(0.001)
    finally:
        upgrade.kill()
        upgrade.wait(timeout=10)

    assert revision(db) == OLD  # nothing of the migrations it had run is left
    assert figures(db) == before
    db.dispose()

    again = subprocess.run(
        [AIUSAGE, "db", "upgrade"], env=env_for(database_url), capture_output=True, text=True
    )
    assert again.returncode == 0, again.stderr
    assert revision(db) == SCHEMA_HEAD
    assert figures(db) == before
    db.dispose()

"""One vendor's report written by two processes at once (`aiusage import` and `aiusage
connectors sync` of the same source, two syncs of one connector, a manual sync while the
scheduler's runs): its figures end as one copy, never summed twice. On PostgreSQL, where
transactions of different processes overlap; the test holds a lock of its own so that they
do, every time. SQLite takes one writer at a time, and a connector's day is one transaction
there (`storage.connectors.DayWriter`)."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import date

import pytest
from sqlalchemy import func, insert, select

from jobs.connectors import CHUNK_ROWS
from storage.models import DailyRow, IdentityRow
from tests.connector_helpers import claude_record, cursor_record
from tests.fault_helpers import AIUSAGE, wait_until
from tests.org_weekly_helpers import cli
from tests.pg_stalls import holding_rows, waiting_on_locks

DAY = date(2026, 8, 3)


@pytest.fixture(autouse=True)
def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes one writer at a time; a connector's day is one transaction")


def _start(*argv: object) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [AIUSAGE, *map(str, argv)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _finished(*procs: subprocess.Popen[bytes]) -> list[str]:
    """Each process's stderr, once it has exited 0."""
    said = []
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
        said.append(err.decode())
    return said


def _sums(db) -> tuple[int, int]:
    with db.read() as conn:
        rows, commits = conn.execute(
            select(func.count(), func.coalesce(func.sum(DailyRow.commits), 0))
        ).one()
    return rows, commits


def test_two_syncs_of_a_day_of_two_writes_store_it_once(db, settings, anthropic, now):
    """A day of more records than one write takes (`jobs.connectors.CHUNK_ROWS`): the first
    sync writes its first part, then waits for a person of its second part whom another
    transaction is making (the test's); a second sync of the same day runs meanwhile, as
    the scheduler's run beside a manual one would. Claude Code's records add up, so a part
    written twice shows."""
    records = [claude_record(f"dev{n:05d}@example.com", DAY) for n in range(CHUNK_ROWS + 1000)]
    anthropic.records, anthropic.page_size = {DAY: records}, 1000
    argv = ("connectors", "sync", "claude-code", "--since", DAY, "--until", DAY)
    with db.engine.connect() as holding:
        holding.execute(
            insert(IdentityRow).values(kind="email", value="dev05500@example.com", created_at=now)
        )
        first = _start(*argv)
        wait_until("the first sync waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        second = _start(*argv)
        wait_until("the second sync waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
        holding.commit()
    _finished(first, second)
    assert _sums(db) == (len(records), 2 * len(records))  # two commits a record, each once


@pytest.mark.parametrize("other", ["import", "sync"])
def test_a_report_imported_while_the_same_report_is_written_counts_once(
    db, settings, cursor_api, tmp_path, other
):
    """An import of a Cursor report, beside another import of it or a sync of the Cursor
    connector over the same day. Both start while the day's earlier figures are held by
    another transaction (the test's), so each has begun clearing them before the other
    writes: the second then met the first's new rows and added to them."""
    people = [f"dev{n}@example.com" for n in range(40)]
    cursor_api.records = [cursor_record(email, DAY, tabs=10) for email in people]
    report = tmp_path / "cursor.json"
    report.write_text(json.dumps({"data": cursor_api.records}))
    cli("import", "cursor", report)  # yesterday's import: the figures both replace
    once = _tabs(db)
    assert once == 10 * len(people)
    argv = {
        "import": ("import", "cursor", report),
        "sync": ("connectors", "sync", "cursor", "--since", DAY, "--until", DAY),
    }[other]
    with holding_rows(settings.database_url, "SELECT id FROM usage_daily"):
        first = _start("import", "cursor", report)
        wait_until("the import waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        second = _start(*argv)
        wait_until(f"the {other} waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
    _, said = _finished(first, second)
    assert _tabs(db) == once
    if other == "import":
        assert "aiusage: waiting for another import or sync of cursor usage to finish" in said


def _tabs(db) -> int:
    with db.read() as conn:
        return conn.scalar(select(func.sum(DailyRow.suggestions_shown)))

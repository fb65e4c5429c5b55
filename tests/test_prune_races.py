"""`aiusage db prune` beside another prune (an operator's while `serve`'s daily run is under
way) on PostgreSQL: what each prints it deleted, summed, is what went, each row counted by
the process that deleted it. The test holds the rows itself so that both have found them
before either deletes, every time. SQLite takes one writer at a time."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.settings import load_settings
from storage.admin import record_audit
from storage.post_models import AuditRow
from tests.fault_helpers import AIUSAGE, wait_until
from tests.pg_stalls import holding_rows, waiting_on_locks

OLD = 5


@pytest.fixture(autouse=True)
def postgresql_only(database_url: str) -> None:
    if database_url.startswith("sqlite"):
        pytest.skip("SQLite takes one writer at a time")


@pytest.fixture
def settings(settings, monkeypatch):
    monkeypatch.setenv("AIUSAGE_AUDIT_RETENTION_DAYS", "10")
    return load_settings()


def _prune() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [AIUSAGE, "db", "prune"], env=dict(os.environ), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip


def _said_deleted(proc: subprocess.Popen[bytes]) -> int:
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    [count] = re.findall(r"^deleted (\d+) audit log entries$", out.decode(), re.MULTILINE)
    return int(count)


def test_two_prunes_at_once_count_each_deleted_row_once(db, settings):
    """Both prunes found the same old audit entries, and waited to delete them on the test's
    lock; the first deleted them, the second none, but each said it had deleted them all."""
    long_ago = datetime.now(UTC) - timedelta(days=30)
    for n in range(OLD):
        record_audit(db, "cli:test", f"old.{n}", "done", long_ago)
    old = f"SELECT id FROM audit_log WHERE at < '{long_ago + timedelta(days=1)}'"
    with holding_rows(settings.database_url, old):
        first = _prune()
        wait_until("the first prune waiting", lambda: waiting_on_locks(db) == 1, timeout=60)
        second = _prune()
        wait_until("the second prune waiting", lambda: waiting_on_locks(db) == 2, timeout=60)
    assert _said_deleted(first) + _said_deleted(second) == OLD
    with db.read() as conn:
        assert conn.scalar(select(func.count()).where(AuditRow.at < long_ago + timedelta(1))) == 0

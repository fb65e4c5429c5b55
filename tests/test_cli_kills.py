"""Operator commands killed with SIGKILL part way through their work, then run again: an
import killed mid-file counts each row once, a forget killed while Slack holds its Home (or
while it waits for a lock) finishes when run again and leaves nothing of the person, and on
PostgreSQL a killed command's database session goes with it rather than keep its locks.
Real `aiusage` processes, on both databases; each stalled at its point by what it waits on
from outside (a file not yet written, the fake Slack, a lock the test holds)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from bot.cli.main import main
from bot.demo.fake_slack import FakeSlack
from storage.db import Database
from storage.event_partitions import ensure_month_partitions, month_partitions
from storage.events import record_events
from storage.integrations import create_integration
from storage.models import DailyRow, EventRow, IdentityRow, PersonRow
from storage.people import link_email
from storage.records import UsageEvent, UserRef
from tests.fault_helpers import (
    Aiusage,
    held_call_runner,
    killed_while_slack_holds,
    open_for_writing,
    wait_until,
)

DAY = "11-16-2026"
PEOPLE = 1600
REPEATED = 200  # the first people again at the end of the file: their later row counts
# Each line padded (an ignored column) so the import's first read of the file, 1 MiB, holds
# between one and two of its 1,000-row chunks: it commits one, then waits for more file.
PAD = "x" * 680


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack()
    server.add_user("UALICE", email="alice@example.com")
    yield server.start()
    server.stop()


@pytest.fixture
def procs(database_url: str, fake: FakeSlack, tmp_path: Path) -> Iterator[Aiusage]:
    runner = held_call_runner(database_url, fake.api_url, tmp_path, "xoxb-cli-kills")
    yield runner
    runner.stop_all()


def kiro_report() -> bytes:
    lines = ["Date,UserId,Client_Type,Total_Messages,Note"]
    lines += [f"{DAY},u{n:05d},IDE,{n % 7 + 1},{PAD}" for n in range(PEOPLE)]
    lines += [f"{DAY},u{n:05d},IDE,100,{PAD}" for n in range(REPEATED)]
    return ("\n".join(lines) + "\n").encode()


def rollup(db: Database) -> tuple[int, int]:
    with db.read() as conn:
        count, total = conn.execute(select(func.count(), func.sum(DailyRow.requests))).one()
    return int(count), int(total or 0)


def test_an_import_killed_mid_file_counts_each_row_once_when_run_again(
    db, settings, procs, tmp_path
):
    report = kiro_report()
    fifo = tmp_path / "kiro.csv"
    os.mkfifo(fifo)
    importing = procs.start("import", "kiro", str(fifo))
    writer = wait_until("the import to open its file", lambda: open_for_writing(fifo, importing))
    try:
        # A little past its first read: the rest of the file, not yet written, is waited for.
        os.write(writer, report[: 2**20 + 2**16])
        wait_until("the first chunk committed", lambda: rollup(db)[0] >= 1000, timeout=60)
        assert importing.poll() is None
        procs.kill(importing)
    finally:
        os.close(writer)
    assert rollup(db)[0] == 1000  # killed part way: its first chunk alone is stored

    whole = tmp_path / "whole.csv"
    whole.write_bytes(report)
    assert main(["import", "kiro", str(whole)]) == 0  # run again (here: one start-up less)
    want = sum(100 if n < REPEATED else n % 7 + 1 for n in range(PEOPLE))
    assert rollup(db) == (PEOPLE, want)  # every person once, the later row of each counted


def alice_with_usage(db: Database, tmp_path: Path, now: Any) -> None:
    link_email(db, "alice@example.com", "UALICE", now)
    report = tmp_path / "alice.csv"
    report.write_text(
        f"Date,UserId,Client_Type,Total_Messages,Email\n{DAY},u1,IDE,5,alice@example.com\n"
    )
    assert main(["import", "kiro", str(report)]) == 0
    assert alice_stored(db) == (1, 2, 1)


def alice_stored(db: Database) -> tuple[int, int, int]:
    """Her person, her identities and her rollup rows, as counts."""
    with db.read() as conn:
        person = conn.scalar(select(func.count()).where(PersonRow.slack_user_id == "UALICE"))
        identities = conn.scalar(
            select(func.count()).where(IdentityRow.value.in_(["alice@example.com", "UALICE"]))
        )
        daily = conn.scalar(select(func.count()).select_from(DailyRow))
    return int(person or 0), int(identities or 0), int(daily or 0)


def test_a_forget_killed_while_slack_holds_the_home_erase_is_finished_by_a_rerun(
    db, settings, fake, procs, tmp_path, now, monkeypatch
):
    """Killed after its deletion committed, before Slack took the emptied App Home: nothing
    of her is stored, and the forget run again (by her Slack ID) empties the Home."""
    alice_with_usage(db, tmp_path, now)
    # The publish before the commit goes through; the one after it is held, then dropped
    # unanswered: the Home is not emptied.
    killed_while_slack_holds(
        fake,
        procs,
        "views.publish",
        ("people", "forget", "UALICE"),
        lambda _: alice_stored(db)[0] > 0,
    )
    assert alice_stored(db) == (0, 0, 0)

    fake.before("views.publish", lambda _params: True)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli-kills")
    assert main(["people", "forget", "UALICE"]) == 0
    for publish in fake.calls_to("views.publish")[2:]:  # by her Slack ID, as before
        assert publish.params["user_id"] == "UALICE"
        assert "Your aiusage data is deleted" in str(publish.params["view"])
    assert len(fake.calls_to("views.publish")) == 4  # before its commit and after it
    assert alice_stored(db) == (0, 0, 0)


def test_a_forget_by_email_killed_after_its_commit_has_already_emptied_her_home(
    db, settings, fake, procs, tmp_path, now, monkeypatch
):
    """By email, a rerun cannot empty her Home: her Slack ID is stored nowhere once she is
    forgotten (the tombstones are hashed). So the forget empties it before its commit too:
    killed while Slack holds the publish after the commit, her tab already shows nothing."""
    alice_with_usage(db, tmp_path, now)
    published: list[dict[str, Any]] = []

    def before_commit(params: dict[str, Any]) -> bool:  # Slack takes it; after, it is held
        if alice_stored(db)[0]:
            published.append(params)
            return True
        return False

    command = ("people", "forget", "alice@example.com")
    killed_while_slack_holds(fake, procs, "views.publish", command, before_commit)
    assert alice_stored(db) == (0, 0, 0)
    [last] = published
    assert last["user_id"] == "UALICE"
    assert "Your aiusage data is deleted" in str(last["view"])

    fake.before("views.publish", lambda _params: True)
    monkeypatch.setenv("SLACK_API_URL", fake.api_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-cli-kills")
    calls = len(fake.calls_to("views.publish"))
    assert main(["people", "forget", "alice@example.com"]) == 0  # nothing left; no Slack ID
    assert len(fake.calls_to("views.publish")) == calls


def test_a_forget_killed_while_waiting_for_a_lock_lets_her_rows_go_and_a_rerun_finishes(
    db, settings, procs, tmp_path, now, database_url
):
    """PostgreSQL: the forget has locked her identities and waits for her person row, which
    the test holds. Killed, its session ends at once (and her rows with it), rather than wait
    on as long as the test holds the row and only then notice its client gone; meanwhile
    every batch of her usage would queue on her identities, and a second forget behind it."""
    if db.is_sqlite:
        pytest.skip("SQLite's locks are the process's own, gone with it")
    alice_with_usage(db, tmp_path, now)
    name = f"aiusage-forget-{uuid.uuid4().hex[:8]}"
    procs.env["AIUSAGE_DATABASE_URL"] = f"{database_url}&application_name={name}"
    with db.engine.connect() as holding:
        holding.execute(
            select(PersonRow.id).where(PersonRow.slack_user_id == "UALICE").with_for_update()
        ).all()
        forget = procs.start("people", "forget", "UALICE")
        wait_until("the forget to wait for her person row", lambda: _waiting(db, name), 60)
        procs.kill(forget)
        wait_until("the killed forget's session gone", lambda: not _sessions(db, name), 5)
        assert _identities_free(db)
        holding.rollback()
    assert alice_stored(db) == (1, 2, 1)  # nothing of it committed

    assert main(["people", "forget", "UALICE"]) == 0
    assert alice_stored(db) == (0, 0, 0)


def _sessions(db: Database, name: str) -> list[Any]:
    with db.engine.connect() as conn:
        return list(
            conn.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE application_name = :n"),
                {"n": name},
            )
        )


def _waiting(db: Database, name: str) -> bool:
    return any(row[0] == "Lock" for row in _sessions(db, name))


def _identities_free(db: Database) -> bool:
    """Whether her identity rows can be locked at once (an ingest batch's key share lock
    on them would wait otherwise)."""
    with db.engine.connect() as conn:
        rows = conn.execute(
            select(IdentityRow.id)
            .where(IdentityRow.value == "alice@example.com")
            .with_for_update(nowait=True)
        ).all()
        conn.rollback()
    return len(rows) == 1


def test_a_prune_killed_mid_drop_keeps_that_month_whole_and_the_next_drops_it(
    db, settings, procs, now, database_url, monkeypatch
):
    """PostgreSQL: `db prune` drops the raw events of past months a partition at a time.
    Killed while a month's DROP waits for a lock the test holds, that month is whole and
    its session gone; the next prune drops it, and every month before the cut is gone."""
    if db.is_sqlite:
        pytest.skip("partitions are PostgreSQL's; SQLite deletes in batches")
    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", "90")
    ensure_month_partitions(db, date(2026, 6, 10), ahead=2)  # as months of running made them
    integration, _ = create_integration(db, "kiro", now)
    moments = [datetime(2026, month, day, 12, tzinfo=UTC) for month in (6, 7, 8) for day in (3, 9)]
    record_events(db, integration.id, month_events(moments), now)
    name = f"aiusage-prune-{uuid.uuid4().hex[:8]}"
    procs.env |= {"AIUSAGE_DATABASE_URL": f"{database_url}&application_name={name}",
                  "AIUSAGE_RAW_RETENTION_DAYS": "90"}  # fmt: skip
    with db.engine.connect() as holding:
        # SHARE: both the DROP and a delete of its rows, should the DROP give up, wait.
        holding.execute(text(f"LOCK TABLE {JULY} IN SHARE MODE"))
        prune = procs.start("db", "prune")
        query = wait_until("the prune to wait for July", lambda: _waiting_query(db, name), 60)
        assert query.startswith(f"DROP TABLE {JULY}")
        procs.kill(prune)
        wait_until("the killed prune's session gone", lambda: not _sessions(db, name), 5)
        holding.rollback()
    left = month_partitions_now(db)
    assert "usage_events_y2026m06" not in left  # dropped before July
    assert left[JULY] == 2  # whole

    assert main(["db", "prune"]) == 0
    left = month_partitions_now(db)
    assert not {"usage_events_y2026m06", JULY, "usage_events_y2026m08"} & left.keys()
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(EventRow)) == 0


JULY = "usage_events_y2026m07"


def month_events(moments: list[datetime]) -> list[UsageEvent]:
    return [
        UsageEvent(event_id=f"e{i}", user=UserRef(slack_user_id="UALICE"), occurred_at=moment,
                   tool="kiro", input_tokens=1)
        for i, moment in enumerate(moments)
    ]  # fmt: skip


def month_partitions_now(db: Database) -> dict[str, int]:
    """Each month partition of the raw events, and how many events it holds."""
    with db.read() as conn:
        names = month_partitions(conn).values()
        return {n: conn.scalar(text(f"SELECT count(*) FROM {n}")) or 0 for n in names}


def _waiting_query(db: Database, name: str) -> str | None:
    with db.engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT query FROM pg_stat_activity WHERE application_name = :n "
                "AND wait_event_type = 'Lock'"
            ),
            {"n": name},
        )

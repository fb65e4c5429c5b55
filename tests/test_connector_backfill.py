"""A connector's days written several to a transaction, with one whole-day weekly mark in
place of the row triggers' marks: the weekly rollup still reads what summing the daily rows
through the one-source rule gives, after a sync, a re-sync of revised days, an import and a
forget; and a sync killed with SIGKILL leaves every day either stored and recorded or not
there at all, to be fetched again. Through the real command line, on both databases."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, insert, select

import storage.imports
from jobs.connectors import CHUNK_ROWS
from storage.connectors import connector_states
from storage.models import DailyRow, IdentityRow, WeeklyStaleRow
from storage.people import link_email
from tests.builders import event
from tests.connector_helpers import claude_record, copilot_record
from tests.fakes.vendors import FakeGitHub
from tests.fault_helpers import AIUSAGE, wait_until
from tests.org_weekly_helpers import (
    PEOPLE,
    WEEK,
    assert_reads_match_every_row,
    at,
    cli,
    cursor_report,
    push,
    requests_of,
)
from tests.pg_stalls import waiting_on_locks
from tests.test_connector_groups import row_triggers

DAYS = [WEEK - timedelta(weeks=3) + timedelta(days=n) for n in range(17)]  # across 3 weeks


def report(day: date, who: tuple[str, ...], scale: int = 1) -> list[list[dict[str, Any]]]:
    return [[copilot_record(f"gh-{name}", day, 3 * scale + n, scale + n % 3)
             for n, name in enumerate(who)]]  # fmt: skip


@pytest.mark.postgres
@pytest.mark.parametrize("whole_day_mark_people", [1, 1_000_000], ids=["whole-day", "per-row"])
def test_the_weekly_rollup_reads_the_daily_rows_after_connector_syncs(
    slack, api_key, db, now, github, tmp_path, monkeypatch, whole_day_mark_people
):
    monkeypatch.setattr(storage.imports, "WHOLE_DAY_MARK_PEOPLE", whole_day_mark_people)
    for name in PEOPLE:
        link_email(db, f"{name}@example.com", f"U{name.upper()}", now)
    for name in PEOPLE[:5]:  # finn's Copilot login stays unlinked
        cli("people", "link", f"copilot:gh-{name}", f"U{name.upper()}")
    # Events on some of the same days, so the one-source rule has something to choose.
    push(slack.http, api_key, *[
        event(user={"slack_user_id": f"U{name.upper()}"}, occurred_at=at(day), tool="copilot",
              requests=2 + i)
        for i, name in enumerate(PEOPLE) for day in DAYS[::4]
    ])  # fmt: skip
    assert_reads_match_every_row(db)  # every week summed, no mark left

    github.users = {day: report(day, PEOPLE) for day in DAYS}
    cli("connectors", "sync", "copilot", "--since", DAYS[0], "--until", DAYS[-1])
    assert_reads_match_every_row(db)

    # Revised days: new figures, and bob dropped from some of them.
    before = requests_of(db, "UALICE")
    revised = DAYS[3:12]
    github.users = {day: report(day, PEOPLE[:1] + PEOPLE[2:], scale=5) for day in revised}
    cli("connectors", "sync", "copilot", "--since", revised[0], "--until", revised[-1])
    assert requests_of(db, "UALICE") != before
    assert_reads_match_every_row(db)

    path = tmp_path / "cursor.json"
    cursor_report(path, [(DAYS[5], "alice", 40), (DAYS[9], "carol", 3)])
    cli("import", "cursor", path)
    assert_reads_match_every_row(db)

    cli("people", "forget", "UBOB")
    assert_reads_match_every_row(db)


@pytest.mark.postgres
def test_a_sync_killed_part_way_loses_no_recorded_day_and_the_next_run_completes_it(
    db, settings, monkeypatch
):
    # Enough people for whole-day marks (`storage.imports.WHOLE_DAY_MARK_PEOPLE`).
    people = tuple(f"p{n:03d}" for n in range(500))
    days = [date(2026, 8, 1) + timedelta(days=n) for n in range(40)]
    github = FakeGitHub()
    github.users = {day: report(day, people) for day in days}
    monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", github.token)
    monkeypatch.setenv("AIUSAGE_COPILOT_ORG", github.org)
    monkeypatch.setenv("AIUSAGE_GITHUB_API_URL", github.url)
    argv = [AIUSAGE, "connectors", "sync", "copilot", "--since", str(days[0]),
            "--until", str(days[-1])]  # fmt: skip
    triggers = row_triggers(db)
    try:
        sync = subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL)
        last = wait_until("a first day recorded", lambda: _last_day(db), timeout=60)
        fetching = _children(sync.pid)  # the range is long: Copilot's fetching process
        assert fetching, "a backfill this long fetches in a process of its own"
        sync.send_signal(signal.SIGKILL)
        assert sync.wait(30) == -signal.SIGKILL
        # Its parent gone, the fetching process meets the end of its pipe and exits.
        wait_until("the fetching process gone", lambda: not _alive(fetching), timeout=30)
        last = _last_day(db)
        assert last is not None and last < days[-1], "the kill should land mid-sync"
        rows = _rows_per_day(db)
        # Each day recorded holds all its rows. On SQLite a day's rows and its record share
        # a transaction, so none after it was stored; on PostgreSQL they are transactions of
        # their own (`DayWriter`), so the day after may be stored, whole or in part, until the
        # next run fetches it again and replaces it (below).
        after = {day for day in rows if day > last}
        assert after == set() if db.is_sqlite else after <= {last + timedelta(days=1)}
        assert all(rows.get(day) == 2 * len(people) for day in days if day <= last)
        assert _whole_day_marks(db) >= (1 if db.is_sqlite else 0)
        # A group's rows go in with the weekly triggers set aside, in its own transaction:
        # killed, it takes its rows and the set-aside back together.
        assert row_triggers(db) == triggers

        # The next run (from the first day: the fake has no report before it, which would
        # stop a run that looks back further) stores every day once.
        subprocess.run(argv, env=dict(os.environ), check=True, stdout=subprocess.DEVNULL)
        assert _last_day(db) == days[-1]
        assert _rows_per_day(db) == {day: 2 * len(people) for day in days}
        with db.read() as conn:
            total = conn.scalar(select(func.sum(DailyRow.requests)))
        want = sum(1 + n % 3 for n in range(len(people))) * len(days)  # chats
        assert total == want  # nothing counted twice
    finally:
        github.stop()


@pytest.mark.postgres
def test_a_sync_killed_between_the_chunks_of_one_day_stores_that_day_once_next_run(
    db, settings, anthropic, now
):
    """A day of more records than one write takes (`jobs.connectors.CHUNK_ROWS`), killed
    after its first chunk is stored and before its second: the day is not recorded, and the
    next run replaces what the first chunk left rather than adding to it (Claude Code's
    records add up, so a chunk counted twice would show)."""
    if db.is_sqlite:
        pytest.skip("on SQLite a day's chunks share one transaction (the test above)")
    day = date(2026, 8, 3)
    records = [claude_record(f"dev{n:05d}@example.com", day) for n in range(CHUNK_ROWS + 1000)]
    anthropic.records, anthropic.page_size = {day: records}, 1000
    argv = [AIUSAGE, "connectors", "sync", "claude-code", "--since", str(day), "--until", str(day)]
    # A person of the second chunk, being made by another transaction: the second chunk's
    # identities wait on it, after the first chunk's rows are committed.
    with db.engine.connect() as holding:
        holding.execute(
            insert(IdentityRow).values(kind="email", value="dev05500@example.com", created_at=now)
        )
        sync = subprocess.Popen(argv, env=dict(os.environ), stdout=subprocess.DEVNULL)
        try:
            wait_until("the second chunk waiting", lambda: waiting_on_locks(db), timeout=60)
        finally:
            sync.send_signal(signal.SIGKILL)
            sync.wait(30)
        holding.rollback()
    assert _last_day(db, "claude-code") is None  # not recorded: fetched again next run
    assert _rows_per_day(db) == {day: CHUNK_ROWS}  # the first chunk, committed on its own

    subprocess.run(argv, env=dict(os.environ), check=True, stdout=subprocess.DEVNULL)
    assert _last_day(db, "claude-code") == day
    assert _rows_per_day(db) == {day: len(records)}
    with db.read() as conn:
        commits = conn.scalar(select(func.sum(DailyRow.commits)))
    assert commits == 2 * len(records)  # two a record, each record once


def _children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # The parent's pid follows the command's name in parentheses and the state.
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> bool:
    """Whether any of `pids` still runs (a zombie has exited; nothing is left to reap it)."""
    for pid in pids:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                return True
    return False


def _last_day(db, connector: str = "copilot") -> date | None:
    state = connector_states(db).get(connector)
    return state.last_day if state else None


def _rows_per_day(db) -> dict[date, int]:
    with db.read() as conn:
        found = conn.execute(select(DailyRow.day, func.count()).group_by(DailyRow.day)).all()
    return dict(found)  # type: ignore[arg-type]


def _whole_day_marks(db) -> int:
    with db.read() as conn:
        return conn.scalar(select(func.count()).where(WeeklyStaleRow.person_id.is_(None))) or 0


@pytest.mark.postgres
def test_a_person_forgotten_between_days_of_a_sync_has_no_later_day_stored(db, settings, now):
    """The writer keeps the sync's identity ids across days and groups: a forget landing
    between two of its days (here, while the sync waits for the next day's report) must
    still drop the person from every later day, and keep everyone else's days whole."""
    link_email(db, "alice@example.com", "UALICE", now)
    cli("people", "link", "copilot:gh-alice", "UALICE")
    days = [date(2026, 8, 1) + timedelta(days=n) for n in range(16)]  # groups of 7 and more
    forget_at = days[9]
    forgotten: list[bool] = []

    class ForgetMidSync(FakeGitHub):
        def answer(self, call):  # type: ignore[no-untyped-def]
            asks = call.path.endswith("/users-1-day") and call.query.get("day") == str(forget_at)
            if asks and not forgotten:
                cli("people", "forget", "UALICE")  # waits for the sync's group to commit
                forgotten.append(True)
            return super().answer(call)

    github = ForgetMidSync()
    argv = [AIUSAGE, "connectors", "sync", "copilot", "--since", str(days[0]),
            "--until", str(days[-1])]  # fmt: skip
    github.users = {day: report(day, ("alice", "bob")) for day in days}
    env = {**os.environ, "AIUSAGE_COPILOT_TOKEN": github.token,
           "AIUSAGE_COPILOT_ORG": github.org, "AIUSAGE_GITHUB_API_URL": github.url}  # fmt: skip
    try:
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, timeout=120)
    finally:
        github.stop()
    assert forgotten == [True]
    assert _last_day(db) == days[-1]
    with db.read() as conn:
        alice = conn.scalars(
            select(IdentityRow.id).where(
                IdentityRow.kind == "copilot", IdentityRow.value == "gh-alice"
            )
        ).all()
        bob = conn.scalar(
            select(IdentityRow.id).where(
                IdentityRow.kind == "copilot", IdentityRow.value == "gh-bob"
            )
        )
        owners = set(conn.scalars(select(DailyRow.identity_id).distinct()).all())
    assert alice == []  # forgotten, and not made again by a later day
    assert owners == {bob}
    assert _rows_per_day(db) == {day: 2 for day in days}  # bob's two kinds, every day

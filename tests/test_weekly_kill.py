"""The weekly rollup's re-sum killed with SIGKILL part way: each week's marks are cleared in
the same transaction that writes its sums, so a kill leaves every week either summed and
unmarked or as it was and still marked, and the next pass makes the rollup whole."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select

from storage.db import Database
from storage.models import PersonWeekRow, WeeklyRow, WeeklyStaleRow
from storage.people import link_email, resolve_identities
from storage.precedence import API_ORIGIN, OriginFigures
from storage.weekly import fresh_weeks, tool_names
from tests.readback import random_figures, replace_rollup

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
FIRST = date(2026, 7, 6)  # a Monday; 20 weeks to the 2026-11-16 week
WEEKS = 20
PEOPLE = 150

RESUM = """
import sys
from zoneinfo import ZoneInfo
from storage.db import Database
from storage.weekly import fresh_weeks, tool_names
db = Database(sys.argv[1], ZoneInfo("UTC"))
print("ready", flush=True)
fresh_weeks(db)
print("done", flush=True)
"""


def _seed(db: Database) -> None:
    emails = [f"p{n}@example.com" for n in range(PEOPLE)]
    for n, email in enumerate(emails):
        link_email(db, email, f"U{n:04d}", NOW)
    with db.write() as conn:
        ids = resolve_identities(conn, [("email", e) for e in emails], NOW)
    rng = random.Random(7)
    rows = {
        (identity_id, FIRST + timedelta(days=d), tool, "chat", API_ORIGIN): OriginFigures(
            API_ORIGIN, random_figures(rng)
        )
        for identity_id in ids.values()
        for d in range(WEEKS * 7)
        for tool in ("copilot", "cursor")
        if rng.random() < 0.6
    }
    replace_rollup(db, rows)


def _weekly(db: Database) -> list[list[tuple]]:
    # A person-week's tool names are a set (`tool_names`); PostgreSQL joins them in no set
    # order, so they are compared as one.
    with db.read() as conn:
        return [
            sorted(
                tuple(sorted(tool_names(v)) if k == "tools" else v for k, v in row._mapping.items())
                for row in conn.execute(select(table))
            )
            for table in (WeeklyRow.__table__, PersonWeekRow.__table__)
        ]


def _mark_every_week(db: Database) -> None:
    with db.write() as conn:
        conn.execute(
            WeeklyStaleRow.__table__.insert(),
            [{"day": FIRST + timedelta(weeks=w)} for w in range(WEEKS)],
        )


def _marked_weeks(db: Database) -> int:
    with db.read() as conn:
        days = conn.scalars(select(WeeklyStaleRow.day).distinct()).all()
    return len({day - timedelta(days=day.weekday()) for day in days})


def test_a_resum_killed_part_way_leaves_nothing_half_summed(db, database_url):
    _seed(db)
    fresh_weeks(db)
    whole = _weekly(db)  # every week summed from scratch, with nobody in the way
    assert len(whole[0]) > WEEKS * PEOPLE and len(whole[1]) > WEEKS * PEOPLE // 2

    cut_part_way = 0
    for delay in (0.02, 0.05, 0.1, 0.2, 0.4, 0.8):
        with db.write() as conn:  # the sums spoiled and every week marked: all to redo
            conn.execute(delete(WeeklyRow))
            conn.execute(delete(PersonWeekRow))
        _mark_every_week(db)
        resum = subprocess.Popen(
            [sys.executable, "-c", RESUM, database_url], stdout=subprocess.PIPE, text=True
        )
        assert resum.stdout is not None and resum.stdout.readline() == "ready\n"
        time.sleep(delay)
        resum.send_signal(signal.SIGKILL)
        resum.wait(30)
        left = _marked_weeks(db)
        cut_part_way += 0 < left < WEEKS
        # Every week no longer marked holds its whole sums; the marked ones are redone.
        with db.read() as conn:
            summed_weeks = conn.scalar(select(func.count(WeeklyRow.week.distinct())))
        assert summed_weeks == WEEKS - left
        fresh_weeks(db)
        assert _weekly(db) == whole
        if cut_part_way:
            break
    assert cut_part_way, "a kill should land while weeks are still being summed"

"""The ends of the calendar (0001-01-01, 9999-12-31): no door lets such a day in, but the
scheduled weekly re-sum must still get through a database that holds one, and `aiusage
report` answers a period out there with one line, as it answers other bad arguments."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from jobs.weekly import resum_marked_weeks
from storage.imports import replace_report_days
from storage.models import PersonWeekRow, WeeklyRow, WeeklyStaleRow
from storage.records import KindFigures, ReportDay, UserRef
from storage.weekly import sunday, whole_weeks

NOW = datetime(2026, 12, 4, tzinfo=UTC)
EDGES = (date.min, date(9999, 12, 31), date(2026, 11, 16))


@pytest.mark.postgres
def test_the_weekly_re_sum_gets_through_days_at_the_ends_of_the_calendar(run, db):
    # Rows a connector stored before every door kept the bounds (Copilot once stored a
    # record's own day, 9999-12-31 included), written here beneath the doors.
    assert run("people", "link", "copilot:octo", "U0OCTO")[0] == 0
    rows = [
        ReportDay(n, UserRef(vendor=("copilot", "octo")), day, "copilot",
                  (KindFigures(kind="chat", requests=n),))
        for n, day in enumerate(EDGES, start=1)
    ]  # fmt: skip
    replace_report_days(db, "copilot", None, rows, set(), NOW)

    assert resum_marked_weeks(db) == len(EDGES)  # the job, as the scheduler runs it
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(WeeklyStaleRow)) == 0
        weeks = dict(conn.execute(select(WeeklyRow.week, WeeklyRow.requests)).all())
        people = conn.scalar(select(func.count()).select_from(PersonWeekRow))
    assert weeks == {date.min: 1, date(9999, 12, 27): 2, date(2026, 11, 16): 3}
    assert people == len(EDGES)
    assert resum_marked_weeks(db) == 0  # nothing left marked: the next run has no work


def test_week_arithmetic_at_the_ends_of_the_calendar_answers_instead_of_overflowing():
    last_monday = date(9999, 12, 27)
    assert sunday(last_monday) == date.max  # the calendar's last week ends on a Friday
    assert sunday(date(2026, 11, 16)) == date(2026, 11, 22)
    assert whole_weeks(date.min, date(1, 1, 2)) is None
    assert whole_weeks(last_monday, date.max) is None
    assert whole_weeks(date(9999, 12, 19), date.max) == (date(9999, 12, 20), date(9999, 12, 20))
    assert whole_weeks(date.min, date(1, 1, 7)) == (date.min, date.min)

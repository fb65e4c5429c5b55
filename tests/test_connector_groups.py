"""A connector's days written in groups (`storage.connectors.DayWriter`): on SQLite the rows
of a group's prepared days wait for its commit and go in together, in index order. They
store exactly what each day written alone stores; a day fetched again within a group
replaces its first copy; a group that fails as it commits records none of its days, and
the next run stores them whole; the weekly marks stay what the row triggers would make.
Both databases (PostgreSQL writes each day at once)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text

import jobs.connectors
from jobs.connectors import one_ahead
from storage.connectors import GROUP_DAYS, DayWriter, connector_states
from storage.imports import WHOLE_DAY_MARK_PEOPLE
from storage.models import DailyRow, WeeklyStaleRow
from storage.people import link_identity
from storage.records import KindFigures, ReportDay, UserRef
from storage.report_rows import PreparedDays, prepare
from storage.usage_report import usage_report
from tests.connector_helpers import cursor_record
from tests.org_weekly_helpers import WEEK, assert_reads_match_every_row

DAYS = [date(2026, 9, 1) + timedelta(days=n) for n in range(GROUP_DAYS + 3)]
CLOCK = datetime(2026, 11, 20, tzinfo=UTC)
FAULT = 666  # requests of a row the fault injected below refuses


def _day(day: date, requests: int, people: int = 12) -> PreparedDays:
    """A day of `people`, each with chat and completions; a person's requests grow with
    their number, so rows of different people and days never look alike."""
    items = [
        ReportDay(n, UserRef(vendor=("copilot", f"p{n:02d}")), day, "copilot", (
            KindFigures(kind="chat", requests=requests + n),
            KindFigures(kind="inline_suggestion", suggestions_shown=requests * 2 + n),
        ))
        for n in range(people)
    ]  # fmt: skip
    ready = prepare(items, "copilot", None, {day})
    assert ready is not None and not ready[1]
    return ready[0]


def _write(db, days: list[tuple[date, PreparedDays]], *, alone: bool = False) -> None:  # type: ignore[no-untyped-def]
    """Write days as a connector does: in one writer (grouped on SQLite), or each alone."""
    writers = [DayWriter(db, "copilot") for _ in days] if alone else [DayWriter(db, "copilot")]
    for n, (day, prepared) in enumerate(days):
        writer = writers[n if alone else 0]
        writer.write(prepared, set(), CLOCK, {day})
        writer.day_done(day, CLOCK)
        if alone:
            writer.commit()
    if not alone:
        writers[0].commit()


def _stored(db) -> list[tuple[Any, ...]]:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        rows = conn.execute(select(DailyRow.__table__)).all()
    return sorted(tuple(row)[1:] for row in rows)  # every column but the row id


def test_a_group_of_days_stores_what_each_day_written_alone_stores(db) -> None:  # type: ignore[no-untyped-def]
    days = [(day, _day(day, 10 + n)) for n, day in enumerate(DAYS)]
    _write(db, days)
    grouped = _stored(db)
    assert len(grouped) == len(DAYS) * 12 * 2
    with db.read() as conn:  # what the days do not report is stored unreported, not -1
        chat = select(DailyRow.suggestions_shown, DailyRow.cost_usd).where(DailyRow.kind == "chat")
        assert set(conn.execute(chat)) == {(None, None)}
        assert conn.scalar(select(func.min(DailyRow.suggestions_shown))) >= 0
    assert connector_states(db)["copilot"].last_day == DAYS[-1]

    _write(db, days, alone=True)  # the same days again, each in its own transaction
    assert _stored(db) == grouped  # replaced, not added to


def test_a_day_fetched_again_within_a_group_replaces_its_first_copy(db) -> None:  # type: ignore[no-untyped-def]
    first, second = DAYS[0], DAYS[1]
    _write(db, [(first, _day(first, 100)), (second, _day(second, 5)), (first, _day(first, 1))])
    with db.read() as conn:
        requests = dict(
            conn.execute(
                select(DailyRow.day, func.sum(DailyRow.requests)).group_by(DailyRow.day)
            ).all()
        )
    # The second copy of the first day alone: 1 + n for 12 people, not that plus 100 + n.
    assert requests == {first: sum(1 + n for n in range(12)), second: sum(5 + n for n in range(12))}


def test_a_day_past_one_chunk_of_people_never_seen_is_stored_whole(  # type: ignore[no-untyped-def]
    run, db, cursor_api, monkeypatch
) -> None:
    """A day is written in chunks (5,000 records; 2 here), and a later chunk names people
    the sync has not met. Their identities are made inside the open group: committing to
    make them failed every sync of such a day on SQLite ("a day is half written")."""
    monkeypatch.setattr(jobs.connectors, "CHUNK_ROWS", 2)
    day = date(2026, 11, 16)
    cursor_api.records = [cursor_record(f"p{n}@example.com", day) for n in range(5)]
    for _ in range(2):  # and again, as the look-back fetches it
        code, _out, err = run("connectors", "sync", "cursor", "--since", day, "--until", day)
        assert (code, err) == (0, "")
        assert connector_states(db)["cursor"].last_day == day
        assert len(usage_report(db, day, day)) == 5


@pytest.mark.parametrize("people", [12, WHOLE_DAY_MARK_PEOPLE], ids=["few", "whole-day marks"])
def test_a_group_that_fails_as_it_commits_records_none_of_its_days(db, people) -> None:  # type: ignore[no-untyped-def]
    triggers = row_triggers(db)
    _refuse_fault_rows(db)
    # The fourth day carries a row the database refuses; on SQLite its group's rows go in
    # only at the commit, so none of the group's days is stored or recorded as fetched.
    days = [(day, _day(day, FAULT if n == 3 else 10 + n, people)) for n, day in enumerate(DAYS[:5])]
    with pytest.raises(Exception, match="refused"), DayWriter(db, "copilot") as writer:
        for day, prepared in days:
            writer.write(prepared, set(), CLOCK, {day})
            writer.day_done(day, CLOCK)
    state = connector_states(db).get("copilot")
    recorded = state.last_day if state else None
    stored = {day for day, _ in db_days(db)}
    # Whatever a database kept, every day recorded as fetched is stored whole, and the
    # refused day and those after it are neither.
    assert all(day in stored for day, _ in days if recorded and day <= recorded)
    assert recorded is None or recorded < DAYS[3]
    assert not stored & {DAYS[3], DAYS[4]}
    assert all(count == 2 * people for _, count in db_days(db))
    if db.is_sqlite:
        assert recorded is None and not stored  # the whole group went back
    # With whole-day marks the weekly triggers are set aside while the rows go in; they are
    # back as they were, failure or not.
    assert row_triggers(db) == triggers

    # The next run, the fault gone, stores every day whole; nothing of the first run stays.
    with db.write() as conn:
        conn.execute(text("DROP TRIGGER refuse_fault_rows" if db.is_sqlite else
                          "DROP TRIGGER refuse_fault_rows ON usage_daily"))  # fmt: skip
    _write(db, [(day, _day(day, 10 + n, people)) for n, day in enumerate(DAYS[:5])])
    assert db_days(db) == [(day, 2 * people) for day in DAYS[:5]]
    assert connector_states(db)["copilot"].last_day == DAYS[4]
    assert row_triggers(db) == triggers


def test_a_group_with_a_day_of_few_people_keeps_their_weekly_marks(db, now) -> None:  # type: ignore[no-untyped-def]
    """A day of many people is marked whole, and the triggers set aside for the group's rows
    only when every day in it is; a small day's people are marked one by one, so the weekly
    rollup of its week (no whole-day mark there) still follows its rows."""
    for n in range(3):
        link_identity(db, "copilot", f"p{n:02d}", f"UP{n:02d}", "test", now)
    many, few = WEEK - timedelta(days=14), WEEK - timedelta(days=6)  # two weeks apart
    _write(db, [(many, _day(many, 3, WHOLE_DAY_MARK_PEOPLE)), (few, _day(few, 7, 3))])
    if db.is_sqlite:  # PostgreSQL marks by statement triggers, never set aside
        assert row_triggers(db)
        with db.read() as conn:
            marked = set(conn.execute(select(WeeklyStaleRow.day, WeeklyStaleRow.person_id)))
        assert (many, None) in marked and {day for day, person in marked if person} == {few}
    assert_reads_match_every_row(db)


def row_triggers(db) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """The rollup's triggers as stored (SQLite's; PostgreSQL's are not set aside)."""
    if not db.is_sqlite:
        return []
    with db.read() as conn:
        return sorted(conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'usage_daily' AND name LIKE 'usage_weekly%'"
        )).all())  # fmt: skip


def db_days(db) -> list[tuple[date, int]]:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        found = conn.execute(
            select(DailyRow.day, func.count()).group_by(DailyRow.day).order_by(DailyRow.day)
        ).all()
    return [(day, count) for day, count in found]


def _refuse_fault_rows(db) -> None:  # type: ignore[no-untyped-def]
    """A database that refuses rows with FAULT requests (as a full disk would refuse some)."""
    with db.write() as conn:
        if db.is_sqlite:
            conn.execute(text(
                f"CREATE TRIGGER refuse_fault_rows BEFORE INSERT ON usage_daily "
                f"WHEN NEW.requests = {FAULT} BEGIN SELECT RAISE(ABORT, 'refused'); END"
            ))  # fmt: skip
        else:
            conn.execute(text(
                "CREATE FUNCTION refuse_fault_rows() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.requests = {FAULT} THEN RAISE EXCEPTION 'refused'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            ))  # fmt: skip
            conn.execute(text(
                "CREATE TRIGGER refuse_fault_rows BEFORE INSERT ON usage_daily "
                "FOR EACH ROW EXECUTE FUNCTION refuse_fault_rows()"
            ))  # fmt: skip


def test_the_writer_waits_a_moment_for_the_next_day_before_committing() -> None:
    committed: list[int] = []
    made = threading.Event()

    def days() -> Iterator[int]:
        yield 1
        made.wait(5)  # the second day is made only once the first is handed over...
        yield 2
        time.sleep(2.5)  # ...and the third well after the writer's patience
        yield 3

    seen = []
    for item in one_ahead(days(), before_waiting=lambda: committed.append(len(seen)), patience=1):
        seen.append(item)
        if item == 1:
            made.set()  # so it is still being made when the writer asks for it
    assert seen == [1, 2, 3]
    # Not before the second day, which came within the patience; before the late third.
    assert 1 not in committed and 2 in committed

"""The award job reads everyone's week and the active days of the weeks before it from the
weekly rollup (`storage.award_weeks`). Checked here against the daily reads it replaces
(`person_periods`, `active_days_history`), on random rows with pushed, OTLP and report
origins, several identities per person and an unlinked one, before and after the rows and
links change; and shown to notice a wrong day or kind mask."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from alembic import command
from sqlalchemy import delete, select, update

from jobs.award_rules import AwardRules, decide_awards
from jobs.awards import candidates, daily_candidates
from jobs.weeks import Week
from storage.award_weeks import week_periods, weeks_active_days
from storage.awards import active_days_history
from storage.bulk import DAILY_KEY, upsert_daily
from storage.db import alembic_config
from storage.figures import COUNTED, NAMES, REPORTED
from storage.models import DailyRow, WeeklyRow
from storage.people import link_email, link_identity, resolve_identities
from storage.records import PersonPeriod
from storage.usage_queries import person_periods

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
WEEK = Week(date(2026, 11, 9))
WEEKS = [WEEK.previous(back) for back in range(5)]
TOOLS = ("kiro", "copilot", "cursor", "a,b")
KINDS = ("chat", "agent", "inline_suggestion", "completion", "other")
ORIGINS = ("events", "otlp", "import:claude-code", "import:cursor@acme:ide")


def _row(rng: random.Random, identity_id: int, day: date) -> dict:
    values: dict = {name: rng.choice([0, rng.randint(1, 10**6)]) for name in COUNTED}
    for name in REPORTED:
        if name == "cost_usd":
            values[name] = rng.choice([None, 0.0, round(rng.uniform(0, 500), 2)])
        else:
            values[name] = rng.choice([None, 0, rng.randint(1, 10**6)])
    key = (identity_id, day, rng.choice(TOOLS), rng.choice(KINDS), rng.choice(ORIGINS))
    return {**dict(zip(DAILY_KEY, key, strict=True)), **values, "events": rng.randint(1, 9)}


def _write(db, rng: random.Random, identities: list[int], count: int) -> None:
    first = WEEKS[-1].start
    rows = {}
    for _ in range(count):
        row = _row(rng, rng.choice(identities), first + timedelta(days=rng.randrange(35)))
        rows[tuple(row[k] for k in DAILY_KEY)] = row
    with db.write() as conn:
        upsert_daily(conn, [rows[key] for key in sorted(rows)], replace=True)


@pytest.fixture
def identities(db) -> dict[str, int]:
    """Twelve people, one with a second email and a Copilot login, and an unlinked email."""
    people = {f"U{n:03d}": link_email(db, f"u{n}@example.com", f"U{n:03d}", NOW) for n in range(12)}
    link_identity(db, "copilot", "u1-gh", "U001", "test", NOW)
    with db.write() as conn:
        keys = [("slack", s) for s in people] + [("copilot", "u1-gh"), ("email", "x@ex.com")]
        keys += [("email", f"u{n}@example.com") for n in range(12)]
        ids = resolve_identities(conn, keys, NOW)
    return {f"{kind}:{value}": ids[(kind, value)] for kind, value in keys}


def _same(got: list[PersonPeriod], want: list[PersonPeriod]) -> None:
    """Equal in every field; cost (a float, used by no badge) up to summing order."""
    assert [p.person_id for p in got] == [p.person_id for p in want]
    for mine, theirs in zip(got, want, strict=True):
        for name in NAMES:
            a, b = getattr(mine.totals, name), getattr(theirs.totals, name)
            if name == "cost_usd" and a is not None and b is not None:
                assert a == pytest.approx(b), (mine.person_id, name)
            else:
                assert a == b, (mine.person_id, name)
        assert mine.totals.events == theirs.totals.events
        assert (mine.active_days, mine.tools, mine.kinds) == (
            theirs.active_days,
            theirs.tools,
            theirs.kinds,
        ), mine.person_id
        assert (mine.slack_user_id, mine.display_name, mine.opted_out) == (
            theirs.slack_user_id,
            theirs.display_name,
            theirs.opted_out,
        )


def _check_all(db) -> None:
    for week in WEEKS:
        _same(week_periods(db, week.start), person_periods(db, week.start, week.end))
    starts = [week.start for week in WEEKS[1:]]
    assert weeks_active_days(db, starts) == active_days_history(db, starts)
    rules = AwardRules()
    mine = candidates(db, WEEK, rules.history_weeks)
    theirs = daily_candidates(db, WEEK, rules.history_weeks)
    assert [c.previous_active_days for c in mine] == [c.previous_active_days for c in theirs]
    assert decide_awards(mine, rules) == decide_awards(theirs, rules)


def test_weekly_reads_equal_daily_reads(db, identities) -> None:
    rng = random.Random(6)
    ids = sorted(identities.values())
    _write(db, rng, ids, 900)
    _check_all(db)
    # Rows change (some replaced, some new, some gone) and a login moves to another person:
    # the marked weeks are summed again before the next read.
    _write(db, rng, ids, 200)
    with db.write() as conn:
        conn.execute(delete(DailyRow).where(DailyRow.day == WEEK.start + timedelta(days=2)))
    link_identity(db, "copilot", "u1-gh", "U002", "test", NOW)
    link_email(db, "x@ex.com", "U003", NOW)
    _check_all(db)


def test_a_wrong_mask_is_noticed(db, identities) -> None:
    """The comparison above can fail: a weekly row missing a day or a kind reads wrong."""
    _write(db, random.Random(8), sorted(identities.values()), 600)
    daily = person_periods(db, WEEK.start, WEEK.end)
    week_periods(db, WEEK.start)  # summed
    busy = max(daily, key=lambda p: (p.active_days, len(p.kinds)))
    assert busy.active_days > 1 and len(busy.kinds) > 1
    for column in (WeeklyRow.day_mask, WeeklyRow.kind_mask):
        with db.write() as conn:
            saved = conn.execute(
                WeeklyRow.__table__.select().where(
                    WeeklyRow.week == WEEK.start, WeeklyRow.person_id == busy.person_id
                )
            ).all()
            conn.execute(
                update(WeeklyRow)
                .where(WeeklyRow.week == WEEK.start, WeeklyRow.person_id == busy.person_id)
                .values({column: 1})
            )
        with pytest.raises(AssertionError):
            _same(week_periods(db, WEEK.start), daily)
        with db.write() as conn:
            for row in saved:
                conn.execute(
                    update(WeeklyRow)
                    .where(
                        WeeklyRow.week == row.week,
                        WeeklyRow.person_id == row.person_id,
                        WeeklyRow.tool == row.tool,
                    )
                    .values(day_mask=row.day_mask, kind_mask=row.kind_mask)
                )
        _same(week_periods(db, WEEK.start), daily)


def test_a_kind_without_a_bit_is_read_from_the_days(db, identities) -> None:
    """A kind outside the known ones has no bit of its own: that week reads the daily rows."""
    rng = random.Random(9)
    _write(db, rng, sorted(identities.values()), 300)
    row = _row(rng, identities["slack:U004"], WEEK.start) | {"kind": "pair-programming"}
    with db.write() as conn:
        upsert_daily(conn, [row], replace=True)
    periods = week_periods(db, WEEK.start)
    _same(periods, person_periods(db, WEEK.start, WEEK.end))
    assert any("pair-programming" in p.kinds for p in periods)


def test_the_upgrade_marks_summed_weeks_so_their_masks_are_filled(db, identities) -> None:
    """Weeks summed before 0140_awards2 have no masks: the migration marks them, so the
    award job's first read sums them again rather than reading zeros."""
    _write(db, random.Random(10), sorted(identities.values()), 400)
    week_periods(db, WEEK.start)  # every marked week summed
    with db.engine.connect() as conn:
        command.downgrade(alembic_config(conn), "0130_orgweek")
        command.upgrade(alembic_config(conn), "head")
        conn.commit()
    with db.read() as conn:
        assert set(conn.scalars(select(WeeklyRow.day_mask))) == {0}  # as the upgrade left them
    _check_all(db)


def test_a_week_is_named_by_its_monday(db) -> None:
    """Weekly rows are keyed by Monday: a read by another day would find nobody, silently."""
    with pytest.raises(ValueError):
        week_periods(db, WEEK.start + timedelta(days=1))
    with pytest.raises(ValueError):
        weeks_active_days(db, [WEEK.start, WEEK.end])

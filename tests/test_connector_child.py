"""Copilot backfills fetched and parsed in a child process (`bot.connectors.copilot_child`):
the child killed mid-day loses no day handed over and doubles none; hostile records are
still named and skipped; a record of another day still lands on its day; the rows the
child builds (`storage.report_rows`) are the rows the writer's own path builds. Both
databases, the real HTTP client."""

from __future__ import annotations

import os
import signal
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.connectors.copilot import CHILD_DAYS
from bot.connectors.registry import run_connectors
from bot.settings import load_settings
from storage.bounds import DAY_CAP
from storage.connectors import DayWriter, connector_states
from storage.models import DailyRow
from storage.records import BadRow, KindFigures, ReportDay, UserRef
from storage.report_rows import prepare
from tests.connector_helpers import copilot_record
from tests.fakes.vendors import Call, FakeGitHub

DAYS = [date(2026, 8, 1) + timedelta(days=n) for n in range(12)]
assert len(DAYS) >= CHILD_DAYS  # the range is long enough for a child process
PEOPLE = tuple(f"p{n:03d}" for n in range(20))
CLOCK = datetime(2026, 11, 20, tzinfo=UTC)


def _report(day: date) -> list[list[dict[str, Any]]]:
    return [[copilot_record(name, day, 4 + n, 1 + n % 3) for n, name in enumerate(PEOPLE)]]


def _children() -> list[int]:
    """This process's children that are Copilot's fetching process."""
    found = []
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                continue
            if b"copilot_child" in cmdline:
                found.append(int(pid))
    return found


def _sync(db, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("AIUSAGE_COPILOT_TOKEN", github.token)
    monkeypatch.setenv("AIUSAGE_COPILOT_ORG", github.org)
    monkeypatch.setenv("AIUSAGE_GITHUB_API_URL", github.url)
    [result] = run_connectors(load_settings(), db, lambda: CLOCK, ["copilot"], DAYS[0], DAYS[-1])
    return result


def _rows_per_day(db) -> dict[date, int]:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        found = conn.execute(select(DailyRow.day, func.count()).group_by(DailyRow.day)).all()
    return dict(found)  # type: ignore[arg-type]


def _requests(db) -> int:  # type: ignore[no-untyped-def]
    with db.read() as conn:
        return conn.scalar(select(func.sum(DailyRow.requests))) or 0


@pytest.mark.postgres
def test_the_fetching_process_killed_mid_day_loses_no_day_and_doubles_none(db, monkeypatch):
    kill_on = DAYS[6]
    killed: list[int] = []

    class KillsTheChild(FakeGitHub):
        def answer(self, call: Call):  # type: ignore[no-untyped-def]
            asks = call.path.endswith("/users-1-day") and call.query.get("day") == str(kill_on)
            if asks and not killed:
                [child] = _children()
                os.kill(child, signal.SIGKILL)  # mid-day: its download never comes
                killed.append(child)
            return super().answer(call)

    github = KillsTheChild()
    github.users = {day: _report(day) for day in DAYS}
    try:
        result = _sync(db, github, monkeypatch)
        assert killed and not result.ok
        assert "fetching process ended early" in (result.error or "")
        last = connector_states(db)["copilot"].last_day
        # Every day handed over before the kill is stored whole and recorded; none after.
        assert last == kill_on - timedelta(days=1)
        assert _rows_per_day(db) == {day: 2 * len(PEOPLE) for day in DAYS if day < kill_on}

        result = _sync(db, github, monkeypatch)  # the next run fetches the rest
        assert result.ok, result.error
    finally:
        github.stop()
    assert connector_states(db)["copilot"].last_day == DAYS[-1]
    assert _rows_per_day(db) == {day: 2 * len(PEOPLE) for day in DAYS}
    assert _requests(db) == sum(1 + n % 3 for n in range(len(PEOPLE))) * len(DAYS)
    assert _children() == []


@pytest.mark.postgres
def test_hostile_records_are_named_and_skipped_in_the_fetching_process(db, monkeypatch, caplog):
    github = FakeGitHub()
    github.users = {day: _report(day) for day in DAYS}
    hostile: list[Any] = [
        "not an object",
        {**copilot_record("mallory", DAYS[3]), "day": "2026-13-45"},
        {**copilot_record("mallory", DAYS[3]), "totals_by_feature": "lots"},
        {**copilot_record("", DAYS[3])},
        # -1 is what the rows hold for a figure nobody reported (`storage.bounds.ABSENT`):
        # sent as a figure, it must be refused, never stored as "not reported".
        {
            **copilot_record("mallory", DAYS[3]),
            "totals_by_feature": [
                {
                    "feature": "code_completion",
                    "code_generation_activity_count": 5,
                    "code_acceptance_activity_count": -1,
                }
            ],
        },
    ]
    github.users[DAYS[3]] = [github.users[DAYS[3]][0] + hostile]
    # A record of another day than the report's is left out: that day was not asked for,
    # is not cleared, nor recorded as fetched (the other connectors leave such records out).
    github.users[DAYS[5]] = [github.users[DAYS[5]][0] + [copilot_record("late", DAYS[4], 7, 2)]]
    try:
        with caplog.at_level("WARNING"):
            result = _sync(db, github, monkeypatch)
    finally:
        github.stop()
    assert result.ok, result.error
    assert result.rejected == len(hostile)
    assert result.rows == len(PEOPLE) * len(DAYS)
    skipped = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(skipped) == len(hostile)
    assert any("record 21 skipped" in message for message in skipped)
    counts = _rows_per_day(db)
    assert all(counts[day] == 2 * len(PEOPLE) for day in DAYS)  # no row of "late"'s


@pytest.mark.postgres
def test_rows_the_fetching_process_builds_are_the_writers_own(db):
    """The same whole day written both ways (prepared rows, and the writer's own path) gives
    the same rollup: with a person named twice summed and held at the caps, for a report
    whose records add up (`add_up`), or with the later record alone, as an import keeps it."""
    day = DAYS[0]

    def part(kind: str, **figures: Any) -> KindFigures:
        return KindFigures(kind=kind, **figures)

    items: list[ReportDay | BadRow] = [
        ReportDay(1, UserRef(vendor=("copilot", "ann")), day, "copilot",
                  (part("chat", requests=3), part("inline_suggestion", suggestions_shown=5))),
        BadRow(2, "no"),
        ReportDay(3, UserRef(vendor=("copilot", "bo")), day, "copilot",
                  (part("agent", requests=2, lines_accepted=None),)),
        ReportDay(4, UserRef(vendor=("copilot", "ann")), day, "copilot",
                  (part("chat", requests=DAY_CAP - 1, suggestions_accepted=4),)),
        ReportDay(5, UserRef(email="Cy@Example.com"), day, "copilot",
                  (part("chat", requests=1),), client="cli"),
    ]  # fmt: skip
    ready = prepare(items, "copilot", None, {day}, add_up=True)
    assert ready is not None
    prepared, bad = ready
    assert bad == [items[1]] and prepared.records == 4
    assert prepare(items, "copilot", None, {day + timedelta(days=1)}) is None

    def stored() -> list[tuple[Any, ...]]:
        with db.read() as conn:
            rows = conn.execute(select(DailyRow.__table__).order_by(DailyRow.id)).all()
        return sorted(tuple(row)[1:] for row in rows)  # every column but the row id

    records = [i for i in items if isinstance(i, ReportDay)]
    with DayWriter(db, "copilot") as writer:
        writer.write(prepared, set(), CLOCK, {day})
        writer.day_done(day, CLOCK)
    both = stored()
    with DayWriter(db, "copilot") as writer:
        writer.write(records, set(), CLOCK, {day}, add_up=True)
        writer.day_done(day, CLOCK)
    assert stored() == both
    assert len(both) == 4  # ann's chat (summed), ann's completions, bo's agent, cy's CLI chat
    with db.read() as conn:
        capped = conn.scalar(select(func.max(DailyRow.requests)))
    assert capped == DAY_CAP  # 3 + (DAY_CAP - 1), held at the cap

    later = prepare(items, "copilot", None, {day})
    assert later is not None
    with DayWriter(db, "copilot") as writer:
        writer.write(later[0], set(), CLOCK, {day})
        writer.day_done(day, CLOCK)
    kept = stored()
    with DayWriter(db, "copilot") as writer:
        writer.write(records, set(), CLOCK, {day})
        writer.day_done(day, CLOCK)
    assert stored() == kept
    assert len(kept) == 3  # ann's later record alone (its chat), bo's agent, cy's CLI chat
    with db.read() as conn:
        ann = conn.execute(select(DailyRow.kind, DailyRow.requests).where(
            DailyRow.requests >= DAY_CAP - 1)).all()  # fmt: skip
    assert ann == [("chat", DAY_CAP - 1)]

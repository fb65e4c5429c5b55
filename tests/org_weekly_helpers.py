"""Usage through the real doors and every daily row summed by hand, for the tests of the
weekly rollup."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.cli.main import main
from jobs.weeks import Week
from storage.counted_daily import counted_daily
from storage.figures import NAMES, Figures
from storage.models import IdentityRow, PersonRow, WeeklyRow, WeeklyStaleRow
from storage.org import active_by_span, span_sums, usage_cells
from tests.builders import bearer
from tests.readback import as_figures, assert_same_figures
from tests.test_award_person_weeks import assert_same_as_daily

WEEK = date(2026, 11, 16)  # the `now` fixture's week, 2026-W47
TREND = [(WEEK - timedelta(weeks=n), WEEK - timedelta(weeks=n) + timedelta(days=6)) for n in
         range(11, -1, -1)]  # fmt: skip
QUARTER = (date(2026, 9, 9), date(2026, 11, 19))  # starts and ends mid-week
PEOPLE = ("alice", "bob", "carol", "dan", "erin", "finn")


def at(day: date, hour: int = 12) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


def push(http: TestClient, key: str, *events: dict[str, Any]) -> None:
    response = http.post("/api/v1/events", json={"events": list(events)}, headers=bearer(key))
    assert response.status_code == 200 and response.json()["rejected"] == [], response.text


def cli(*argv: object) -> None:
    assert main([str(arg) for arg in argv]) == 0


def cursor_report(path, days_and_people: list[tuple[date, str, int]]) -> None:
    """A Cursor daily-usage report (its documented shape) of chat requests per person."""
    rows = [
        {
            "date": int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp() * 1000),
            "isActive": True,
            "email": f"{who}@example.com",
            "chatRequests": requests,
            "totalTabsShown": 10,
            "totalTabsAccepted": 4,
            "acceptedLinesAdded": 7,
        }
        for d, who, requests in days_and_people
    ]
    path.write_text(json.dumps({"data": rows}))


def every_row(db, spans) -> dict[tuple[int, int, str], dict[str, Any]]:
    """The plain read: every counted daily row of a linked identity, summed in Python per
    person, span and tool."""
    found: dict[tuple[int, int, str], dict[str, Any]] = {}
    daily = counted_daily([IdentityRow.person_id.is_not(None)])
    with db.read() as conn:
        rows = conn.execute(select(daily)).mappings().all()
    for row in rows:
        for index, (first, last) in enumerate(spans):
            if first <= row["day"] <= last:
                cell = found.setdefault(
                    (row["person_id"], index, row["tool"]),
                    {"figures": Figures(), "events": 0, "unpriced": 0, "days": set(), "priced": 0},
                )
                cell["priced"] = max(cell["priced"], row["priced"])
                cell["figures"] += Figures(**{name: row[name] for name in NAMES})
                cell["events"] += row["events"]
                if not row["priced"]:
                    cell["unpriced"] += row["input_tokens"] + row["output_tokens"]
                cell["days"].add(row["day"])
    return found


def assert_reads_match_every_row(db) -> None:
    """The org view's and reports' reads against summing every daily row."""
    for spans in (TREND, [QUARTER], TREND[-1:]):
        want = every_row(db, spans)
        cells = {(c.person_id, c.span, c.tool): c for c in usage_cells(db, spans)}
        assert set(cells) == set(want)
        for key, cell in cells.items():
            assert_same_figures(as_figures(cell.totals), want[key]["figures"])
            assert cell.totals.events == want[key]["events"]
            unpriced = cell.unpriced_input_tokens + cell.unpriced_output_tokens
            assert unpriced == want[key]["unpriced"]
            assert cell.active_days == len(want[key]["days"])
    want = every_row(db, TREND)
    per_tool: dict[tuple[int, str], Figures] = defaultdict(Figures)
    people: dict[int, set[int]] = defaultdict(set)
    without_cost: dict[tuple[int, str], int] = defaultdict(int)
    for (person, span, tool), cell in want.items():
        per_tool[(span, tool)] += cell["figures"]
        people[span].add(person)
        without_cost[(span, tool)] += not cell["priced"]
    sums, counts = span_sums(db, TREND)
    assert {(s.span, s.tool) for s in sums} == set(per_tool)
    for row in sums:
        assert_same_figures(as_figures(row.totals), per_tool[(row.span, row.tool)])
        assert row.people_without_cost == without_cost[(row.span, row.tool)]
    assert counts == {span: len(who) for span, who in people.items()}
    assert active_by_span(db, TREND) == {span: frozenset(who) for span, who in people.items()}
    with db.read() as conn:  # read from the weekly rollup, all of it summed now
        assert conn.scalar(select(func.count()).select_from(WeeklyRow)) > 0
        marked = select(func.count()).where(WeeklyStaleRow.day.between(TREND[0][0], QUARTER[1]))
        assert conn.scalar(marked) == 0
    # The award job's read of a row per person-week, kept by the same re-sum.
    for first, _ in (TREND[-1], TREND[-5]):
        assert_same_as_daily(db, Week(first))


def requests_of(db, person: str, spans=TREND) -> int:
    """One person's requests over `spans`, as the weekly rollup gives them."""
    with db.read() as conn:
        pid = conn.scalar(select(PersonRow.id).where(PersonRow.slack_user_id == person))
    return sum(c.totals.requests for c in usage_cells(db, spans) if c.person_id == pid)

"""The org view's and grouped reports' faster reads give exactly what the plain reads gave:
who was active each week (read from the index alone) against every row joined to its
person, and the org view warmed up at start against one read when first asked."""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

import bot.slack.org_service as org_service
from bot.cli.group_report import week_spans
from bot.slack.answers import OrgShown, Viewer
from bot.slack.org_service import OrgService, trend_weeks
from jobs.weeks import current_week
from storage.bulk import upsert_daily
from storage.events import rollup
from storage.figures import REPORTED
from storage.models import DailyRow, IdentityRow
from storage.org import active_by_span
from storage.people import resolve_identities
from storage.teams import replace_teams


def seed(db, now: datetime, people: int = 40, days: int = 120) -> None:
    """Random usage: some people with a second identity (a vendor login linked to them),
    some identities linked to nobody, two tools, days over several months."""
    rng = random.Random(7)
    with db.write() as conn:
        keys = [("slack", f"U{n:03d}") for n in range(people)]
        keys += [("email", f"x{n}@example.com") for n in range(people // 4)]  # nobody's
        ids = resolve_identities(conn, keys, now)
        # A second identity for every fifth person, linked to them.
        logins = resolve_identities(conn, [("copilot", f"c{n}") for n in range(0, people, 5)], now)
        person_of = dict(
            conn.execute(select(IdentityRow.id, IdentityRow.person_id)).all()  # type: ignore[arg-type]
        )
        for n in range(0, people, 5):
            conn.execute(
                IdentityRow.__table__.update()
                .where(IdentityRow.id == logins[("copilot", f"c{n}")])
                .values(person_id=person_of[ids[("slack", f"U{n:03d}")]])
            )
    rows = []
    today = now.date()
    for identity in [*ids.values(), *logins.values()]:
        for d in range(days):
            if rng.random() < 0.3:
                rows.append(
                    {
                        "identity_id": identity,
                        "day": today - timedelta(days=d),
                        "tool": rng.choice(["cursor", "copilot"]),
                        "kind": "chat",
                        **dict.fromkeys(REPORTED),  # nobody reported these figures
                        "requests": rng.randint(0, 9),
                        "input_tokens": 1,
                        "output_tokens": 1,
                    }
                )
    with db.write() as conn:
        upsert_daily(conn, rollup(rows, "seed"), replace=False)


def every_row(db, spans) -> dict[int, frozenset[int]]:
    """The plain read: every daily row, joined to its person, in whichever span it falls."""
    found: dict[int, set[int]] = defaultdict(set)
    with db.read() as conn:
        rows = conn.execute(
            select(IdentityRow.person_id, DailyRow.day)
            .join(IdentityRow, IdentityRow.id == DailyRow.identity_id)
            .where(IdentityRow.person_id.is_not(None))
        ).all()
    for person, day in rows:
        for index, (start, end) in enumerate(spans):
            if start <= day <= end:
                found[index].add(person)
    return {index: frozenset(people) for index, people in found.items()}


@pytest.mark.parametrize(
    "spans",
    [
        pytest.param("trend", id="the org view's 12 weeks"),
        pytest.param("quarter", id="a report's weeks, the period starting mid-week"),
        pytest.param("uneven", id="spans that are not weeks"),
        pytest.param("future", id="weeks with no usage at all"),
    ],
)
def test_who_was_active_each_week_is_what_every_row_says(db, now, spans):
    seed(db, now)
    chosen = {
        "trend": [(w.start, w.end) for w in trend_weeks(current_week(now, db.tz))],
        "quarter": week_spans(date(2026, 8, 19), date(2026, 11, 15)),
        "uneven": [(date(2026, 9, 1), date(2026, 9, 3)), (date(2026, 9, 4), date(2026, 10, 30))],
        "future": week_spans(date(2027, 1, 4), date(2027, 1, 24)),
    }[spans]
    found = active_by_span(db, chosen)
    assert found == every_row(db, chosen)
    assert spans == "future" or sum(len(people) for people in found.values()) > 50


def test_a_warmed_up_view_is_the_one_a_first_read_gives_and_reads_once(services, now, monkeypatch):
    seed(services.db, now)
    replace_teams(
        services.db,
        "csv",
        {"even": [("slack", f"U{n:03d}") for n in range(0, 40, 2)],
         "odd": [("slack", f"U{n:03d}") for n in range(1, 40, 2)]},
        now,
    )  # fmt: skip
    viewer = Viewer("UOWNER", 0, ZoneInfo("UTC"), False, is_workspace_admin=True)
    reads = []
    plain_read = org_service.span_sums

    def counted(*args, **kwargs):
        reads.append(args)
        return plain_read(*args, **kwargs)

    monkeypatch.setattr(org_service, "span_sums", counted)
    cold = OrgService(services).answer(viewer, None)
    assert len(reads) == 1

    warmed = OrgService(services)
    warmed.warm_up()
    shown = warmed.answer(viewer, None)
    assert len(reads) == 2  # the warm-up's read answered; the ask read nothing more
    assert isinstance(shown, OrgShown) and isinstance(cold, OrgShown)
    assert shown.view == cold.view
    assert warmed.answer(viewer, "even").view == OrgService(services).answer(viewer, "even").view

"""The weekly rollup the org view and grouped reports read stays what summing every daily
row gives, after each way the daily rows change once a week was summed: a late event, a
vendor report replacing a day, a link, a forget, retention, and a change of time zone.
Driven through the real doors (the events API, `aiusage import`, `people link|forget`,
`db prune`), on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from starlette.testclient import TestClient

from bot.cli.main import main
from bot.composition import build_services, create_http_app
from bot.settings import load_settings
from storage.bulk import upsert_daily
from storage.figures import NAMES
from storage.models import (
    DailyRow,
    IdentityRow,
    PersonRow,
    PersonWeekRow,
    WeeklyRow,
    WeeklyStaleRow,
)
from storage.org import span_sums, usage_cells
from storage.people import link_email, resolve_identities
from tests.builders import event
from tests.org_weekly_helpers import (
    PEOPLE,
    TREND,
    WEEK,
    assert_reads_match_every_row,
    at,
    cli,
    cursor_report,
    push,
    requests_of,
)


def test_the_weekly_rollup_stays_what_the_daily_rows_say(
    slack, api_key, db, now, tmp_path, monkeypatch
):
    for name in PEOPLE:
        link_email(db, f"{name}@example.com", f"U{name.upper()}", now)
    # Eleven weeks of pushed events, two tools, costs that are exact in binary.
    batch = [
        event(
            user={"slack_user_id": f"U{name.upper()}"},
            occurred_at=at(WEEK - timedelta(days=d)),
            tool=("cursor", "claude-code")[(i + d) % 2],
            requests=1 + (i + d) % 3,
            cost_usd=0.25 if (i + d) % 4 else None,
        )
        for i, name in enumerate(PEOPLE)
        for d in range(-2, 75, 3)
    ]
    push(slack.http, api_key, *batch)
    assert_reads_match_every_row(db)

    # A late event lands in a week summed and clean since.
    late = WEEK - timedelta(days=34)  # onto a day, tool and kind of hers with events already
    before = requests_of(db, "UALICE")
    push(slack.http, api_key, event(occurred_at=at(late), tool="cursor", requests=40))
    assert requests_of(db, "UALICE") == before + 40
    assert_reads_match_every_row(db)

    # A vendor's report of a past day, then a corrected one that replaces it.
    report = tmp_path / "cursor.json"
    day = WEEK - timedelta(weeks=3, days=-1)
    cursor_report(report, [(day, "alice", 100), (day, "bob", 7)])
    cli("import", "cursor", report)
    assert_reads_match_every_row(db)
    with_report = requests_of(db, "UALICE")
    cursor_report(report, [(day, "alice", 1), (day, "bob", 7)])
    cli("import", "cursor", report)
    assert requests_of(db, "UALICE") == with_report - 99
    assert_reads_match_every_row(db)

    # An identity with usage of its own is linked to a person: its weeks move to them.
    push(
        slack.http,
        api_key,
        event(user={"email": "gina@example.com"}, occurred_at=at(WEEK - timedelta(weeks=8))),
    )
    assert_reads_match_every_row(db)
    cli("people", "link", "gina@example.com", "UCAROL")
    assert_reads_match_every_row(db)

    # Forget: the person's weekly sums go with their daily rows.
    with db.read() as conn:
        bob = conn.scalar(select(PersonRow.id).where(PersonRow.slack_user_id == "UBOB"))
    cli("people", "forget", "UBOB")
    with db.read() as conn:  # at once, not at the next read of those weeks
        assert conn.scalar(select(func.count()).where(WeeklyRow.person_id == bob)) == 0
        assert conn.scalar(select(func.count()).where(PersonWeekRow.person_id == bob)) == 0
    assert_reads_match_every_row(db)

    # Retention: days before the cutoff go, and so do the weeks wholly before it; the week
    # it splits is summed again from the days left.
    monkeypatch.setenv("AIUSAGE_ROLLUP_RETENTION_DAYS", "60")
    monkeypatch.setenv("AIUSAGE_RAW_RETENTION_DAYS", "30")
    cli("db", "prune")
    with db.read() as conn:  # at once, not at the next read of those weeks
        oldest_day = conn.scalar(select(func.min(DailyRow.day)))
        oldest_week = conn.scalar(select(func.min(WeeklyRow.week)))
        oldest_person_week = conn.scalar(select(func.min(PersonWeekRow.week)))
    assert oldest_day > TREND[0][0] + timedelta(weeks=2)
    assert oldest_week >= oldest_day - timedelta(days=oldest_day.weekday())
    assert oldest_person_week >= oldest_day - timedelta(days=oldest_day.weekday())
    assert_reads_match_every_row(db)

    # A change of time zone: new events fall on the new zone's days, and weeks are weeks of
    # those days, so the weekly sums need no rebuild; the reads still match every row.
    monkeypatch.setenv("AIUSAGE_TIMEZONE", "Pacific/Kiritimati")  # UTC+14
    assert main(["db", "upgrade", "--change-timezone"]) == 0
    kiritimati = build_services(load_settings())
    sunday_utc = at(WEEK - timedelta(days=1), hour=13)  # already Monday in Kiritimati
    before = requests_of(kiritimati.db, "UDAN", TREND[-1:])
    with TestClient(create_http_app(kiritimati)) as http:
        push(http, api_key, event(user={"slack_user_id": "UDAN"}, occurred_at=sunday_utc))
    assert requests_of(kiritimati.db, "UDAN", TREND[-1:]) == before + 1  # counted this week
    assert_reads_match_every_row(kiritimati.db)
    kiritimati.db.dispose()


def test_the_weekly_sums_apply_the_one_source_rule_to_tokens_and_prices(db, now):
    """The corners of the rule the weekly re-sum applies on its own: a report carrying
    tokens but no cost, one carrying a cost but no tokens, and events alone."""
    people = {name: link_email(db, f"{name}@example.com", f"U{name.upper()}", now) for name in
              ("alice", "bob", "carol")}  # fmt: skip
    with db.write() as conn:
        ids = resolve_identities(conn, [("email", f"{n}@example.com") for n in people], now)

    def row(name: str, origin: str, **figures: Any) -> dict[str, Any]:
        return {
            **dict.fromkeys(NAMES),
            "identity_id": ids[("email", f"{name}@example.com")],
            "day": WEEK + timedelta(days=1),
            "tool": "claude-code",
            "kind": "agent",
            "origin": origin,
            "requests": 0,
            "input_tokens": 0,
            "output_tokens": 0,
            "events": 1,
            **figures,
        }

    with db.write() as conn:
        upsert_daily(
            conn,
            [
                row("alice", "events", requests=2, input_tokens=100, output_tokens=50),
                row("alice", "import:x", input_tokens=1000),  # tokens, no cost
                row("bob", "events", requests=1, input_tokens=100, output_tokens=50),
                row("bob", "import:x", cost_usd=2.0),  # a cost, no tokens
                row("carol", "events", requests=1, input_tokens=7, output_tokens=3),
            ],
            replace=True,
        )
    unpriced = {
        c.person_id: c.unpriced_input_tokens + c.unpriced_output_tokens
        for c in usage_cells(db, TREND[-1:])
    }
    # alice: the report's 1000 and the events' 50 out (their 100 in lost to the report);
    # bob: the report's cost prices the events' tokens; carol: nothing priced hers
    assert unpriced == {people["alice"]: 1050, people["bob"]: 0, people["carol"]: 10}
    [sums], _ = span_sums(db, TREND[-1:])
    assert sums.people_without_cost == 2  # alice and carol
    assert_reads_match_every_row(db)


this_week = select(WeeklyRow.person_id, WeeklyRow.requests).where(WeeklyRow.week == WEEK)


def test_marks_name_the_person_and_the_scheduled_job_re_sums_only_those_people(
    slack, api_key, services, now
):
    """A change marks its day for its person alone; the five-minute job (as `serve`
    schedules it) re-sums that person's week and no one else's, and clears the marks, so a
    cold read finds nothing to sum. A mark naming no person still re-sums the whole week."""
    from bot.composition import build_scheduler

    db = services.db
    for name in ("alice", "bob"):
        link_email(db, f"{name}@example.com", f"U{name.upper()}", now)
    push(
        slack.http,
        api_key,
        *[
            event(user={"slack_user_id": f"U{name.upper()}"}, occurred_at=at(WEEK), requests=3)
            for name in ("alice", "bob")
        ],
    )
    scheduler = build_scheduler(services)
    # Its first pass through the schedule's own call (once per due time across replicas);
    # the later ones in the same five minutes call the work itself, as the next due times would.
    [scheduled] = [run for name, _, run in scheduler.planned() if name == "weekly-rollup"]
    scheduled()
    assert scheduler.weekly_job is not None
    job = scheduler.weekly_job
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(WeeklyStaleRow)) == 0
        alice, bob = (
            conn.scalar(select(PersonRow.id).where(PersonRow.slack_user_id == f"U{n}"))
            for n in ("ALICE", "BOB")
        )
    # Bob's weekly row made wrong behind the triggers' back: only a re-sum of him mends it.
    with db.write() as conn:
        conn.execute(
            WeeklyRow.__table__.update().where(WeeklyRow.person_id == bob).values(requests=999)
        )
    push(slack.http, api_key, event(occurred_at=at(WEEK + timedelta(days=1)), requests=40))
    with db.read() as conn:
        marks = conn.execute(select(WeeklyStaleRow.day, WeeklyStaleRow.person_id)).all()
    assert set(marks) == {(WEEK + timedelta(days=1), alice)}
    job()
    with db.read() as conn:
        assert conn.scalar(select(func.count()).select_from(WeeklyStaleRow)) == 0
        weekly = {row.person_id: row.requests for row in conn.execute(this_week)}
    assert weekly == {alice: 43, bob: 999}  # alice re-summed, bob's week not read again
    with db.write() as conn:  # a mark without a person (as 0130 left them): the whole week
        conn.execute(WeeklyStaleRow.__table__.insert().values(day=WEEK))
    job()
    with db.read() as conn:
        weekly = {row.person_id: row.requests for row in conn.execute(this_week)}
    assert weekly == {alice: 43, bob: 3}
    assert_reads_match_every_row(db)


def test_a_link_marks_the_days_for_the_person_left_and_the_one_joined(
    slack, api_key, services, now
):
    """Moving an identity from one person to another marks its days for both: the one it
    left loses those days' sums, the one it joined gains them, at the next re-sum."""
    db = services.db
    for name in ("alice", "bob"):
        link_email(db, f"{name}@example.com", f"U{name.upper()}", now)
    push(
        slack.http,
        api_key,
        event(user={"email": "alias@example.com"}, occurred_at=at(WEEK), requests=5),
    )
    cli("people", "link", "alias@example.com", "UALICE")
    assert requests_of(db, "UALICE", TREND[-1:]) == 5
    cli("people", "link", "alias@example.com", "UBOB")
    with db.read() as conn:
        marked = set(conn.scalars(select(WeeklyStaleRow.person_id)))
        people = set(conn.scalars(select(PersonRow.id).where(PersonRow.slack_user_id.in_(
            ["UALICE", "UBOB"]))))  # fmt: skip
    assert marked == people
    assert requests_of(db, "UALICE", TREND[-1:]) == 0
    assert requests_of(db, "UBOB", TREND[-1:]) == 5
    assert_reads_match_every_row(db)


def test_the_weekly_pass_is_scheduled_every_five_minutes_on_the_clock():
    from zoneinfo import ZoneInfo

    from jobs.schedule import WEEKLY_CRON
    from jobs.schedule.wall_clock import first_fire_at

    berlin = ZoneInfo("Europe/Berlin")
    fire = first_fire_at(WEEKLY_CRON, berlin, datetime(2026, 11, 18, 10, 1, 30, tzinfo=UTC))
    assert fire == datetime(2026, 11, 18, 10, 5, tzinfo=UTC)
    assert first_fire_at(WEEKLY_CRON, berlin, fire + timedelta(seconds=1)) - fire == timedelta(
        minutes=5
    )


def test_a_week_with_most_of_its_people_marked_is_re_summed_whole(services, now):
    """Past half of a week's people (and a hundred) marked, one pass over the whole week is
    cheaper than each person's rows, so the whole week is summed again; below, only the
    marked. Shown by a row made wrong behind the triggers' back: only a whole re-sum mends it."""
    from jobs.weekly import resum_marked_weeks

    db = services.db
    names = [f"U{n:04d}" for n in range(150)]
    with db.write() as conn:
        ids = resolve_identities(conn, [("slack", name) for name in names], now)

    def land(who: list[str], requests: int) -> None:
        rows = [
            {
                **dict.fromkeys(NAMES),
                "identity_id": ids[("slack", name)],
                "day": WEEK + timedelta(days=1),
                "tool": "cursor",
                "kind": "chat",
                "origin": "events",
                "requests": requests,
                "input_tokens": 0,
                "output_tokens": 0,
                "events": 1,
            }
            for name in who
        ]
        with db.write() as conn:
            upsert_daily(conn, rows, replace=True)

    last = ids[("slack", names[-1])]
    land(names, 1)
    assert resum_marked_weeks(db) == 1
    with db.write() as conn:
        wrong = conn.scalar(select(IdentityRow.person_id).where(IdentityRow.id == last))
        spoil = WeeklyRow.__table__.update().where(WeeklyRow.person_id == wrong)
        conn.execute(spoil.values(requests=999))
    requests = select(WeeklyRow.requests).where(WeeklyRow.person_id == wrong)
    land(names[:70], 2)  # 70 of 150: each marked person's rows alone
    resum_marked_weeks(db)
    with db.read() as conn:
        assert conn.scalar(requests) == 999
    land(names[:120], 3)  # 120 of 150: the whole week
    resum_marked_weeks(db)
    with db.read() as conn:
        assert conn.scalar(requests) == 1
    assert_reads_match_every_row(db)
